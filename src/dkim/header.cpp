#include "dkim/header.h"

#include "base/text.h"

namespace tern::dkim {

std::size_t HeaderSection::feed(std::string_view chunk) {
  if (complete_) return 0;
  std::size_t i = 0;
  // state_: 0 none, 1 CR, 2 CRLF (a line start), 3 CRLF CR. A line start
  // followed by CRLF is the empty line that ends the section.
  while (i < chunk.size() && !complete_) {
    char c = chunk[i++];
    if (c == '\r') {
      state_ = state_ == 2 ? 3 : 1;
    } else if (c == '\n' && state_ == 3) {
      complete_ = true;
    } else {
      state_ = (c == '\n' && state_ == 1) ? 2 : 0;
    }
  }
  if (!overflowed_) {
    if (text_.size() + i > max_bytes_) {
      overflowed_ = true;
      text_ = std::string();
    } else {
      text_.append(chunk.substr(0, i));
    }
  }
  if (complete_) split();
  return i;
}

void HeaderSection::finish() {
  if (complete_) return;
  complete_ = true;
  split();
}

void HeaderSection::split() {
  if (overflowed_) return;
  std::string_view text = text_;
  std::size_t at = 0;
  while (at < text.size()) {
    auto end = text.find("\r\n", at);
    auto line = text.substr(at, end == std::string_view::npos ? std::string_view::npos : end + 2 - at);
    if (line == "\r\n") break;  // the empty line ending the section
    if (!spans_.empty() && (line[0] == ' ' || line[0] == '\t')) {
      spans_.back().size += line.size();  // a continuation line (RFC 5322 2.2.3)
    } else {
      auto name = line.substr(0, line.find(':'));
      if (name.size() == line.size()) name = {};  // no colon: not a field, never picked
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
      spans_.push_back({at, line.size(), name.size()});
    }
    at += line.size();
  }
}

std::vector<HeaderField> HeaderSection::fields() const {
  std::vector<HeaderField> fields;
  fields.reserve(spans_.size());
  std::string_view text = text_;
  for (const auto& span : spans_) {
    fields.push_back({text.substr(span.offset, span.name_size), text.substr(span.offset, span.size)});
  }
  return fields;
}

HeaderPicker::HeaderPicker(const std::vector<HeaderField>& fields) : fields_(fields) {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (!fields[i].name.empty()) by_name_[to_lower(fields[i].name)].fields.push_back(i);
  }
}

std::string_view HeaderPicker::pick(std::string_view name) {
  auto found = by_name_.find(to_lower(name));
  if (found == by_name_.end()) return {};
  auto& instances = found->second;
  if (instances.taken == instances.fields.size()) return {};
  ++instances.taken;
  return fields_[instances.fields[instances.fields.size() - instances.taken]].text;
}

}  // namespace tern::dkim
