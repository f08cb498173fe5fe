#include "policy/local_recipients.h"

#include <gtest/gtest.h>

namespace tern::policy {
namespace {

using Verdict = LocalRecipients::Verdict;
using Strings = std::vector<std::string>;

constexpr std::string_view kAliases = R"(
sales                 alice, bob
info@example.org      carol
team@example.test     alice, dave@remote.test
@example.net          catchall@example.test
@example.org          alice@example.test
)";

struct Fixture {
  explicit Fixture(config::Local c = {}) : config(std::move(c)) {
    if (config.domains == std::vector<std::string>{"localhost"}) config.domains = {"example.test", "example.org"};
    if (config.users.empty()) config.users = {"alice", "bob", "catchall"};
    if (!config.domain.count("example.org")) {
      config::Domain org;
      org.users = std::vector<std::string>{"carol"};
      org.delivery = config::parse_mail_store("lmtp:unix:/run/dovecot/lmtp");
      config.domain.emplace("example.org", org);
    }
    aliases = std::make_shared<const Aliases>(*Aliases::parse(kAliases, "aliases"));
    local = std::make_unique<LocalRecipients>(
        config, LocalRecipients::Sources{[this] { return aliases; },
                                         [this](std::string_view a) { return a == "erin@example.test"; }});
  }
  Verdict check(std::string local_part, std::string domain) const { return local->check({local_part, domain}); }
  Strings expand(std::string local_part, std::string domain) const {
    auto out = local->expand({{local_part, domain}, {}, ""});
    EXPECT_TRUE(out.ok()) << (out.ok() ? "" : out.error().detail);
    Strings addresses;
    for (const auto& r : out.ok() ? *out : std::vector<proto::Recipient>{}) addresses.push_back(r.mailbox.to_string());
    return addresses;
  }
  config::Local config;
  std::shared_ptr<const Aliases> aliases;
  std::unique_ptr<LocalRecipients> local;
};

TEST(LocalRecipients, WhoExists) {
  Fixture f;
  EXPECT_EQ(f.check("alice", "example.test"), Verdict::kExists);
  EXPECT_EQ(f.check("erin", "example.test"), Verdict::kExists);       // the users file
  EXPECT_EQ(f.check("sales", "example.test"), Verdict::kExists);      // a local-part alias
  EXPECT_EQ(f.check("zed", "example.test"), Verdict::kUnknown);
  // [domain."example.org"] users override [local] users; its catch-all
  // takes the rest.
  EXPECT_EQ(f.check("carol", "example.org"), Verdict::kExists);
  EXPECT_EQ(f.check("anyone", "example.org"), Verdict::kExists);
  EXPECT_EQ(f.check("anyone", "example.net"), Verdict::kExists);  // a catch-all-only domain
  EXPECT_TRUE(f.local->serves("example.net"));
  EXPECT_FALSE(f.local->is_local_domain("example.net"));
  EXPECT_FALSE(f.local->serves("remote.test"));
  EXPECT_EQ(f.check("postmaster", "example.net"), Verdict::kExists);
  EXPECT_EQ(f.check("Abuse", "example.test"), Verdict::kExists);
}

TEST(LocalRecipients, Subaddressing) {
  Fixture f;
  EXPECT_EQ(f.check("alice+tag", "example.test"), Verdict::kExists);
  EXPECT_EQ(f.check("sales+x", "example.test"), Verdict::kExists);
  EXPECT_EQ(f.check("zed+x", "example.test"), Verdict::kUnknown);
  EXPECT_EQ(f.check("+alice", "example.test"), Verdict::kUnknown);
  EXPECT_EQ(f.expand("Alice+Tag", "example.test"), Strings{"Alice+Tag@example.test"});  // unchanged
  auto route = f.local->route({"Alice+Tag", "Example.test"});
  ASSERT_TRUE(route);
  EXPECT_EQ(route->mailbox.to_string(), "alice@example.test");
  EXPECT_EQ(route->store->kind, config::MailStore::Kind::kMaildir);

  config::Local off;
  off.recipient_delimiter = "";
  Fixture g(off);
  EXPECT_EQ(g.check("alice+tag", "example.test"), Verdict::kUnknown);
  EXPECT_EQ(g.local->route({"alice+tag", "example.test"})->mailbox.local_part, "alice+tag");
}

TEST(LocalRecipients, Expansion) {
  Fixture f;
  EXPECT_EQ(f.expand("sales", "example.test"), (Strings{"alice@example.test", "bob@example.test"}));
  EXPECT_EQ(f.expand("team", "example.test"), (Strings{"alice@example.test", "dave@remote.test"}));
  EXPECT_EQ(f.expand("info", "example.org"), Strings{"carol@example.org"});
  EXPECT_EQ(f.expand("carol", "example.org"), Strings{"carol@example.org"});       // a mailbox beats the catch-all
  EXPECT_EQ(f.expand("nobody", "example.org"), Strings{"alice@example.test"});     // the catch-all
  EXPECT_EQ(f.expand("x", "example.net"), Strings{"catchall@example.test"});
  EXPECT_EQ(f.expand("postmaster", "example.org"), Strings{"postmaster@example.test"});
  EXPECT_EQ(f.expand("abuse", "example.test"), Strings{"postmaster@example.test"});
  EXPECT_EQ(f.expand("Postmaster", ""), Strings{"postmaster@example.test"});
  EXPECT_EQ(f.expand("someone", "remote.test"), Strings{"someone@remote.test"});   // not ours: untouched

  auto team = f.local->expand({{"Team", "example.test"}, {proto::kNotifyFailure, ""}, ""});
  ASSERT_TRUE(team.ok());
  ASSERT_EQ(team->size(), 2u);
  EXPECT_EQ((*team)[1].alias, "Team@example.test");
  EXPECT_EQ((*team)[1].params.orcpt, "rfc822;Team@example.test");
  EXPECT_EQ((*team)[1].params.notify, proto::kNotifyFailure);
  // The client's own ORCPT stays.
  auto given = f.local->expand({{"sales", "example.test"}, {0, "rfc822;x@y.test"}, ""});
  EXPECT_EQ((*given)[0].params.orcpt, "rfc822;x@y.test");
}

TEST(LocalRecipients, DuplicatesAfterExpansionOnce) {
  Fixture f;
  auto all = f.local->expand_all({{{"sales", "example.test"}, {}, ""},
                                  {{"Alice", "example.test"}, {}, ""},
                                  {{"team", "example.test"}, {}, ""}});
  ASSERT_TRUE(all.ok());
  Strings addresses;
  for (const auto& r : *all) addresses.push_back(r.mailbox.to_string());
  EXPECT_EQ(addresses, (Strings{"alice@example.test", "bob@example.test", "dave@remote.test"}));
}

TEST(LocalRecipients, ConfiguredPostmasterAndRoutes) {
  config::Local c;
  c.postmaster = "root@example.test";
  Fixture f(c);
  EXPECT_EQ(f.expand("postmaster", "example.org"), Strings{"root@example.test"});
  EXPECT_EQ(f.expand("abuse+x", "example.test"), Strings{"root@example.test"});
  EXPECT_EQ(f.check("root", "example.test"), Verdict::kExists);  // not a user, but the postmaster
  auto org = f.local->route({"carol", "example.org"});
  ASSERT_TRUE(org);
  EXPECT_EQ(org->store->kind, config::MailStore::Kind::kLmtpUnix);
  EXPECT_FALSE(f.local->route({"x", "example.net"}));
  EXPECT_FALSE(f.local->route({"x", "remote.test"}));
}

}  // namespace
}  // namespace tern::policy
