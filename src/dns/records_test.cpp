#include "dns/records.h"

#include <gtest/gtest.h>

namespace tern::dns {
namespace {

std::string wire(std::initializer_list<std::string_view> labels) {
  std::string out;
  for (auto label : labels) {
    out += static_cast<char>(label.size());
    out += label;
  }
  return out + '\0';
}

TEST(Records, ParsesMxRdata) {
  MxRecord mx;
  ASSERT_TRUE(parse_mx_rdata(std::string("\x00\x0a", 2) + wire({"MX1", "Example", "test"}), mx));
  EXPECT_EQ(mx.preference, 10);
  EXPECT_EQ(mx.exchange, "mx1.example.test");
  ASSERT_TRUE(parse_mx_rdata(std::string("\x00\x00\x00", 3), mx));  // RFC 7505 null MX
  EXPECT_EQ(mx.exchange, "");
  EXPECT_FALSE(parse_mx_rdata(std::string("\x00\x0a\x05" "ab", 5), mx));        // truncated label
  EXPECT_FALSE(parse_mx_rdata(std::string("\x00\x0a\xc0\x0c", 4), mx));         // compression pointer
  EXPECT_FALSE(parse_mx_rdata(std::string("\x00\x0a\x00\x01", 4), mx));         // junk after the name
}

TEST(Records, RoutesByPreferenceRandomWithinOne) {
  std::mt19937 random(42);
  MxAnswer answer{Status::kOk, {{20, "c.example"}, {10, "a.example"}, {10, "b.example"}, {30, "a.example"}}, ""};
  bool a_first = false, b_first = false;
  for (int i = 0; i < 50; ++i) {
    auto route = route_from_mx("example", answer, random);
    ASSERT_TRUE(route.ok());
    ASSERT_EQ(route->hosts.size(), 3u);  // a.example once, at its best preference
    EXPECT_EQ(route->hosts[2], "c.example");
    a_first |= route->hosts[0] == "a.example";
    b_first |= route->hosts[0] == "b.example";
  }
  EXPECT_TRUE(a_first && b_first);
}

TEST(Records, ImplicitNullAndFailures) {
  std::mt19937 random(1);
  auto implicit = route_from_mx("example.test", {Status::kNoData, {}, ""}, random);
  ASSERT_TRUE(implicit.ok());
  EXPECT_TRUE(implicit->implicit);
  EXPECT_EQ(implicit->hosts, std::vector<std::string>{"example.test"});
  auto null_mx = route_from_mx("example.test", {Status::kOk, {{0, ""}}, ""}, random);
  ASSERT_FALSE(null_mx.ok());
  EXPECT_EQ(null_mx.error().code, 556);
  EXPECT_EQ(null_mx.error().enhanced, "5.1.10");
  auto nx = route_from_mx("nowhere.test", {Status::kNxDomain, {}, ""}, random);
  EXPECT_EQ(nx.error().enhanced, "5.1.2");
  auto temp = route_from_mx("x.test", {Status::kTempFail, {}, "SERVFAIL"}, random);
  EXPECT_EQ(temp.error().code, 451);
  EXPECT_FALSE(temp.error().permanent());
}

TEST(TxtRdata, JoinsCharacterStringsWithNothingBetween) {
  std::string text;
  ASSERT_TRUE(parse_txt_rdata(std::string("\x05v=spf\x0a" "1 -all ip4", 17), text));
  EXPECT_EQ(text, "v=spf1 -all ip4");
  ASSERT_TRUE(parse_txt_rdata(std::string("\x00", 1), text));  // one empty string
  EXPECT_EQ(text, "");
  EXPECT_FALSE(parse_txt_rdata("", text));                          // no string at all
  EXPECT_FALSE(parse_txt_rdata(std::string("\x05" "abc", 4), text));  // cut short
}

}  // namespace
}  // namespace tern::dns
