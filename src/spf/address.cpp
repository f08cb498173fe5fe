#include "spf/address.h"

#include <algorithm>
#include <string_view>
#include <vector>

namespace tern::spf {
namespace {

using Bytes = std::array<std::uint8_t, 16>;

// RFC 7208 5: "IPv4-mapped IPv6 addresses ... MUST still be considered IPv4".
void normalise(const boost::asio::ip::address& address, bool& v6, Bytes& bytes) {
  bytes = {};
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    auto v4 = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6()).to_bytes();
    std::copy(v4.begin(), v4.end(), bytes.begin());
    v6 = false;
  } else if (address.is_v6()) {
    auto b = address.to_v6().to_bytes();
    std::copy(b.begin(), b.end(), bytes.begin());
    v6 = true;
  } else {
    auto b = address.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), bytes.begin());
    v6 = false;
  }
}

bool prefix_equal(const Bytes& a, const Bytes& b, int prefix) {
  int whole = prefix / 8;
  if (!std::equal(a.begin(), a.begin() + whole, b.begin())) return false;
  int bits = prefix % 8;
  if (bits == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - bits));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

ClientAddress::ClientAddress(const boost::asio::ip::address& address) { normalise(address, v6_, bytes_); }

bool ClientAddress::in(const Bytes& network, int prefix, bool network_v6) const {
  if (network_v6 != v6_) return false;
  return prefix_equal(bytes_, network, std::clamp(prefix, 0, v6_ ? 128 : 32));
}

bool ClientAddress::in(const boost::asio::ip::address& other, int cidr4, int cidr6) const {
  bool other_v6 = false;
  Bytes other_bytes;
  normalise(other, other_v6, other_bytes);
  return in(other_bytes, other_v6 ? cidr6 : cidr4, other_v6);
}

bool ClientAddress::is(const boost::asio::ip::address& other) const { return in(other, 32, 128); }

std::string ClientAddress::dotted() const {
  std::string out;
  if (!v6_) {
    for (int i = 0; i < 4; ++i) {
      if (i) out += '.';
      out += std::to_string(bytes_[i]);
    }
    return out;
  }
  // RFC 7208 7.4 shows the nibbles in lower case (1.0.b.c...).
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) {
    if (i) out += '.';
    out += kHex[bytes_[i] >> 4];
    out += '.';
    out += kHex[bytes_[i] & 0x0f];
  }
  return out;
}

std::string ClientAddress::readable() const {
  if (!v6_) return dotted();
  boost::asio::ip::address_v6::bytes_type b;
  std::copy(bytes_.begin(), bytes_.end(), b.begin());
  return boost::asio::ip::address_v6(b).to_string();
}

std::string ClientAddress::reverse_name() const {
  std::string forward = dotted();
  std::vector<std::string_view> parts;
  std::string_view rest = forward;
  for (auto dot = rest.find('.'); dot != std::string_view::npos; dot = rest.find('.')) {
    parts.push_back(rest.substr(0, dot));
    rest.remove_prefix(dot + 1);
  }
  parts.push_back(rest);
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    out += *it;
    out += '.';
  }
  return out + (v6_ ? "ip6.arpa" : "in-addr.arpa");
}

}  // namespace tern::spf
