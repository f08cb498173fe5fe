#pragma once
// An SPF record (RFC 7208 4.5, 4.6.1, 12) parsed into its terms. Pure: no
// DNS and no Asio, so it can be fuzzed. Any syntax error anywhere in the
// record is a permerror before evaluation starts (RFC 7208 4.6).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace tern::spf {

// RFC 7208 4.6.2: the result a matching mechanism gives.
enum class Qualifier : char { kPass = '+', kFail = '-', kSoftFail = '~', kNeutral = '?' };

enum class MechanismKind { kAll, kInclude, kA, kMx, kPtr, kIp4, kIp6, kExists };

struct Mechanism {
  Qualifier qualifier = Qualifier::kPass;
  MechanismKind kind = MechanismKind::kAll;
  // include, a, mx, ptr, exists: the unexpanded domain-spec (RFC 7208 4.8);
  // "" when omitted (a, mx, ptr), meaning the current <domain>.
  std::string domain_spec;
  // a, mx: the dual CIDR lengths (RFC 7208 5.3, 5.4); ip4: cidr4; ip6: cidr6.
  int cidr4 = 32;
  int cidr6 = 128;
  // ip4 (first 4 octets) and ip6: the network address, network byte order.
  std::array<std::uint8_t, 16> network{};
  std::string text;  // the term as written, for logs and Authentication-Results
};

struct Record {
  std::vector<Mechanism> mechanisms;    // in order (RFC 7208 4.6.2)
  std::optional<std::string> redirect;  // domain-spec (RFC 7208 6.1)
  std::optional<std::string> exp;       // domain-spec (RFC 7208 6.2)
  std::vector<std::string> unknown_modifiers;  // names only: ignored (RFC 7208 6)
};

// RFC 7208 4.5: a TXT record is an SPF record when it starts with "v=spf1"
// (case-insensitive) followed by a space or the end of the record.
bool is_spf_record(std::string_view text);

// Parses a whole record (it must pass is_spf_record). Errors are permerrors
// (550 5.7.24, RFC 7372 3.2); error().detail says which term and why.
tern::Result<Record> parse_record(std::string_view text);

std::string_view to_string(MechanismKind kind);

}  // namespace tern::spf
