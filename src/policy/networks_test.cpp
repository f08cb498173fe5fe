#include "policy/networks.h"

#include <gtest/gtest.h>

namespace tern::policy {
namespace {

TEST(Networks, ParsesEntriesToCanonicalForm) {
  struct Case {
    std::string entry;
    std::string canonical;
  };
  const Case cases[] = {
      {"127.0.0.0/8", "127.0.0.0/8"},
      {"192.0.2.7", "192.0.2.7/32"},  // a bare address is one host
      {"192.0.2.7/32", "192.0.2.7/32"},
      {"198.51.100.128/25", "198.51.100.128/25"},
      {"0.0.0.0/0", "0.0.0.0/0"},
      {"::1", "::1/128"},
      {"::1/128", "::1/128"},
      {"::/0", "::/0"},
      {"2001:DB8::/32", "2001:db8::/32"},
      {"2001:0db8:0000::/48", "2001:db8::/48"},
      {"2001:db8:0:0:8000::/65", "2001:db8:0:0:8000::/65"},
      {"fe80::/10", "fe80::/10"},
      // IPv4-mapped entries become the IPv4 network they name.
      {"::ffff:192.0.2.0/120", "192.0.2.0/24"},
      {"::ffff:192.0.2.1", "192.0.2.1/32"},
      {"::ffff:0:0/96", "0.0.0.0/0"},
      {"192.0.2.0/024", "192.0.2.0/24"},  // decimal, leading zeros allowed in the length
  };
  for (const auto& c : cases) {
    auto n = parse_network(c.entry);
    ASSERT_TRUE(n.ok()) << c.entry << ": " << n.error().text;
    EXPECT_EQ(n->to_string(), c.canonical) << c.entry;
  }
}

TEST(Networks, RejectsBadEntriesNamingThem) {
  struct Case {
    std::string entry;
    std::string why;  // part of the error text
  };
  const Case cases[] = {
      {"", "not an IPv4 or IPv6 address"},
      {"/8", "not an IPv4 or IPv6 address"},
      {"example.test", "not an IPv4 or IPv6 address"},
      {"256.0.0.1", "not an IPv4 or IPv6 address"},
      {"192.0.2", "not an IPv4 or IPv6 address"},
      {"1.2.3.4.5", "not an IPv4 or IPv6 address"},
      {"010.0.0.1", "not an IPv4 or IPv6 address"},  // octal to inet_aton, refused
      {"2001:db8::g", "not an IPv4 or IPv6 address"},
      {"2001:db8:::/32", "not an IPv4 or IPv6 address"},
      {"[::1]/128", "not an IPv4 or IPv6 address"},
      {"[::1]", "not an IPv4 or IPv6 address"},
      {"fe80::1%eth0", "not an IPv4 or IPv6 address"},
      {" 192.0.2.0/24", "not an IPv4 or IPv6 address"},
      {"192.0.2.0 /24", "not an IPv4 or IPv6 address"},
      {"192.0.2.0/", "decimal number"},
      {"192.0.2.0/24 ", "decimal number"},
      {"192.0.2.0/-1", "decimal number"},
      {"192.0.2.0/+8", "decimal number"},
      {"192.0.2.0/0x8", "decimal number"},
      {"192.0.2.0/1000", "decimal number"},
      {"10.0.0.0/8/8", "decimal number"},
      {"192.0.2.0/33", "exceeds 32"},
      {"::/129", "exceeds 128"},
      {"::ffff:192.0.2.0/129", "exceeds 128"},
      {"192.0.2.1/24", "perhaps \"192.0.2.0/24\" was meant"},
      {"10.1.2.3/8", "perhaps \"10.0.0.0/8\" was meant"},
      {"198.51.100.129/25", "perhaps \"198.51.100.128/25\" was meant"},
      {"2001:db8::1/32", "perhaps \"2001:db8::/32\" was meant"},
      {"::1/0", "perhaps \"::/0\" was meant"},
  };
  for (const auto& c : cases) {
    auto n = parse_network(c.entry);
    ASSERT_FALSE(n.ok()) << c.entry << " parsed as " << n->to_string();
    const auto& text = n.error().text;
    EXPECT_NE(text.find("\"" + c.entry + "\""), std::string::npos) << text;
    EXPECT_NE(text.find(c.why), std::string::npos) << text;
  }
}

TEST(Networks, ListErrorNamesTheFirstBadEntry) {
  auto list = Networks::parse({"127.0.0.0/8", "10.0.0.0/33", "nonsense"});
  ASSERT_FALSE(list.ok());
  EXPECT_NE(list.error().text.find("\"10.0.0.0/33\""), std::string::npos) << list.error().text;
  EXPECT_EQ(list.error().text.find("nonsense"), std::string::npos);

  auto empty = Networks::parse({});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_FALSE(empty->contains("127.0.0.1"));
  EXPECT_FALSE(Networks().contains("::1"));
}

TEST(Networks, ContainsClientAddresses) {
  auto list = Networks::parse({"127.0.0.0/8", "::1/128", "192.0.2.0/24", "2001:db8::/32"});
  ASSERT_TRUE(list.ok()) << list.error().text;
  EXPECT_EQ(list->networks().size(), 4u);
  struct Case {
    std::string ip;
    bool in;
  };
  const Case cases[] = {
      {"127.0.0.1", true},
      {"127.255.255.255", true},
      {"126.255.255.255", false},
      {"128.0.0.0", false},
      {"192.0.2.0", true},
      {"192.0.2.255", true},
      {"192.0.3.1", false},
      {"198.51.100.1", false},
      {"::1", true},
      {"0:0:0:0:0:0:0:1", true},
      {"::2", false},
      {"::", false},
      {"2001:db8::25", true},
      {"2001:DB8:FFFF:FFFF::1", true},
      {"2001:db9::1", false},
      {"2001:db7:ffff::1", false},
      // What a dual-stack (IPV6_V6ONLY off) socket reports for IPv4 clients
      // (RFC 4291 2.5.5.2): matched as IPv4.
      {"::ffff:192.0.2.1", true},
      {"::ffff:127.0.0.1", true},
      {"::FFFF:C000:0201", true},
      {"0:0:0:0:0:ffff:192.0.2.1", true},
      {"::ffff:198.51.100.1", false},
      // Not IPv4-mapped: IPv4-compatible (deprecated, RFC 4291 2.5.5.1) and
      // NAT64 (RFC 6052) addresses are IPv6 addresses of their own.
      {"::192.0.2.1", false},
      {"::127.0.0.1", false},
      {"64:ff9b::192.0.2.1", false},
      // A zone names the link, not the network.
      {"2001:db8::1%eth0", true},
      {"::1%lo", true},
      {"192.0.2.1%eth0", false},
      // Not an address: in no network (fail closed).
      {"", false},
      {"localhost", false},
      {"192.0.2.1 ", false},
      {" 192.0.2.1", false},
      {"[::1]", false},
      {"192.0.2.1:25", false},
      {"192.0.2.0/24", false},
      {"0127.0.0.1", false},
  };
  for (const auto& c : cases) EXPECT_EQ(list->contains(c.ip), c.in) << c.ip;
}

TEST(Networks, PrefixesThatEndInsideAByte) {
  auto list = Networks::parse({"198.51.100.128/25", "2001:db8:0:0:8000::/65", "0.0.0.0/1"});
  ASSERT_TRUE(list.ok()) << list.error().text;
  const std::pair<std::string, bool> cases[] = {
      {"198.51.100.127", false},
      {"198.51.100.128", true},
      {"198.51.100.255", true},
      {"198.51.101.128", false},
      {"2001:db8::7fff:ffff:ffff:ffff", false},
      {"2001:db8::8000:0:0:0", true},
      {"2001:db8::ffff:ffff:ffff:ffff", true},
      {"2001:db8:0:1:8000::", false},
      {"0.0.0.1", true},  // 0.0.0.0/1
      {"127.255.255.255", true},
      {"128.0.0.0", false},
  };
  for (const auto& [ip, in] : cases) EXPECT_EQ(list->contains(ip), in) << ip;
}

TEST(Networks, WholeFamiliesStaySeparate) {
  // 0.0.0.0/0 is every IPv4 client, mapped or not, and no IPv6 one; ::/0 is
  // every IPv6 client and no IPv4 one, since IPv4 clients are matched as IPv4.
  auto v4 = Networks::parse({"0.0.0.0/0"});
  ASSERT_TRUE(v4.ok());
  EXPECT_TRUE(v4->contains("203.0.113.9"));
  EXPECT_TRUE(v4->contains("::ffff:203.0.113.9"));
  EXPECT_FALSE(v4->contains("::1"));
  auto v6 = Networks::parse({"::/0"});
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->contains("2001:db8::1"));
  EXPECT_FALSE(v6->contains("203.0.113.9"));
  EXPECT_FALSE(v6->contains("::ffff:203.0.113.9"));
  auto mapped = Networks::parse({"::ffff:203.0.113.0/120"});
  ASSERT_TRUE(mapped.ok());
  EXPECT_TRUE(mapped->contains("203.0.113.9"));
  EXPECT_TRUE(mapped->contains("::ffff:203.0.113.9"));
}

}  // namespace
}  // namespace tern::policy
