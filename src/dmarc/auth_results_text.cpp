#include "dmarc/auth_results_text.h"

#include "dmarc/auth_results.h"

namespace tern::dmarc::text {
namespace {

bool is_alnum(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// RFC 2045 5.1: token = 1*<any CHAR except SPACE, CTLs, or tspecials>.
bool is_token_char(unsigned char c) {
  static constexpr std::string_view kTspecials = "()<>@,;:\\\"/[]?=";
  return c > 0x20 && c < 0x7f && kTspecials.find(static_cast<char>(c)) == std::string_view::npos;
}

// RFC 5322 3.2.3 atext.
bool is_atext(unsigned char c) {
  return is_alnum(c) || std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) != std::string_view::npos;
}

// The length of the well-formed UTF-8 character at s[i] (RFC 3629 4: no
// overlong forms, no surrogates, nothing past U+10FFFF), or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = at(i);
  std::size_t n = 0;
  unsigned char low = 0x80, high = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) low = 0xA0;
    if (c == 0xED) high = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) low = 0x90;
    if (c == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (at(i + 1) < low || at(i + 1) > high) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (at(i + k) < 0x80 || at(i + k) > 0xBF) return 0;
  }
  return n;
}

// RFC 6376 3.5 domain-name: at least two ldh labels.
bool is_domain_name(std::string_view s) {
  std::size_t labels = 0;
  while (true) {
    auto dot = s.find('.');
    std::string_view label = s.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!is_alnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    ++labels;
    if (dot == std::string_view::npos) return labels >= 2;
    s.remove_prefix(dot + 1);
  }
}

// RFC 5322 3.2.3 dot-atom-text (ASCII only here).
bool is_dot_atom(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (std::size_t k = 0; k < s.size(); ++k) {
    if (s[k] == '.' ? s[k - 1] == '.' : !is_atext(static_cast<unsigned char>(s[k]))) return false;
  }
  return true;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_token_char(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// RFC 8601 2.2 pvalue: [ [ local-part ] "@" ] domain-name.
bool is_address(std::string_view s) {
  auto at = s.rfind('@');
  if (at == std::string_view::npos) return false;
  std::string_view local = s.substr(0, at);
  return (local.empty() || is_dot_atom(local)) && is_domain_name(s.substr(at + 1));
}

}  // namespace

std::string keyword(std::string_view raw) {
  std::string out;
  for (char c : raw.substr(0, 64)) {
    if (is_alnum(static_cast<unsigned char>(c)) || c == '-') out += c;
  }
  return out;
}

std::string printable(std::string_view raw, std::size_t limit) {
  std::string out;
  std::size_t i = 0;
  while (i < raw.size()) {
    auto c = static_cast<unsigned char>(raw[i]);
    std::size_t n = c < 0x80 ? 1 : utf8_length(raw, i);
    if (out.size() + (n == 0 ? 1 : n) > limit) break;
    if (n == 0 || c < 0x20 || c == 0x7f) {
      out += '?';
      ++i;
    } else {
      out.append(raw.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string value(std::string_view raw) {
  std::string clean = printable(raw, kMaxValueLength);
  if (is_token(clean) || is_address(clean)) return clean;
  std::string out = "\"";
  for (char c : clean) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string comment(std::string_view raw) {
  std::string out = "(";
  for (char c : printable(raw, kMaxValueLength)) {
    if (c == '(' || c == ')' || c == '\\') out += '\\';
    out += c;
  }
  return out + ")";
}

bool is_id_char(unsigned char c) { return is_token_char(c) || c >= 0x80; }

std::size_t skip_cfws(std::string_view body, std::size_t i) {
  std::size_t depth = 0;  // comments nest (RFC 5322 3.2.2); counted, not recursed
  while (i < body.size()) {
    char c = body[i];
    if (depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '(') return i;
    ++i;
    if (c == '(') {
      ++depth;
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if (c == '\\' && depth > 0) {
      ++i;  // quoted-pair
    }
  }
  return depth == 0 ? body.size() : body.size() + 1;
}

bool read_quoted(std::string_view body, std::size_t& i, std::string& out) {
  for (std::size_t k = i + 1; k < body.size(); ++k) {
    char c = body[k];
    if (c == '"') {
      i = k + 1;
      return true;
    }
    if (c == '\r' || c == '\n') continue;  // unfolding (RFC 5322 2.2.3)
    if (c == '\\') {
      if (++k == body.size()) break;
      c = body[k];
    }
    out += c;
  }
  return false;
}

}  // namespace tern::dmarc::text
