#include "spf/macro.h"

#include <algorithm>
#include <vector>

namespace tern::spf {
namespace {

constexpr std::size_t kMaxName = 253;   // RFC 7208 7.3, RFC 1035 2.3.4 in text form
constexpr std::size_t kMaxLabel = 63;   // RFC 1035 2.3.4
constexpr int kMaxKeep = 1000;          // more than any name has labels

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alphanum(char c) { return is_alpha(c) || is_digit(c); }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// RFC 7208 7.1: delimiter = "." / "-" / "+" / "," / "/" / "_" / "="
bool is_delimiter(char c) { return std::string_view(".-+,/_=").find(c) != std::string_view::npos; }

// macro-literal = %x21-24 / %x26-7E: visible characters except "%".
bool is_macro_literal(char c) { return c >= 0x21 && c <= 0x7e && c != '%'; }

// RFC 7208 7.1 macro-letter; 7.3: c, r and t are allowed only in exp text.
bool letter_allowed(char letter, MacroUse use) {
  char l = lower(letter);
  if (std::string_view("slodipvh").find(l) != std::string_view::npos) return true;
  return std::string_view("crt").find(l) != std::string_view::npos && use != MacroUse::kDomainSpec;
}

// One "%{" macro-letter transformers *delimiter "}".
struct Expand {
  char letter = 's';  // lower case
  bool escape = false;  // written in upper case: URL-escape the value (RFC 7208 7.3)
  int keep = 0;         // right-hand parts to keep; 0 = all
  bool reverse = false;
  std::string_view delimiters;
};

// Walks a macro-string, calling on_text(std::string_view) for literal text
// (and the expansions of %%, %_ and %-) and on_expand(const Expand&) for each
// macro-expand. Returns false at the first syntax error.
// last_was_expand tells whether the string ends in a macro-expand.
template <class OnText, class OnExpand>
bool scan(std::string_view s, MacroUse use, OnText&& on_text, OnExpand&& on_expand, bool* last_was_expand = nullptr) {
  bool expand_last = false;
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c != '%') {
      // RFC 7208 7.1: explain-string = *( macro-string / SP ); elsewhere no spaces.
      auto literal = [&](char x) { return is_macro_literal(x) || (x == ' ' && use == MacroUse::kExplanation); };
      std::size_t end = i;
      while (end < s.size() && literal(s[end])) ++end;
      if (end == i) return false;  // a control character, a space or non-ASCII
      on_text(s.substr(i, end - i));
      expand_last = false;
      i = end;
      continue;
    }
    if (i + 1 >= s.size()) return false;  // a lone '%' at the end (RFC 7208 7.1)
    char next = s[i + 1];
    expand_last = true;
    if (next == '%') { on_text("%"); i += 2; continue; }
    if (next == '_') { on_text(" "); i += 2; continue; }
    if (next == '-') { on_text("%20"); i += 2; continue; }
    if (next != '{' || i + 2 >= s.size()) return false;
    Expand e;
    char letter = s[i + 2];
    if (!letter_allowed(letter, use)) return false;
    e.letter = lower(letter);
    e.escape = letter != e.letter;
    std::size_t j = i + 3;
    bool digits = false;
    while (j < s.size() && is_digit(s[j])) {
      e.keep = std::min(kMaxKeep, e.keep * 10 + (s[j] - '0'));
      digits = true;
      ++j;
    }
    if (digits && e.keep == 0) return false;  // RFC 7208 7.3: the value MUST be nonzero
    if (j < s.size() && (s[j] == 'r' || s[j] == 'R')) { e.reverse = true; ++j; }
    std::size_t delimiters = j;
    while (j < s.size() && is_delimiter(s[j])) ++j;
    e.delimiters = s.substr(delimiters, j - delimiters);
    if (j >= s.size() || s[j] != '}') return false;
    on_expand(e);
    i = j + 1;
  }
  if (last_was_expand) *last_was_expand = expand_last;
  return true;
}

// RFC 7208 7.1: toplabel = ( *alphanum ALPHA *alphanum ) /
//   ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool is_toplabel(std::string_view label) {
  if (label.empty() || !is_alphanum(label.front()) || !is_alphanum(label.back())) return false;
  bool alpha = false, dash = false;
  for (char c : label) {
    if (c == '-') dash = true;
    else if (is_alpha(c)) alpha = true;
    else if (!is_digit(c)) return false;
  }
  return alpha || dash;
}

std::string_view value_of(char letter, const MacroContext& c, std::string& number) {
  switch (letter) {
    case 's': return c.sender;
    case 'l': return c.local_part;
    case 'o': return c.sender_domain;
    case 'd': return c.domain;
    case 'i': return c.ip;
    case 'p': return c.validated;
    case 'v': return c.ip_version;
    case 'h': return c.helo;
    case 'c': return c.client_ip;
    case 'r': return c.receiver;
    case 't': number = std::to_string(c.timestamp); return number;
  }
  return {};
}

// RFC 7208 7.3: split on the delimiters (default "."), reverse if asked,
// keep the rightmost `keep` parts, and join them with "." whatever split them.
std::string transform(std::string_view value, const Expand& e) {
  std::string_view delimiters = e.delimiters.empty() ? std::string_view(".") : e.delimiters;
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size() || delimiters.find(value[i]) != std::string_view::npos) {
      parts.push_back(value.substr(start, i - start));
      start = i + 1;
    }
  }
  if (e.reverse) std::reverse(parts.begin(), parts.end());
  std::size_t first = 0;
  if (e.keep > 0 && static_cast<std::size_t>(e.keep) < parts.size()) first = parts.size() - e.keep;
  std::string out;
  for (std::size_t i = first; i < parts.size(); ++i) {
    if (i > first) out += '.';
    out += parts[i];
  }
  return out;
}

// RFC 7208 7.3: upper-case macros are URL-escaped: everything outside
// RFC 3986's unreserved set becomes %XX.
void append_url_escaped(std::string& out, std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : value) {
    if (is_alphanum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      auto u = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0x0f];
    }
  }
}

// Characters a name may hold and still be handed to a resolver as text:
// no controls, no non-ASCII, no backslash (the resolver's escape character).
bool queryable_char(char c) { return c >= 0x20 && c < 0x7f && c != '\\'; }

bool valid_labels(std::string_view name, std::size_t& count) {
  count = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i < name.size() && name[i] != '.') {
      if (!queryable_char(name[i])) return false;
      continue;
    }
    std::size_t length = i - start;
    if (length == 0 || length > kMaxLabel) return false;
    ++count;
    start = i + 1;
  }
  return true;
}

}  // namespace

bool valid_macro_string(std::string_view text, MacroUse use) {
  return scan(text, use, [](std::string_view) {}, [](const Expand&) {});
}

bool valid_domain_spec(std::string_view text) {
  bool ends_in_expand = false;
  if (text.empty()) return false;
  if (!scan(text, MacroUse::kDomainSpec, [](std::string_view) {}, [](const Expand&) {}, &ends_in_expand)) {
    return false;
  }
  if (ends_in_expand) return true;
  std::string_view rest = text;
  if (rest.back() == '.') rest.remove_suffix(1);
  auto dot = rest.rfind('.');
  if (dot == std::string_view::npos) return false;  // a bare toplabel is not enough
  return is_toplabel(rest.substr(dot + 1));
}

bool uses_validated_name(std::string_view text) {
  bool uses = false;
  bool ok = scan(text, MacroUse::kExplanation, [](std::string_view) {},
                 [&](const Expand& e) { uses = uses || e.letter == 'p'; });
  return ok && uses;
}

std::optional<std::string> expand(std::string_view text, const MacroContext& context, MacroUse use) {
  std::string out;
  std::string number;
  auto on_text = [&](std::string_view literal) { out += literal; };
  auto on_expand = [&](const Expand& e) {
    std::string value = transform(value_of(e.letter, context, number), e);
    if (e.escape) append_url_escaped(out, value);
    else out += value;
  };
  if (!scan(text, use, on_text, on_expand)) return std::nullopt;
  return out;
}

std::optional<std::string> target_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  while (name.size() > kMaxName) {
    auto dot = name.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    name.remove_prefix(dot + 1);
  }
  std::size_t labels = 0;
  if (name.empty() || !valid_labels(name, labels)) return std::nullopt;
  return std::string(name);
}

bool valid_check_domain(std::string_view domain) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (domain.empty() || domain.size() > kMaxName || domain.front() == '[') return false;
  if (domain.find(' ') != std::string_view::npos) return false;
  std::size_t labels = 0;
  if (!valid_labels(domain, labels) || labels < 2) return false;
  std::string_view last = domain.substr(domain.rfind('.') + 1);
  return !std::all_of(last.begin(), last.end(), is_digit);
}

}  // namespace tern::spf
