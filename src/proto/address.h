#pragma once
// Reverse-path and forward-path parsing, RFC 5321 4.1.2 with the RFC 6531
// (SMTPUTF8) extensions, and the size limits of RFC 5321 4.5.3.1.
#include <string>
#include <string_view>

#include "base/result.h"

namespace tern::proto {

// RFC 5321 4.5.3.1.1-3: limits in octets.
inline constexpr std::size_t kMaxLocalPart = 64;
inline constexpr std::size_t kMaxDomain = 255;
inline constexpr std::size_t kMaxPath = 256;  // including "<" and ">"

struct Mailbox {
  std::string local_part;  // as written: quotes and backslashes kept
  std::string domain;      // empty only for "<Postmaster>"; literals keep "[...]"

  std::string to_string() const;  // "local@domain" (or "Postmaster")
};

struct Path {
  bool null = false;  // "<>" (reverse-path only)
  Mailbox mailbox;
};

struct PathOptions {
  bool smtputf8 = false;        // RFC 6531: UTF-8 allowed in local part and domain
  bool reverse_path = false;    // "<>" allowed
  bool forward_path = false;    // bare "<Postmaster>" allowed
};

struct ParsedPath {
  Path path;
  std::string_view rest;  // what follows ">" (ESMTP parameters)
};

// Parses "<...>" at the start of `text`. Errors are 501 5.1.3 (syntax) or
// 553 5.6.7 (UTF-8 without SMTPUTF8).
Result<ParsedPath> parse_path(std::string_view text, PathOptions options);

// The local part without quoting, RFC 5321 4.1.2 Quoted-string: `"a\"b"` → `a"b`.
std::string unquote_local_part(std::string_view local_part);

// RFC 5321 4.1.2 Domain (letters, digits, hyphens; labels of 1..63 octets).
// With `utf8`, U-labels are allowed too (RFC 6531 3.3).
bool is_domain(std::string_view text, bool utf8);

// True when `text` is valid UTF-8 (no overlongs, no surrogates).
bool is_valid_utf8(std::string_view text);

}  // namespace tern::proto
