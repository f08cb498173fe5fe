#include "proto/address.h"

#include <arpa/inet.h>

#include <cctype>

#include "base/text.h"

namespace tern::proto {
namespace {

Error syntax(std::string detail) {
  return Error{501, "5.1.3", "Bad recipient address syntax", std::move(detail)};
}

bool is_utf8_octet(unsigned char c) { return c >= 0x80; }

// RFC 5322 3.2.3 atext, plus UTF8-non-ascii under RFC 6531 3.3.
bool is_atext(unsigned char c, bool utf8) {
  if (std::isalnum(c)) return true;
  if (utf8 && is_utf8_octet(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
    case '+': case '-': case '/': case '=': case '?': case '^': case '_':
    case '`': case '{': case '|': case '}': case '~':
      return true;
    default:
      return false;
  }
}

// Dot-string = Atom *("." Atom)
bool is_dot_string(std::string_view s, bool utf8) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char previous = 0;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (ch == '.') {
      if (previous == '.') return false;
    } else if (!is_atext(c, utf8)) {
      return false;
    }
    previous = ch;
  }
  return true;
}

// Quoted-string = DQUOTE *QcontentSMTP DQUOTE. Returns the length consumed
// (including both quotes) or 0 when malformed.
std::size_t quoted_string_length(std::string_view s, bool utf8) {
  if (s.empty() || s[0] != '"') return 0;
  for (std::size_t i = 1; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"') return i + 1;
    if (c == '\\') {
      // quoted-pairSMTP = %d92 %d32-126
      if (i + 1 >= s.size()) return 0;
      auto next = static_cast<unsigned char>(s[i + 1]);
      if (next < 32 || next > 126) return 0;
      ++i;
    } else if (!((c >= 32 && c <= 126) || (utf8 && is_utf8_octet(c)))) {
      return 0;  // qtextSMTP: %d32-33 / %d35-91 / %d93-126
    }
  }
  return 0;
}

bool is_let_dig(unsigned char c, bool utf8) {
  return std::isalnum(c) || (utf8 && is_utf8_octet(c));
}

bool is_sub_domain(std::string_view label, bool utf8) {
  if (label.empty() || label.size() > 63) return false;
  auto front = static_cast<unsigned char>(label.front());
  auto back = static_cast<unsigned char>(label.back());
  if (!is_let_dig(front, utf8) || !is_let_dig(back, utf8)) return false;
  for (char ch : label) {
    auto c = static_cast<unsigned char>(ch);
    if (!is_let_dig(c, utf8) && c != '-') return false;
  }
  return true;
}

bool is_ipv4(std::string_view s) {
  // Snum = 1*3DIGIT ; representing a decimal integer value in the range 0 through 255
  int parts = 0;
  std::size_t i = 0;
  while (i <= s.size()) {
    std::size_t start = i;
    int value = 0;
    // At most 4 digits are read: enough to see that a number is too long,
    // never enough to overflow (found by fuzz/fuzz_address).
    while (i < s.size() && i - start < 4 && std::isdigit(static_cast<unsigned char>(s[i]))) {
      value = value * 10 + (s[i] - '0');
      ++i;
    }
    std::size_t digits = i - start;
    if (digits == 0 || digits > 3 || value > 255) return false;
    ++parts;
    if (i == s.size()) break;
    if (s[i] != '.') return false;
    ++i;
  }
  return parts == 4;
}

bool is_ipv6(std::string_view s) {
  if (s.size() >= INET6_ADDRSTRLEN) return false;
  std::string copy(s);
  in6_addr addr{};
  return inet_pton(AF_INET6, copy.c_str(), &addr) == 1;
}

// address-literal = "[" ( IPv4 / "IPv6:" IPv6 / General-address-literal ) "]"
bool is_address_literal(std::string_view s) {
  if (s.size() < 3 || s.front() != '[' || s.back() != ']') return false;
  auto inner = s.substr(1, s.size() - 2);
  if (is_ipv4(inner)) return true;
  auto colon = inner.find(':');
  if (colon == std::string_view::npos) return false;
  auto tag = inner.substr(0, colon);
  auto content = inner.substr(colon + 1);
  if (iequals(tag, "IPv6")) return is_ipv6(content);
  // General-address-literal = Standardized-tag ":" 1*dcontent. The tag is an
  // Ldh-str registered with IANA; all such tags start with a letter, which
  // also keeps "[2001:db8::1]" (IPv6 without its tag) out.
  if (!is_sub_domain(tag, false) || !std::isalpha(static_cast<unsigned char>(tag[0])) || content.empty())
    return false;
  for (char ch : content) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']') return false;
  }
  return true;
}

bool is_domain_or_literal(std::string_view s, bool utf8) {
  if (s.size() > kMaxDomain) return false;
  if (!s.empty() && s.front() == '[') return is_address_literal(s);
  return is_domain(s, utf8);
}

// A-d-l = At-domain *( "," At-domain ) ; At-domain = "@" Domain.
// Source routes are accepted and ignored (RFC 5321 4.1.1.3, C.).
bool is_source_route(std::string_view s) {
  std::size_t start = 0;
  while (true) {
    auto comma = s.find(',', start);
    auto hop = s.substr(start, comma == std::string_view::npos ? s.npos : comma - start);
    if (hop.size() < 2 || hop[0] != '@' || !is_domain(hop.substr(1), false)) return false;
    if (comma == std::string_view::npos) return true;
    start = comma + 1;
  }
}

bool has_8bit(std::string_view s) {
  for (char ch : s) {
    if (is_utf8_octet(static_cast<unsigned char>(ch))) return true;
  }
  return false;
}

Result<Mailbox> parse_mailbox(std::string_view s, bool utf8) {
  Mailbox mailbox;
  std::size_t local_end;
  if (!s.empty() && s[0] == '"') {
    local_end = quoted_string_length(s, utf8);
    if (local_end == 0) return syntax("malformed quoted local part");
  } else {
    local_end = s.find('@');
    if (local_end == std::string_view::npos) return syntax("no @ in mailbox");
    if (!is_dot_string(s.substr(0, local_end), utf8)) return syntax("malformed local part");
  }
  if (local_end > kMaxLocalPart) return syntax("local part longer than 64 octets");
  if (local_end >= s.size() || s[local_end] != '@') return syntax("no @ after local part");
  auto domain = s.substr(local_end + 1);
  if (domain.size() > kMaxDomain) return syntax("domain longer than 255 octets");
  if (!is_domain_or_literal(domain, utf8)) return syntax("malformed domain");
  mailbox.local_part = std::string(s.substr(0, local_end));
  mailbox.domain = std::string(domain);
  return mailbox;
}

}  // namespace

std::string Mailbox::to_string() const {
  if (domain.empty()) return local_part;
  return local_part + "@" + domain;
}

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t extra;
    std::uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if (c >= 0xC2 && c <= 0xDF) { extra = 1; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { extra = 2; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { extra = 3; cp = c & 0x07; }
    else return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      if (i + k >= text.size()) return false;
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += extra + 1;
  }
  return true;
}

bool is_domain(std::string_view text, bool utf8) {
  if (text.empty() || text.size() > kMaxDomain) return false;
  std::size_t start = 0;
  while (true) {
    auto dot = text.find('.', start);
    auto label = text.substr(start, dot == std::string_view::npos ? text.npos : dot - start);
    if (!is_sub_domain(label, utf8)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::string unquote_local_part(std::string_view local_part) {
  if (local_part.size() < 2 || local_part.front() != '"') return std::string(local_part);
  std::string out;
  for (std::size_t i = 1; i + 1 < local_part.size(); ++i) {
    if (local_part[i] == '\\' && i + 2 < local_part.size()) ++i;
    out += local_part[i];
  }
  return out;
}

Result<ParsedPath> parse_path(std::string_view text, PathOptions options) {
  if (text.empty() || text[0] != '<') return syntax("path does not start with <");
  // Find the closing ">" outside any quoted string.
  std::size_t close = std::string_view::npos;
  bool quoted = false;
  for (std::size_t i = 1; i < text.size(); ++i) {
    if (quoted && text[i] == '\\') { ++i; continue; }
    if (text[i] == '"') quoted = !quoted;
    if (!quoted && text[i] == '>') { close = i; break; }
  }
  if (close == std::string_view::npos) return syntax("path does not end with >");
  ParsedPath parsed;
  parsed.rest = text.substr(close + 1);
  if (close + 1 > kMaxPath) return syntax("path longer than 256 octets");
  auto inner = text.substr(1, close - 1);
  if (has_8bit(inner)) {
    if (!options.smtputf8) {
      return Error{553, "5.6.7", "UTF-8 address needs SMTPUTF8", "8-bit octets without SMTPUTF8"};
    }
    if (!is_valid_utf8(inner)) return syntax("invalid UTF-8 in path");
  }
  if (inner.empty()) {
    if (!options.reverse_path) return syntax("null path not allowed here");
    parsed.path.null = true;
    return parsed;
  }
  if (options.forward_path && iequals(inner, "postmaster")) {
    parsed.path.mailbox.local_part = std::string(inner);
    return parsed;
  }
  if (inner[0] == '@') {
    auto colon = inner.find(':');
    if (colon == std::string_view::npos || !is_source_route(inner.substr(0, colon)))
      return syntax("malformed source route");
    inner = inner.substr(colon + 1);
  }
  auto mailbox = parse_mailbox(inner, options.smtputf8);
  if (!mailbox) return mailbox.error();
  parsed.path.mailbox = std::move(mailbox.value());
  return parsed;
}

}  // namespace tern::proto
