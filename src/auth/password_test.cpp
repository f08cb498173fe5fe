#include "auth/password.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace tern::auth {
namespace {

TEST(Password, HashIsYescryptAndVerifies) {
  auto hash = hash_password("correct horse");
  ASSERT_TRUE(hash.ok()) << hash.error().detail;
  EXPECT_TRUE(hash->starts_with("$y$j9T$")) << *hash;
  EXPECT_EQ(hash->find("correct"), std::string::npos);
  EXPECT_TRUE(is_supported_hash(*hash));
  EXPECT_TRUE(verify_password("correct horse", *hash));
  EXPECT_FALSE(verify_password("correct horsE", *hash));
  EXPECT_FALSE(verify_password("correct horse ", *hash));
  EXPECT_FALSE(verify_password("", *hash));
}

TEST(Password, FreshSaltEachTime) {
  auto a = hash_password("same");
  auto b = hash_password("same");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
}

TEST(Password, RefusesEmptyNulAndTooLong) {
  EXPECT_FALSE(hash_password("").ok());
  EXPECT_FALSE(hash_password(std::string("ab\0cd", 5)).ok());
  EXPECT_FALSE(hash_password(std::string(kMaxPasswordLength + 1, 'x')).ok());
  EXPECT_TRUE(hash_password(std::string(kMaxPasswordLength, 'x')).ok());
}

TEST(Password, NulInPasswordNeverMatchesItsPrefix) {
  auto hash = hash_password("ab");
  ASSERT_TRUE(hash.ok());
  EXPECT_FALSE(verify_password(std::string("ab\0cd", 5), *hash));
}

// Hashes made elsewhere: OpenSSL's own sha-crypt ("openssl passwd -6/-5"),
// the Openwall crypt_blowfish test vector, and fixed yescrypt, gost-yescrypt
// and scrypt strings, as mkpasswd or Dovecot would hold them.
TEST(Password, VerifiesImportedSchemes) {
  struct Case {
    const char* hash;
    const char* password;
  };
  const Case cases[] = {
      {"$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1", "secret"},
      {"$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA", "secret"},
      {"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"},
      {"$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"},
      {"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$zwtVrjrUCmXcyLTs6oxLTQlzifSUkF8RHJ./tK5KU79", "correct horse"},
      {"$gy$j9T$F5Jx5fExrKuPp53xLKQ..1$fjSOzYe3VPU6Q.dJqx4tYW6CE1ptRyuKNHZ4IlHBYq1", "correct horse"},
      {"$7$CU..../....2Q9ZYOJxo8RSWTiPCCaRD.$BMadVWhQ6QzAO6EjO7HPq0oEYQjcD39kEsoTRjV5xE/", "correct horse"},
  };
  for (const auto& c : cases) {
    EXPECT_TRUE(is_supported_hash(c.hash)) << c.hash;
    EXPECT_TRUE(verify_password(c.password, c.hash)) << c.hash;
    EXPECT_FALSE(verify_password("wrong", c.hash)) << c.hash;
  }
}

TEST(Password, WeakOrMalformedHashesNeverVerify) {
  const char* hashes[] = {
      "$1$saltsalt$9xy1btjgzLYfb7hivXtC//",  // MD5-crypt of "secret": weak, refused
      "sa3tHJ3/KuYvI",                        // DES
      "",
      "$y$",
      "$y$j9T$abc$def",
      "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$",  // a setting, no hash
      "!$y$j9T$F5Jx5fExrKuPp53xLKQ..1$zwtVrjrUCmXcyLTs6oxLTQlzifSUkF8RHJ./tK5KU79",
      "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$zwtVrjrUCmXcyLTs6oxLTQlzifSUkF8RHJ./tK5KU7",  // truncated
      "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$zwtVrjrUCmXcyLTs6oxLTQlzifSUkF8RHJ./tK5KU79:x",
      "$2b$99$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
      "$6$",
      "$7$garbage",
      "$gy$",
  };
  for (const char* hash : hashes) {
    EXPECT_FALSE(verify_password("secret", hash)) << hash;
    EXPECT_FALSE(verify_password("correct horse", hash)) << hash;
  }
  std::string huge = "$6$" + std::string(100000, 'a');
  EXPECT_FALSE(verify_password("secret", huge));
  EXPECT_FALSE(is_supported_hash("$1$saltsalt$9xy1btjgzLYfb7hivXtC//"));
  EXPECT_FALSE(is_supported_hash("$y$j9T$a b"));
}

// Not a check: how long one verification takes on this machine (the
// server calls it on a worker thread; see docs/operations.md).
TEST(Password, TimeOfOneVerification) {
  auto hash = hash_password("timing");
  ASSERT_TRUE(hash.ok());
  constexpr int kRounds = 5;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) EXPECT_TRUE(verify_password("timing", *hash));
  auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  std::printf("yescrypt verification: %.1f ms\n", elapsed.count() / kRounds);
}

}  // namespace
}  // namespace tern::auth
