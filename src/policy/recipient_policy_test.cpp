#include "policy/recipient_policy.h"

#include <gtest/gtest.h>

namespace tern::policy {
namespace {

proto::Path path(std::string local, std::string domain) { return {false, {std::move(local), std::move(domain)}}; }

// From a client outside the relay networks unless one is given.
Result<void> check(const RecipientPolicy& policy, const proto::Path& p, const std::string& ip = "198.51.100.1") {
  return policy.check(p, ip);
}

TEST(RecipientPolicy, LocalUsersPostmasterAndRelay) {
  config::Local config;
  config.domains = {"example.test", "other.test"};
  config.users = {"alice"};
  LocalRecipients local(config, {});
  RecipientPolicy policy(local, *Networks::parse({"192.0.2.0/24"}));
  EXPECT_TRUE(check(policy, path("alice", "example.test")).ok());
  EXPECT_TRUE(check(policy, path("ALICE", "Example.Test")).ok());
  EXPECT_TRUE(check(policy, path("\"alice\"", "other.test")).ok());
  EXPECT_TRUE(check(policy, path("PostMaster", "other.test")).ok());
  EXPECT_TRUE(check(policy, path("abuse", "other.test")).ok());
  EXPECT_TRUE(check(policy, path("Postmaster", "")).ok());
  auto unknown = check(policy, path("bob", "example.test"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, 550);
  EXPECT_EQ(unknown.error().enhanced, "5.1.1");
  EXPECT_TRUE(check(policy, path("bob", "elsewhere.example"), "192.0.2.7").ok());  // relay network
  EXPECT_TRUE(policy.check(path("bob", "elsewhere.example"), "198.51.100.1", true).ok());  // AUTH
  auto relay = check(policy, path("alice", "elsewhere.example"));
  ASSERT_FALSE(relay.ok());
  EXPECT_EQ(relay.error().code, 554);
  EXPECT_EQ(relay.error().enhanced, "5.7.1");
  EXPECT_EQ(policy.store_to_ask(path("bob", "example.test")), nullptr);
}

TEST(RecipientPolicy, AcceptAnyUser) {
  config::Local config;
  config.accept_any_user = true;
  LocalRecipients local(config, {});
  RecipientPolicy policy(local, *Networks::parse({"192.0.2.0/24"}));
  EXPECT_TRUE(check(policy, path("anyone", "localhost")).ok());
  EXPECT_FALSE(check(policy, path("anyone", "example.test")).ok());
}

TEST(RecipientPolicy, StoreToAsk) {
  config::Local config;
  config.domains = {"example.test", "store.test"};
  config.users = {"alice"};
  config::Domain store;
  store.delivery = config::parse_mail_store("lmtp:127.0.0.1:24");
  store.users = std::vector<std::string>{"carol"};
  store.verify_recipients = true;
  config.domain.emplace("store.test", store);
  LocalRecipients local(config, {});
  RecipientPolicy policy(local, *Networks::parse({}));
  EXPECT_TRUE(check(policy, path("nobody", "store.test")).ok());  // the store decides
  ASSERT_NE(policy.store_to_ask(path("nobody", "store.test")), nullptr);
  EXPECT_EQ(policy.store_to_ask(path("nobody", "store.test"))->port, 24);
  EXPECT_EQ(policy.store_to_ask(path("carol", "store.test")), nullptr);      // known here
  EXPECT_EQ(policy.store_to_ask(path("postmaster", "store.test")), nullptr);
  EXPECT_FALSE(check(policy, path("nobody", "example.test")).ok());
}

}  // namespace
}  // namespace tern::policy
