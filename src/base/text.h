#pragma once
// Small ASCII text helpers shared by the parsers. SMTP keywords are
// case-insensitive ASCII (RFC 5321 2.4); these never look at locale.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tern {

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

inline bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

// No octet above 0x7f: no UTF-8 (RFC 6531 needs SMTPUTF8 only for that).
inline bool is_ascii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// FNV-1a, 32 bits: a checksum that finds torn or foreign bytes in tern's
// own files (state records, the queue file's added header fields).
inline std::uint32_t fnv1a(std::string_view text) {
  std::uint32_t hash = 2166136261u;
  for (unsigned char c : text) hash = (hash ^ c) * 16777619u;
  return hash;
}

inline std::string to_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

// Parses a decimal number of at most 20 digits with nothing else around it.
inline std::optional<std::uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

// Calls `each(line, number)` for every line of `text` (without its LF),
// numbered from 1, until it returns false. Returns false if stopped.
template <class F>
bool for_each_line(std::string_view text, F&& each) {
  for (std::size_t number = 1; !text.empty(); ++number) {
    auto end = text.find('\n');
    auto line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (!each(line, number)) return false;
  }
  return true;
}

}  // namespace tern
