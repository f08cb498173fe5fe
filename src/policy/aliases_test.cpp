#include "policy/aliases.h"

#include <gtest/gtest.h>

namespace tern::policy {
namespace {

using Strings = std::vector<std::string>;

bool local(std::string_view domain) { return domain == "example.test" || domain == "example.org"; }

Aliases parse_ok(std::string_view text) {
  auto aliases = Aliases::parse(text, "aliases");
  EXPECT_TRUE(aliases.ok()) << (aliases.ok() ? "" : aliases.error().text);
  return aliases.ok() ? std::move(aliases.value()) : Aliases{};
}

Strings expand(const Aliases& aliases, std::string_view address) {
  auto expanded = aliases.expand(address, local);
  EXPECT_TRUE(expanded.ok()) << (expanded.ok() ? "" : expanded.error().detail);
  return expanded.ok() ? expanded.value() : Strings{};
}

constexpr std::string_view kExample = R"(# tern aliases
sales                 alice, bob               # a local part: in every local domain
info@example.org      carol                    # one address; a bare target = same domain
team@example.test     alice, dave@remote.test  # a remote target: forwarded
@example.net          catchall@example.test    # every local part of a domain
postmaster:           root@example.test
a#b@example.test      alice
)";

TEST(Aliases, TheIssuesExample) {
  auto aliases = parse_ok(kExample);
  EXPECT_EQ(aliases.size(), 6u);
  EXPECT_EQ(expand(aliases, "sales@example.test"), (Strings{"alice@example.test", "bob@example.test"}));
  EXPECT_EQ(expand(aliases, "Sales@Example.ORG"), (Strings{"alice@example.org", "bob@example.org"}));
  EXPECT_EQ(expand(aliases, "info@example.org"), (Strings{"carol@example.org"}));
  EXPECT_EQ(expand(aliases, "info@example.test"), (Strings{"info@example.test"}));  // no alias there
  EXPECT_EQ(expand(aliases, "team@example.test"), (Strings{"alice@example.test", "dave@remote.test"}));
  EXPECT_EQ(expand(aliases, "anyone@example.net"), (Strings{"catchall@example.test"}));
  EXPECT_EQ(expand(aliases, "postmaster@example.org"), (Strings{"root@example.test"}));
  EXPECT_EQ(expand(aliases, "a#b@example.test"), (Strings{"alice@example.test"}));
  // A local-part alias applies to local domains only.
  EXPECT_EQ(expand(aliases, "sales@remote.test"), (Strings{"sales@remote.test"}));
  EXPECT_TRUE(aliases.check(local).ok());
}

TEST(Aliases, NestedSelfAndDuplicates) {
  auto aliases = parse_ok("all: staff, board\nstaff: alice, bob\nboard: bob, carol\nalice: alice, archive\n");
  EXPECT_EQ(expand(aliases, "all@example.test"),
            (Strings{"alice@example.test", "archive@example.test", "bob@example.test", "carol@example.test"}));
  EXPECT_TRUE(aliases.check(local).ok());
}

TEST(Aliases, LoopsAndDepth) {
  auto loop = parse_ok("a: b\nb: c\nc: a\n");
  auto expanded = loop.expand("a@example.test", local);
  ASSERT_FALSE(expanded.ok());
  EXPECT_EQ(expanded.error().code, 554);
  EXPECT_EQ(expanded.error().enhanced, "5.4.6");
  auto checked = loop.check(local);
  ASSERT_FALSE(checked.ok());
  EXPECT_NE(checked.error().text.find("aliases:"), std::string::npos) << checked.error().text;
  EXPECT_NE(checked.error().text.find("loop"), std::string::npos) << checked.error().text;
  EXPECT_EQ(checked.error().text.find("invalid"), std::string::npos) << checked.error().text;

  std::string chain;
  for (int i = 0; i < 25; ++i) chain += "a" + std::to_string(i) + ": a" + std::to_string(i + 1) + "\n";
  auto deep = parse_ok(chain);
  EXPECT_FALSE(deep.expand("a0@example.test", local).ok());
  std::string short_chain;
  for (int i = 0; i < 19; ++i) short_chain += "a" + std::to_string(i) + ": a" + std::to_string(i + 1) + "\n";
  EXPECT_EQ(expand(parse_ok(short_chain), "a0@example.test"), (Strings{"a19@example.test"}));
}

TEST(Aliases, SyntaxErrorsNameTheLine) {
  auto expect_error = [](std::string_view text, std::string_view message) {
    auto aliases = Aliases::parse(text, "/etc/tern/aliases");
    ASSERT_FALSE(aliases.ok()) << text;
    EXPECT_NE(aliases.error().text.find(message), std::string::npos) << aliases.error().text;
  };
  expect_error("# ok\nsales\n", "/etc/tern/aliases:2: 'sales' has no targets");
  expect_error("sales alice,,bob\n", "aliases:1: 'sales': an empty target");
  expect_error("sales alice, bob smith\n", "'bob smith' is not an address");
  expect_error("sales alice, <bob>\n", "'<bob>' is not an address");
  expect_error("sa\"les alice\n", "is not a local part, an address or @domain");
  expect_error("@exa mple.test alice\n", "'mple.test alice' is not an address");
  expect_error("@-bad- alice\n", "is not a local part, an address or @domain");
  expect_error("sales alice\nSales bob\n", "aliases:2: 'sales' is listed twice (also on line 1)");
}

}  // namespace
}  // namespace tern::policy
