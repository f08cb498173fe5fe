#include "spf/record.h"

#include <arpa/inet.h>

#include "base/text.h"
#include "spf/macro.h"

namespace tern::spf {
namespace {

Error permerror(std::string detail) {
  return Error{550, "5.7.24", "SPF record invalid", std::move(detail)};
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// RFC 7208 5.6: ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT), at most 32;
// ip6-cidr-length likewise with 0*2DIGIT, at most 128. No leading zeros.
bool parse_cidr(std::string_view digits, int max, int& out) {
  if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0')) return false;
  int value = 0;
  for (char c : digits) {
    if (!is_digit(c)) return false;
    value = value * 10 + (c - '0');
  }
  if (value > max) return false;
  out = value;
  return true;
}

// RFC 7208 5.6: ip4-network = qnum "." qnum "." qnum "." qnum, each 0-255
// without leading zeros; no shortened forms.
bool parse_ip4(std::string_view text, std::array<std::uint8_t, 16>& out) {
  for (int part = 0; part < 4; ++part) {
    std::size_t n = 0;
    while (n < text.size() && is_digit(text[n])) ++n;
    if (n == 0 || n > 3 || (n > 1 && text[0] == '0')) return false;
    int value = 0;
    for (std::size_t i = 0; i < n; ++i) value = value * 10 + (text[i] - '0');
    if (value > 255) return false;
    out[part] = static_cast<std::uint8_t>(value);
    text.remove_prefix(n);
    if (part < 3) {
      if (text.empty() || text[0] != '.') return false;
      text.remove_prefix(1);
    }
  }
  return text.empty();
}

// RFC 7208 5.6: ip6-network as in RFC 4291 2.2 (inet_pton takes exactly that).
bool parse_ip6(std::string_view text, std::array<std::uint8_t, 16>& out) {
  if (text.empty() || text.size() > 45) return false;
  std::string copy(text);  // inet_pton needs a terminated string
  return inet_pton(AF_INET6, copy.c_str(), out.data()) == 1;
}

// Splits a trailing dual-cidr-length ("/n", "//n" or "/n//n"; RFC 7208 5.3)
// off `text`, which may hold a domain-spec before it. Digits are checked by
// parse_cidr, so "/032" or "/33" are errors rather than part of the name.
bool split_dual_cidr(std::string_view& text, Mechanism& m) {
  auto digits_before = [&](std::size_t end) {
    std::size_t start = end;
    while (start > 0 && is_digit(text[start - 1])) --start;
    return start;
  };
  std::size_t end = text.size();
  std::size_t start = digits_before(end);
  if (start < end && start >= 2 && text.substr(start - 2, 2) == "//") {
    if (!parse_cidr(text.substr(start, end - start), 128, m.cidr6)) return false;
    end = start - 2;
    start = digits_before(end);
  }
  if (start < end && start >= 1 && text[start - 1] == '/') {
    if (!parse_cidr(text.substr(start, end - start), 32, m.cidr4)) return false;
    end = start - 1;
  }
  text = text.substr(0, end);
  return true;
}

tern::Result<void> parse_domain_spec(std::string_view spec, Mechanism& m) {
  // RFC 7208 7.1, 8.1: a domain-spec is never empty and must end in a
  // macro-expand or a toplabel; c, r and t belong to exp text only.
  if (!valid_domain_spec(spec)) return permerror("invalid domain-spec in '" + m.text + "'");
  m.domain_spec = std::string(spec);
  return {};
}

// The arguments after the mechanism name, per mechanism (RFC 7208 5.1-5.7).
tern::Result<void> parse_arguments(std::string_view rest, Mechanism& m) {
  bool colon = !rest.empty() && rest[0] == ':';
  std::string_view spec = colon ? rest.substr(1) : rest;
  switch (m.kind) {
    case MechanismKind::kAll:
      if (!rest.empty()) return permerror("'all' takes no argument: '" + m.text + "'");
      return {};
    case MechanismKind::kInclude:
    case MechanismKind::kExists:
      if (!colon) return permerror("'" + m.text + "' needs ':' and a domain-spec");
      return parse_domain_spec(spec, m);
    case MechanismKind::kPtr:
      if (rest.empty()) return {};
      if (!colon) return permerror("'ptr' takes no CIDR length: '" + m.text + "'");
      return parse_domain_spec(spec, m);
    case MechanismKind::kA:
    case MechanismKind::kMx:
      if (!split_dual_cidr(spec, m)) return permerror("invalid CIDR length in '" + m.text + "'");
      if (colon) return parse_domain_spec(spec, m);
      if (!spec.empty()) return permerror("invalid argument in '" + m.text + "'");
      return {};
    case MechanismKind::kIp4:
    case MechanismKind::kIp6: {
      bool v4 = m.kind == MechanismKind::kIp4;
      if (!colon) return permerror("'" + m.text + "' needs ':' and an address");
      auto slash = spec.find('/');
      std::string_view address = spec.substr(0, slash);
      if (slash != std::string_view::npos &&
          !parse_cidr(spec.substr(slash + 1), v4 ? 32 : 128, v4 ? m.cidr4 : m.cidr6)) {
        return permerror("invalid CIDR length in '" + m.text + "'");
      }
      bool ok = v4 ? parse_ip4(address, m.network) : parse_ip6(address, m.network);
      if (!ok) return permerror(std::string("invalid IPv") + (v4 ? "4" : "6") + " address in '" + m.text + "'");
      return {};
    }
  }
  return permerror("unknown mechanism");
}

std::optional<MechanismKind> mechanism_kind(std::string_view name) {
  static constexpr std::pair<std::string_view, MechanismKind> kNames[] = {
      {"all", MechanismKind::kAll}, {"include", MechanismKind::kInclude}, {"a", MechanismKind::kA},
      {"mx", MechanismKind::kMx},   {"ptr", MechanismKind::kPtr},         {"ip4", MechanismKind::kIp4},
      {"ip6", MechanismKind::kIp6}, {"exists", MechanismKind::kExists},
  };
  for (const auto& [text, kind] : kNames) {
    if (iequals(name, text)) return kind;  // RFC 7208 4.6.1: names are case-insensitive
  }
  return std::nullopt;
}

tern::Result<void> parse_mechanism(std::string_view term, Record& record) {
  Mechanism m;
  m.text = std::string(term);
  std::string_view rest = term;
  if (!rest.empty() && std::string_view("+-~?").find(rest[0]) != std::string_view::npos) {
    m.qualifier = static_cast<Qualifier>(rest[0]);
    rest.remove_prefix(1);
  }
  auto name_end = rest.find_first_of(":/");
  auto kind = mechanism_kind(rest.substr(0, name_end));
  if (!kind) return permerror("unknown mechanism '" + m.text + "'");
  m.kind = *kind;
  auto parsed = parse_arguments(name_end == std::string_view::npos ? "" : rest.substr(name_end), m);
  if (!parsed) return parsed.error();
  record.mechanisms.push_back(std::move(m));
  return {};
}

// RFC 7208 12: name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
bool valid_modifier_name(std::string_view name) {
  if (name.empty() || !is_alpha(name[0])) return false;
  for (char c : name) {
    if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

tern::Result<void> parse_modifier(std::string_view name, std::string_view value, Record& record) {
  std::string term = std::string(name) + "=" + std::string(value);
  if (!valid_modifier_name(name)) return permerror("invalid modifier name in '" + term + "'");
  bool redirect = iequals(name, "redirect");
  if (redirect || iequals(name, "exp")) {
    auto& slot = redirect ? record.redirect : record.exp;
    // RFC 7208 6: each at most once. 6.1, 6.2: the value is a domain-spec;
    // "exp=" with nothing is a syntax error (erratum 2 to RFC 4408's 6.2).
    if (slot) return permerror("'" + std::string(name) + "' appears twice");
    if (!valid_domain_spec(value)) return permerror("invalid domain-spec in '" + term + "'");
    slot = std::string(value);
    return {};
  }
  // RFC 7208 6: unknown modifiers are ignored, but their value must still be
  // a valid macro-string (Appendix A: unknown-modifier = name "=" macro-string).
  if (!valid_macro_string(value, MacroUse::kModifier)) return permerror("invalid macro-string in '" + term + "'");
  record.unknown_modifiers.emplace_back(name);
  return {};
}

// RFC 7208 4.6.1: a term is a modifier when a name is followed by "=" before
// any ":" or "/"; otherwise it is a directive.
tern::Result<void> parse_term(std::string_view term, Record& record) {
  auto special = term.find_first_of(":/=");
  if (special != std::string_view::npos && term[special] == '=') {
    return parse_modifier(term.substr(0, special), term.substr(special + 1), record);
  }
  return parse_mechanism(term, record);
}

}  // namespace

bool is_spf_record(std::string_view text) {
  constexpr std::string_view kVersion = "v=spf1";
  return istarts_with(text, kVersion) && (text.size() == kVersion.size() || text[kVersion.size()] == ' ');
}

tern::Result<Record> parse_record(std::string_view text) {
  if (!is_spf_record(text)) return permerror("not an SPF record (no 'v=spf1')");
  Record record;
  text.remove_prefix(6);
  // RFC 7208 4.6.1: terms are separated by one or more spaces (only 0x20:
  // a tab or line break is part of a term and makes it invalid), and 4.5
  // allows trailing spaces.
  while (!text.empty()) {
    auto start = text.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    text.remove_prefix(start);
    auto end = text.find(' ');
    auto parsed = parse_term(text.substr(0, end), record);
    if (!parsed) return parsed.error();
    text.remove_prefix(end == std::string_view::npos ? text.size() : end);
  }
  return record;
}

std::string_view to_string(MechanismKind kind) {
  switch (kind) {
    case MechanismKind::kAll: return "all";
    case MechanismKind::kInclude: return "include";
    case MechanismKind::kA: return "a";
    case MechanismKind::kMx: return "mx";
    case MechanismKind::kPtr: return "ptr";
    case MechanismKind::kIp4: return "ip4";
    case MechanismKind::kIp6: return "ip6";
    case MechanismKind::kExists: return "exists";
  }
  return "?";
}

}  // namespace tern::spf
