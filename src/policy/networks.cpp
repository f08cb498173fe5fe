#include "policy/networks.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "base/text.h"

namespace tern::policy {
namespace {

// An address parsed from text, before any prefix is applied.
struct Address {
  bool ipv6 = false;
  std::array<std::uint8_t, 16> bytes{};
};

unsigned max_prefix(bool ipv6) { return ipv6 ? 128 : 32; }

// inet_pton(3) takes only what RFC 4291 2.2 and the dotted quad allow: no
// space, brackets, zone or octal-looking "010" (glibc refuses leading zeros,
// which inet_aton(3) would read as octal).
std::optional<Address> parse_address(const std::string& text) {
  Address a;
  a.ipv6 = text.find(':') != std::string::npos;
  if (inet_pton(a.ipv6 ? AF_INET6 : AF_INET, text.c_str(), a.bytes.data()) != 1) return std::nullopt;
  return a;
}

// RFC 4291 2.5.5.2: ::ffff:0:0/96 holds IPv4 addresses.
bool is_v4_mapped(const Address& a) {
  static constexpr std::uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return a.ipv6 && std::memcmp(a.bytes.data(), kPrefix, sizeof kPrefix) == 0;
}

Address unmap(const Address& a) {
  Address v4;
  std::copy(a.bytes.begin() + 12, a.bytes.end(), v4.bytes.begin());
  return v4;
}

// Whether the first `bits` bits of `a` and `b` are equal.
bool same_prefix(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b, unsigned bits) {
  unsigned whole = bits / 8;
  if (std::memcmp(a.data(), b.data(), whole) != 0) return false;
  unsigned rest = bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

std::array<std::uint8_t, 16> masked(std::array<std::uint8_t, 16> bytes, unsigned bits) {
  for (unsigned i = 0; i < bytes.size(); ++i) {
    if (bits >= 8 * (i + 1)) continue;
    unsigned keep = bits > 8 * i ? bits - 8 * i : 0;
    bytes[i] &= static_cast<std::uint8_t>(0xff << (8 - keep));
  }
  return bytes;
}

Error bad(std::string_view entry, std::string_view why) {
  return Error{0, "", "bad network \"" + std::string(entry) + "\": " + std::string(why), ""};
}

}  // namespace

std::string Network::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(ipv6 ? AF_INET6 : AF_INET, address.data(), text, sizeof text);
  return std::string(text) + "/" + std::to_string(prefix_length);
}

Result<Network> parse_network(std::string_view text) {
  auto slash = text.find('/');
  auto address = parse_address(std::string(text.substr(0, slash)));
  if (!address) return bad(text, "not an IPv4 or IPv6 address");
  Network n{address->ipv6, address->bytes, max_prefix(address->ipv6)};
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    auto prefix = digits.size() <= 3 ? parse_decimal(digits) : std::nullopt;
    if (!prefix) return bad(text, "the prefix length must be a decimal number");
    if (*prefix > n.prefix_length) {
      return bad(text, "the prefix length exceeds " + std::to_string(n.prefix_length));
    }
    n.prefix_length = static_cast<unsigned>(*prefix);
  }
  // Host bits past the prefix are refused, as Postfix refuses them
  // (cidr_match.c: "non-null host address bits"): "10.1.2.3/8" is far more
  // often a typo for /32 than a way to write 10.0.0.0/8, and silently
  // widening a relay network is how an open relay happens.
  auto network = masked(n.address, n.prefix_length);
  if (network != n.address) {
    Network suggestion = n;
    suggestion.address = network;
    return bad(text, "host bits are set; perhaps \"" + suggestion.to_string() + "\" was meant");
  }
  // Clients in ::ffff:0:0/96 are matched as IPv4 (see contains), so an entry
  // written that way must be the IPv4 network to ever match.
  if (is_v4_mapped(Address{true, n.address}) && n.prefix_length >= 96) {
    return Network{false, unmap(Address{true, n.address}).bytes, n.prefix_length - 96};
  }
  return n;
}

Result<Networks> Networks::parse(const std::vector<std::string>& entries) {
  Networks result;
  for (const auto& entry : entries) {
    auto network = parse_network(entry);
    if (!network) return network.error();
    result.networks_.push_back(*network);
  }
  return result;
}

bool Networks::contains(const std::string& ip) const {
  // RFC 4007 11: a zone ("fe80::1%eth0") says which link, not which
  // network; the address before it is what the networks are about.
  auto text = ip;
  if (text.find(':') != std::string::npos) text = text.substr(0, text.find('%'));
  auto address = parse_address(text);
  if (!address) return false;
  if (is_v4_mapped(*address)) *address = unmap(*address);
  return std::any_of(networks_.begin(), networks_.end(), [&](const Network& n) {
    return n.ipv6 == address->ipv6 && same_prefix(n.address, address->bytes, n.prefix_length);
  });
}

}  // namespace tern::policy
