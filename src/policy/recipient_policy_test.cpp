#include "policy/recipient_policy.h"

#include <gtest/gtest.h>

namespace tern::policy {
namespace {

proto::Path path(std::string local, std::string domain) { return {false, {std::move(local), std::move(domain)}}; }

TEST(RecipientPolicy, LocalUsersPostmasterAndRelay) {
  config::Local local;
  local.domains = {"example.test", "other.test"};
  local.users = {"alice"};
  RecipientPolicy policy(local);
  EXPECT_TRUE(policy.check(path("alice", "example.test")).ok());
  EXPECT_TRUE(policy.check(path("ALICE", "Example.Test")).ok());
  EXPECT_TRUE(policy.check(path("\"alice\"", "other.test")).ok());
  EXPECT_TRUE(policy.check(path("PostMaster", "other.test")).ok());
  EXPECT_TRUE(policy.check(path("Postmaster", "")).ok());
  auto unknown = policy.check(path("bob", "example.test"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, 550);
  EXPECT_EQ(unknown.error().enhanced, "5.1.1");
  auto relay = policy.check(path("alice", "elsewhere.example"));
  ASSERT_FALSE(relay.ok());
  EXPECT_EQ(relay.error().code, 554);
  EXPECT_EQ(relay.error().enhanced, "5.7.1");
  EXPECT_EQ(policy.resolve({"Postmaster", ""}).to_string(), "postmaster@example.test");
}

TEST(RecipientPolicy, AcceptAnyUser) {
  config::Local local;
  local.accept_any_user = true;
  RecipientPolicy policy(local);
  EXPECT_TRUE(policy.check(path("anyone", "localhost")).ok());
  EXPECT_FALSE(policy.check(path("anyone", "example.test")).ok());
}

}  // namespace
}  // namespace tern::policy
