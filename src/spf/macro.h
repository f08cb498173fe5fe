#pragma once
// SPF macros (RFC 7208 7): syntax checks and expansion as pure functions of
// a context the evaluator fills in. Also the rules for the names macros
// expand to: domain-spec syntax (7.1), target names (4.8, 7.3) and the
// domain check_host() accepts (4.3).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tern::spf {

// Where a macro-string appears; it decides what is allowed (RFC 7208 7.1).
enum class MacroUse {
  kDomainSpec,   // a domain-spec: no spaces; c, r and t are exp-only (7.3)
  kExplanation,  // the TXT text exp= points at: explain-string, spaces allowed
  kModifier,     // an unknown modifier's value: macro-string, never expanded
};

// The values of the macro letters (RFC 7208 7.3), ready to use.
struct MacroContext {
  std::string sender;         // s: <sender>, "postmaster@..." when it had no local-part
  std::string local_part;     // l
  std::string sender_domain;  // o
  std::string domain;         // d: the current <domain>
  std::string ip;             // i: dotted quad, or dotted nibbles for IPv6
  std::string validated;      // p: validated domain name of <ip>, or "unknown"
  std::string ip_version;     // v: "in-addr" or "ip6"
  std::string helo;           // h
  std::string client_ip;      // c: readable form of <ip> (exp only)
  std::string receiver;       // r: host doing the check, or "unknown" (exp only)
  std::uint64_t timestamp = 0;  // t: seconds since the epoch (exp only)
};

// True when `text` is a well-formed macro-string (or explain-string) for `use`.
bool valid_macro_string(std::string_view text, MacroUse use);

// RFC 7208 7.1: domain-spec = macro-string domain-end, where domain-end is
// "." toplabel [ "." ] or a macro-expand. Empty is not valid.
bool valid_domain_spec(std::string_view text);

// True when expanding `text` needs %{p}: the evaluator then finds the
// validated domain name first (RFC 7208 5.5 procedure, 4.6.4 limits).
bool uses_validated_name(std::string_view text);

// Expands `text`; nullopt when it is not valid for `use` (RFC 7208 7.1:
// a '%' not followed by '{', '%', '-' or '_' is a syntax error).
std::optional<std::string> expand(std::string_view text, const MacroContext& context, MacroUse use);

// An expanded domain-spec as a name to query (RFC 7208 7.3): one trailing dot
// dropped, then labels removed from the left until it is at most 253
// characters. nullopt when no query can be made from it (an empty or
// over-long label, no name left, or characters a resolver would misread):
// such a name is treated as non-existent (RFC 7208 4.3, 5).
std::optional<std::string> target_name(std::string_view expanded);

// RFC 7208 4.3: a <domain> check_host() can work on: a valid name of at least
// two labels whose last label is not all digits, and not an address literal.
bool valid_check_domain(std::string_view domain);

}  // namespace tern::spf
