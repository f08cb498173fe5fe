#pragma once
// The SMTP client's address as SPF sees it: RFC 7208 5 treats an
// IPv4-mapped IPv6 address as the IPv4 address it carries, and compares
// addresses under CIDR lengths (5.3, 5.4, 5.6). Also the forms macros and
// PTR lookups need (7.3, 5.5).
#include <array>
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <string>

namespace tern::spf {

class ClientAddress {
 public:
  explicit ClientAddress(const boost::asio::ip::address& address);

  bool v6() const { return v6_; }
  // Is the client in network/prefix? `network` holds 4 octets for IPv4, 16
  // for IPv6; a network of the other family never matches (RFC 7208 5.6).
  bool in(const std::array<std::uint8_t, 16>& network, int prefix, bool network_v6) const;
  // Is the client in the network `other`/cidr (cidr4 or cidr6 by family)?
  bool in(const boost::asio::ip::address& other, int cidr4, int cidr6) const;
  // Is `other` exactly the client (validating a PTR name, RFC 7208 5.5)?
  bool is(const boost::asio::ip::address& other) const;

  // %{i}: dotted quad, or 32 dot-separated nibbles, high first (RFC 7208 7.3).
  std::string dotted() const;
  // %{c}: the usual text form (RFC 5952 for IPv6).
  std::string readable() const;
  // %{v}: "in-addr" or "ip6".
  std::string version() const { return v6_ ? "ip6" : "in-addr"; }
  // The name to ask PTR records of (RFC 7208 5.5): %{ir}.%{v}.arpa
  std::string reverse_name() const;

 private:
  bool v6_ = false;
  std::array<std::uint8_t, 16> bytes_{};
};

}  // namespace tern::spf
