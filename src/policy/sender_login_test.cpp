#include "policy/sender_login.h"

#include <gtest/gtest.h>

namespace tern::policy {
namespace {

proto::Path path(std::string local, std::string domain) {
  proto::Path p;
  p.mailbox = {std::move(local), std::move(domain)};
  return p;
}

TEST(SenderLogins, OwnAddressSubaddressAndNullSender) {
  SenderLogins logins({});
  EXPECT_TRUE(logins.check(path("alice", "example.test"), "alice@example.test").ok());
  EXPECT_TRUE(logins.check(path("Alice", "EXAMPLE.test"), "alice@example.test").ok());
  EXPECT_TRUE(logins.check(path("alice+lists", "example.test"), "alice@example.test").ok());
  proto::Path null_path;
  null_path.null = true;
  EXPECT_TRUE(logins.check(null_path, "alice@example.test").ok());
  auto forged = logins.check(path("bob", "example.test"), "alice@example.test");
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(forged.error().code, 553);
  EXPECT_EQ(forged.error().enhanced, "5.7.1");
  EXPECT_FALSE(logins.check(path("alice", "example.org"), "alice@example.test").ok());
  EXPECT_FALSE(logins.check(path("alicex", "example.test"), "alice@example.test").ok());
  EXPECT_FALSE(logins.check(path("+alice", "example.test"), "alice@example.test").ok());
}

TEST(SenderLogins, ExtraAddressesAndDomains) {
  SenderLogins logins({{"alice@example.test", {"sales@example.test", "@example.org"}}});
  EXPECT_TRUE(logins.check(path("sales", "example.test"), "alice@example.test").ok());
  EXPECT_TRUE(logins.check(path("sales+x", "example.test"), "alice@example.test").ok());
  EXPECT_TRUE(logins.check(path("anyone", "Example.ORG"), "alice@example.test").ok());
  EXPECT_FALSE(logins.check(path("anyone", "sub.example.org"), "alice@example.test").ok());
  EXPECT_FALSE(logins.check(path("sales", "example.test"), "bob@example.test").ok());
}

}  // namespace
}  // namespace tern::policy
