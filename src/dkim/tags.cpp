#include "dkim/tags.h"

#include <algorithm>

namespace tern::dkim {
namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// tag-name = ALPHA *ALNUMPUNC; ALNUMPUNC = ALPHA / DIGIT / "_"
bool valid_tag_name(std::string_view name) {
  if (name.empty() || !is_alpha(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '_'; });
}

// VALCHAR is %x21-3A / %x3C-7E; octets above 0x7e are let through for the
// UTF-8 that RFC 8616 allows in some values. Controls other than FWS are not.
bool valid_tag_value(std::string_view value) {
  return std::none_of(value.begin(), value.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && !is_fws(c)) || u == 0x7f;
  });
}

}  // namespace

std::string_view trim_fws(std::string_view text) {
  while (!text.empty() && is_fws(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_fws(text.back())) text.remove_suffix(1);
  return text;
}

std::optional<std::vector<Tag>> parse_tag_list(std::string_view text) {
  std::vector<Tag> tags;
  while (true) {
    auto end = text.find(';');
    auto spec = text.substr(0, end);
    bool last = end == std::string_view::npos;
    // tag-list = tag-spec *( ";" tag-spec ) [ ";" ]: only the spec after a
    // final ";" may be empty (and so may a whole empty list).
    if (last && trim_fws(spec).empty() && (!tags.empty() || text.size() == spec.size())) break;
    auto eq = spec.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    Tag tag{trim_fws(spec.substr(0, eq)), trim_fws(spec.substr(eq + 1))};
    if (!valid_tag_name(tag.name) || !valid_tag_value(tag.value)) return std::nullopt;
    tags.push_back(tag);
    if (last) break;
    text.remove_prefix(end + 1);
  }
  // Duplicates found by sorting: a long list must not cost quadratic time.
  std::vector<std::string_view> names;
  names.reserve(tags.size());
  for (const auto& tag : tags) names.push_back(tag.name);
  std::sort(names.begin(), names.end());
  if (std::adjacent_find(names.begin(), names.end()) != names.end()) return std::nullopt;
  return tags;
}

std::optional<std::string_view> find_tag(const std::vector<Tag>& tags, std::string_view name) {
  for (const auto& tag : tags) {
    if (tag.name == name) return tag.value;  // RFC 6376 3.2: tag names are case-sensitive
  }
  return std::nullopt;
}

std::string remove_whitespace(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (!is_fws(c)) out += c;
  }
  return out;
}

std::vector<std::string_view> split_colon_list(std::string_view value) {
  std::vector<std::string_view> items;
  while (true) {
    auto end = value.find(':');
    auto item = trim_fws(value.substr(0, end));
    if (!item.empty()) items.push_back(item);
    if (end == std::string_view::npos) break;
    value.remove_prefix(end + 1);
  }
  return items;
}

}  // namespace tern::dkim
