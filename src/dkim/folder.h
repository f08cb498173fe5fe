#pragma once
// Lays the tags of a signature field (DKIM-Signature, ARC-Seal,
// ARC-Message-Signature) out on folded lines of at most 78 octets (RFC 5322
// 2.1.1): an atom that does not fit starts a new line.
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace tern::dkim {

class TagFolder {
 public:
  static constexpr std::size_t kLineWidth = 78;

  // `start`: the field's beginning, "DKIM-Signature:".
  explicit TagFolder(std::string_view start) : out_(start), line_(start.size()) {}

  // `atom` goes on the line after a space, or on a new line; with `space`
  // false it joins the previous atom unless the line is full.
  void add(std::string_view atom, bool space = true) {
    if (line_ + atom.size() + (space ? 1 : 0) > kLineWidth && line_ > 1) {
      out_ += "\r\n";
      line_ = 0;
      space = true;  // a continuation line starts with WSP
    }
    if (space) out_ += ' ';
    out_ += atom;
    line_ += atom.size() + (space ? 1 : 0);
  }
  void tag(std::string_view name, std::string_view value) {
    add(std::string(name) + "=" + std::string(value) + ";");
  }
  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
  std::size_t line_;
};

}  // namespace tern::dkim
