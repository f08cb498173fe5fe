#include "proto/header_filter.h"

#include <utility>

#include "base/text.h"

namespace tern::proto {
namespace {

// RFC 5322 3.6.8: a field name is printable US-ASCII except ":". Longer
// names than this do not occur, and bound what is held back.
constexpr std::size_t kMaxFieldName = 76;

bool is_ftext(char c) { return c >= 33 && c <= 126 && c != ':'; }
bool is_wsp(char c) { return c == ' ' || c == '\t'; }

}  // namespace

HeaderFilter::HeaderFilter(std::vector<std::string> names, Drop drop) : names_(std::move(names)), drop_(std::move(drop)) {}

bool HeaderFilter::watched(std::string_view name) const {
  // RFC 5322 4.5.3 (obsolete syntax): spaces may come before the colon.
  while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
  for (const auto& n : names_) {
    if (iequals(name, n)) return true;
  }
  return false;
}

void HeaderFilter::feed(std::string_view content, std::string& out) {
  std::size_t i = 0;
  while (i < content.size()) {
    char c = content[i];
    switch (mode_) {
      case Mode::kBody:
        out.append(content.substr(i));
        return;
      case Mode::kPass:
      case Mode::kHold:
      case Mode::kDrop: {
        auto lf = content.find('\n', i);
        auto end = lf == std::string_view::npos ? content.size() : lf + 1;
        auto piece = content.substr(i, end - i);
        if (mode_ == Mode::kPass) out.append(piece);
        if (mode_ == Mode::kHold) held_.append(piece);
        i = end;
        if (mode_ == Mode::kHold && held_.size() > kMaxHeldField) {
          decide(out, Mode::kPass);  // the rest of its lines follow the verdict
          if (mode_ == Mode::kDrop) mode_ = lf == std::string_view::npos ? Mode::kDrop : Mode::kDropLineStart;
          if (mode_ == Mode::kPass && lf != std::string_view::npos) mode_ = Mode::kLineStart;
          continue;
        }
        if (lf == std::string_view::npos) continue;
        mode_ = mode_ == Mode::kPass ? Mode::kLineStart : mode_ == Mode::kHold ? Mode::kHoldLineStart : Mode::kDropLineStart;
        continue;
      }
      case Mode::kHoldLineStart:
        if (is_wsp(c)) {
          mode_ = Mode::kHold;  // a folded line of the same field (RFC 5322 2.2.3)
          continue;
        }
        decide(out, Mode::kLineStart);
        if (mode_ == Mode::kDrop) mode_ = Mode::kLineStart;
        continue;
      case Mode::kDropLineStart:
        mode_ = is_wsp(c) ? Mode::kDrop : Mode::kLineStart;
        continue;
      case Mode::kLineStart:
        i = line_start(content, i, out);
        continue;
    }
  }
}

// Reads the start of a header line until its name is known.
std::size_t HeaderFilter::line_start(std::string_view content, std::size_t i, std::string& out) {
  char c = content[i];
  if (name_.empty() && (c == '\r' || c == '\n')) {
    mode_ = Mode::kBody;  // the empty line that ends the header section
    return i;
  }
  if (name_.empty() && is_wsp(c)) {
    mode_ = Mode::kPass;  // a fold of a field that passed
    return i;
  }
  name_ += c;
  if (c == ':' && watched(std::string_view(name_).substr(0, name_.size() - 1))) {
    held_ = std::exchange(name_, {});
    mode_ = Mode::kHold;
  } else if (c == ':') {
    out += std::exchange(name_, {});  // another field: it passes
    mode_ = Mode::kPass;
  } else if ((!is_ftext(c) && !is_wsp(c)) || name_.size() > kMaxFieldName) {
    // A line that is no header field: the body began without the empty
    // line (as a mail reader would take it too).
    out += std::exchange(name_, {});
    mode_ = Mode::kBody;
  }
  return i + 1;
}

// A watched field is complete (or too long to hold further): dropped, or
// passed on. Either way the filter goes on in `keep_mode` or kDrop.
void HeaderFilter::decide(std::string& out, Mode keep_mode) {
  auto field = std::exchange(held_, {});
  if (drop_(field)) {
    ++dropped_;
    mode_ = Mode::kDrop;
    return;
  }
  out += field;
  mode_ = keep_mode;
}

void HeaderFilter::finish(std::string& out) {
  if (mode_ == Mode::kHold || mode_ == Mode::kHoldLineStart) decide(out, Mode::kBody);
  out += std::exchange(name_, {});
  mode_ = Mode::kBody;
}

}  // namespace tern::proto
