#include "proto/header_fixer.h"

#include <utility>

#include "base/text.h"

namespace tern::proto {
namespace {

// RFC 5322 3.6.8: a field name is printable US-ASCII except ":"; longer
// names than this do not occur in practice, and bound what is held back.
constexpr std::size_t kMaxFieldName = 76;

bool is_ftext(char c) { return c >= 33 && c <= 126 && c != ':'; }

}  // namespace

HeaderFixer::HeaderFixer(std::vector<HeaderField> add_when_missing)
    : fields_(std::move(add_when_missing)), seen_(fields_.size(), false) {}

void HeaderFixer::feed(std::string_view content, std::string& out) {
  std::size_t i = 0;
  while (i < content.size() && in_header_) {
    char c = content[i];
    if (!at_line_start_) {
      // Inside a field or a folded line: pass on up to the line end.
      auto lf = content.find('\n', i);
      auto end = lf == std::string_view::npos ? content.size() : lf + 1;
      out.append(content.substr(i, end - i));
      last_was_lf_ = lf != std::string_view::npos;
      at_line_start_ = last_was_lf_;
      i = end;
      continue;
    }
    if (pending_.empty() && (c == '\r' || c == '\n')) {
      end_header(out, false);  // the empty line that ends the header section
      break;
    }
    if (pending_.empty() && (c == ' ' || c == '\t')) {
      at_line_start_ = false;  // a folded continuation (RFC 5322 2.2.3)
      continue;
    }
    pending_ += c;
    ++i;
    if (c == ':' || !is_ftext(c) || pending_.size() > kMaxFieldName) classify_line(out);
  }
  if (i < content.size()) out.append(content.substr(i));
}

// The held-back start of a line ended in ":" (a field: note its name) or in
// an octet no field name has (the body began without an empty line).
void HeaderFixer::classify_line(std::string& out) {
  if (pending_.size() > 1 && pending_.back() == ':') {
    auto name = std::string_view(pending_).substr(0, pending_.size() - 1);
    for (std::size_t f = 0; f < fields_.size(); ++f) {
      if (iequals(name, fields_[f].name)) seen_[f] = true;
    }
    out += pending_;
    pending_.clear();
    at_line_start_ = false;
    last_was_lf_ = false;
    return;
  }
  auto held = std::exchange(pending_, {});
  end_header(out, true);
  out += held;
  last_was_lf_ = held.back() == '\n';
}

void HeaderFixer::end_header(std::string& out, bool add_blank_line) {
  in_header_ = false;
  for (std::size_t f = 0; f < fields_.size(); ++f) {
    if (!seen_[f]) out += fields_[f].name + ": " + fields_[f].value + "\r\n";
  }
  // A body that began without the empty line gets one, so that it does not
  // read as a malformed header field.
  if (add_blank_line) out += "\r\n";
}

void HeaderFixer::finish(std::string& out) {
  if (!in_header_) return;
  out += pending_;
  if (!pending_.empty()) last_was_lf_ = pending_.back() == '\n';
  pending_.clear();
  if (!last_was_lf_) out += "\r\n";
  end_header(out, false);
}

}  // namespace tern::proto
