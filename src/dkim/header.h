#pragma once
// The header section of a message as it streams in: collected up to a size
// limit, then cut into header fields (RFC 5322 2.2) for signing and
// verifying. The bytes after the empty line are the body.
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tern::dkim {

struct HeaderField {
  std::string_view name;  // as written, without WSP before the colon
  std::string_view text;  // the whole field, folded lines and the final CRLF included
};

class HeaderSection {
 public:
  explicit HeaderSection(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  // Takes message bytes; returns how many of them belong to the header
  // section (the empty line included). The rest of `chunk` is body.
  std::size_t feed(std::string_view chunk);
  // The message ended: what came so far is the whole header section.
  void finish();

  bool complete() const { return complete_; }
  // More than max_bytes: nothing was kept, no field can be trusted.
  bool overflowed() const { return overflowed_; }
  // Top to bottom, as views into this object; empty unless complete() and
  // not overflowed().
  std::vector<HeaderField> fields() const;

 private:
  // Offsets rather than views, so that the object can move.
  struct Span {
    std::size_t offset, size, name_size;
  };
  void split();

  std::size_t max_bytes_;
  std::string text_;
  std::vector<Span> spans_;
  int state_ = 2;  // progress through CRLF CRLF; the message start counts as a line start
  bool complete_ = false;
  bool overflowed_ = false;
};

// Picks the instances that h= names, bottom-up (RFC 6376 5.4.2): each
// occurrence of a name takes the last instance not yet taken; a name with no
// instance left takes nothing (over-signing). Indexed by name, so a long h=
// over many fields costs linear time, not their product.
class HeaderPicker {
 public:
  explicit HeaderPicker(const std::vector<HeaderField>& fields);
  // Empty view when no instance is left.
  std::string_view pick(std::string_view name);

 private:
  struct Instances {
    std::vector<std::size_t> fields;  // top to bottom
    std::size_t taken = 0;            // from the bottom
  };
  const std::vector<HeaderField>& fields_;
  std::unordered_map<std::string, Instances> by_name_;  // lower-case names
};

}  // namespace tern::dkim
