#pragma once
// DKIM tag=value lists (RFC 6376 3.2), the syntax shared by the
// DKIM-Signature header field and the key records in DNS.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::dkim {

struct Tag {
  std::string_view name;
  std::string_view value;  // without leading and trailing whitespace; inner FWS kept
};

// The tags of `text` in order, as views into it; nullopt when it is not a
// tag-list: a tag-spec without "=", a bad tag-name, a control character in a
// value, an empty tag-spec other than after a final ";", or a duplicate name
// (RFC 6376 3.2: "the entire tag-list is invalid").
std::optional<std::vector<Tag>> parse_tag_list(std::string_view text);

// The value of tag `name`, if present.
std::optional<std::string_view> find_tag(const std::vector<Tag>& tags, std::string_view name);

// `value` without any whitespace: base64 values may be folded anywhere
// (RFC 6376 3.5 b=, bh=; 3.6.1 p=).
std::string remove_whitespace(std::string_view value);

// The items of a colon-separated list (h=, q=, key h=, s=, t=), each
// trimmed of whitespace; empty items are dropped.
std::vector<std::string_view> split_colon_list(std::string_view value);

// RFC 5234 WSP, and the CR and LF of folding whitespace.
inline bool is_fws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim_fws(std::string_view text);

}  // namespace tern::dkim
