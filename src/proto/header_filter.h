#pragma once
// Removes chosen header fields while a message streams through. RFC 8601 5:
// an Authentication-Results field that claims this host's authserv-id, in
// mail arriving here, is a forgery and is removed before delivery.
//
// Fields with other names pass on at once; a field with a watched name is
// held whole (its folded lines too, up to kMaxHeldField octets) and then
// dropped when `drop` says so. The body passes unchanged. Memory is bounded
// whatever the input.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::proto {

class HeaderFilter {
 public:
  // Asked once per watched field with the whole field: name, colon, value
  // and its folds, with the line ends as received. A field longer than
  // kMaxHeldField is decided on its first kMaxHeldField octets.
  using Drop = std::function<bool(std::string_view field)>;
  static constexpr std::size_t kMaxHeldField = 64 * 1024;

  // `names` are compared without regard to case.
  HeaderFilter(std::vector<std::string> names, Drop drop);

  // Passes `content` on into `out`, without the dropped fields. The start of
  // a line (up to its field name) and a watched field are held back until
  // they are decided; finish() flushes what is still held.
  void feed(std::string_view content, std::string& out);
  void finish(std::string& out);
  std::size_t dropped() const { return dropped_; }
  // Past the header section: what comes passes unchanged (callers may skip
  // the copy through feed()).
  bool in_body() const { return mode_ == Mode::kBody; }

 private:
  enum class Mode {
    kLineStart,      // a header line begins: its name decides
    kPass,           // the rest of a line that passes
    kHold,           // the rest of a line of a watched field
    kHoldLineStart,  // after a watched field's line: a fold continues it
    kDrop,           // the rest of a line of a dropped field
    kDropLineStart,  // after a dropped field's line: a fold is dropped too
    kBody,
  };

  std::size_t line_start(std::string_view content, std::size_t i, std::string& out);
  bool watched(std::string_view name) const;
  void decide(std::string& out, Mode keep_mode);

  std::vector<std::string> names_;
  Drop drop_;
  Mode mode_ = Mode::kLineStart;
  std::string name_;  // the start of a line, until its colon
  std::string held_;  // a watched field
  std::size_t dropped_ = 0;
};

}  // namespace tern::proto
