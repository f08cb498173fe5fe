#pragma once
// The client networks allowed to relay: `[relay] networks = ["127.0.0.0/8",
// "::1/128"]`. Mail for a non-local domain is taken only from a client in
// one of them (issue 4); everyone else gets 554 5.7.1 at RCPT, so that tern
// is never an open relay. Pure: addresses come in as text, as the server has
// them, and are parsed with inet_pton(3).
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace tern::policy {

// One CIDR block (RFC 4632 3.1; RFC 4291 2.3 for IPv6 prefixes).
struct Network {
  bool ipv6 = false;
  std::array<std::uint8_t, 16> address{};  // network order; IPv4 uses the first 4 bytes
  unsigned prefix_length = 0;              // at most 32 (IPv4) or 128 (IPv6)

  // Canonical text, "192.0.2.0/24" or "2001:db8::/32".
  std::string to_string() const;
  bool operator==(const Network&) const = default;
};

// "192.0.2.0/24", "2001:db8::/32", or a bare address ("::1" = "::1/128").
// Rejected, with an error that names the entry: a bad address, a prefix
// that is not 0..32 / 0..128 in decimal, surrounding space, brackets, an
// IPv6 zone, and host bits set past the prefix ("192.0.2.1/24"), as Postfix
// rejects them. An IPv4-mapped entry ("::ffff:192.0.2.0/120") is the IPv4
// network it names.
Result<Network> parse_network(std::string_view text);

class Networks {
 public:
  Networks() = default;  // empty: contains no client

  // Parses every entry; the first bad one is the error.
  static Result<Networks> parse(const std::vector<std::string>& entries);

  // Whether the client address `ip` ("192.0.2.1", "::1", "fe80::1%eth0")
  // is in one of the networks. An IPv4-mapped IPv6 address
  // ("::ffff:192.0.2.1", what a dual-stack socket reports for an IPv4
  // client) is matched as the IPv4 address it carries. Text that is not an
  // address is in no network.
  bool contains(const std::string& ip) const;

  bool empty() const { return networks_.empty(); }
  const std::vector<Network>& networks() const { return networks_; }

 private:
  std::vector<Network> networks_;
};

}  // namespace tern::policy
