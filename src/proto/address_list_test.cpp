#include "proto/address_list.h"

#include <gtest/gtest.h>

namespace tern::proto {
namespace {

// "name|address" per entry, "|" joined with ";".
std::string parse(std::string_view body, AddressListOptions options = {}) {
  auto parsed = parse_address_list(body, options);
  if (!parsed) return "error";
  std::string out;
  for (const auto& a : *parsed) {
    if (!out.empty()) out += ";";
    if (!a.group.empty()) out += "[" + a.group + "]";
    out += a.display_name + "|" + a.address();
  }
  return out;
}

TEST(AddressList, Accepted) {
  struct Case {
    std::string_view body;
    std::string_view expected;
  } cases[] = {
      {" alice@example.test", "|alice@example.test"},
      {"alice@example.test, bob@example.test", "|alice@example.test;|bob@example.test"},
      {"Alice <alice@example.test>", "Alice|alice@example.test"},
      {"\"Smith, John\" <john@example.test>, bob@example.test",
       "Smith, John|john@example.test;|bob@example.test"},
      {"\"a \\\"b\\\" c\" <x@example.test>", "a \"b\" c|x@example.test"},
      {"<alice@example.test>", "|alice@example.test"},
      {"alice@example.test (Alice Liddell)", "|alice@example.test"},
      {"(c1) Alice (c2) <(c3) alice (c4) @ (c5) example.test (c6)> (c7)", "Alice|alice@example.test"},
      {"alice@example.test (nested (comment) here)", "|alice@example.test"},
      {"alice@example.test (escaped \\) paren)", "|alice@example.test"},
      {" Alice\r\n <alice@example.test>,\r\n\tbob@example.test", "Alice|alice@example.test;|bob@example.test"},
      {"\"quoted local\"@example.test", "|\"quoted local\"@example.test"},
      {"\"folded\r\n local\"@example.test", "|\"folded local\"@example.test"},
      {"first.last@example.test", "|first.last@example.test"},
      {"first . last @ example . test", "|first.last@example.test"},  // RFC 5322 4.4 obs-local-part
      {"user@[192.0.2.1]", "|user@[192.0.2.1]"},
      {"user@[IPv6:2001:db8::1]", "|user@[IPv6:2001:db8::1]"},
      {"John Q. Public <jqp@example.test>", "John Q. Public|jqp@example.test"},  // obs-phrase
      {"<@relay.example,@other.example:user@example.test>", "|user@example.test"},  // obs-route
      {"Friends: alice@example.test, Bob <bob@example.test>;",
       "[Friends]|alice@example.test;[Friends]Bob|bob@example.test"},
      {"undisclosed-recipients:;", ""},
      {"Team: ;, carol@example.test", "|carol@example.test"},
      {"Team: a@example.test; , b@example.test", "[Team]|a@example.test;|b@example.test"},
      {"Team: a@example.test", "[Team]|a@example.test"},  // a missing ';' at the end is forgiven
      {", , alice@example.test, ,", "|alice@example.test"},  // RFC 5322 4.4 obs-addr-list
      {"", ""},
      {"   ", ""},
      {"J\xc3\xbcrgen <j\xc3\xbcrgen@b\xc3\xbc" "cher.example>", "J\xc3\xbcrgen|j\xc3\xbcrgen@b\xc3\xbc" "cher.example"},
      {"=?UTF-8?B?w7w=?= <u@example.test>", "=?UTF-8?B?w7w=?=|u@example.test"},
      {"a+tag@example.test", "|a+tag@example.test"},
      {"o'brien@example.test", "|o'brien@example.test"},
  };
  for (const auto& c : cases) EXPECT_EQ(parse(c.body), c.expected) << c.body;
}

TEST(AddressList, LocalOnly) {
  EXPECT_EQ(parse("root"), "error");
  EXPECT_EQ(parse("<root>"), "error");
  AddressListOptions local{.allow_local_only = true};
  EXPECT_EQ(parse("root", local), "|root");
  EXPECT_EQ(parse("root, Admin <admin>, x@example.test", local), "|root;Admin|admin;|x@example.test");
  EXPECT_EQ(parse("John Smith", local), "error");  // a phrase, not an address
}

TEST(AddressList, Rejected) {
  std::string_view cases[] = {
      "alice@",
      "@example.test",
      "alice@example.test bob@example.test",
      "Alice <alice@example.test",
      "Alice alice@example.test>",
      "<alice@example.test",
      "alice@example.test (unterminated comment",
      "alice@example.test)",
      "\"unterminated@example.test",
      "user@[192.0.2.1",
      "user@[a[b]",
      "a..b@example.test",
      ".a@example.test",
      "a.@example.test",
      "a@example..test",
      "a@example.test.",
      "a@b@c",
      "A: B: c@example.test;;",
      ": a@example.test;",
      "<>",
      "a@example.test;",
      "a\\b@example.test",
      "a@exa\x01mple.test",
      "Alice <alice@example.test> extra",
  };
  for (auto body : cases) EXPECT_EQ(parse(body), "error") << body;
}

TEST(AddressList, Limit) {
  std::string body;
  for (int i = 0; i < 5; ++i) body += "u" + std::to_string(i) + "@example.test,";
  EXPECT_NE(parse(body, {.max_addresses = 5}), "error");
  EXPECT_EQ(parse(body, {.max_addresses = 4}), "error");
}

TEST(AddressList, DeepCommentsDoNotRecurse) {
  std::string body = "a@example.test " + std::string(100000, '(') + std::string(100000, ')');
  EXPECT_EQ(parse(body), "|a@example.test");
}

}  // namespace
}  // namespace tern::proto
