#include "srs/codec.h"

#include <gtest/gtest.h>

namespace tern::srs {
namespace {

constexpr std::time_t kDay = 86400;

// Expected values from srs_vectors.py (Python's hmac/hashlib/base64), which
// also reproduces postsrsd's own test vector.
TEST(SrsCodec, HashesMatchAnIndependentComputation) {
  EXPECT_EQ(make_hash("tops3cr3t", {"2W", "otherdomain.com", "test"}), "vmyz");
  EXPECT_EQ(make_hash("tern-srs-test-secret", {"G3", "example.org", "alice"}), "XOvQ");
  EXPECT_EQ(make_hash("tern-srs-test-secret", {"G3", "example.org", "a=b+c"}), "ZP-j");
  EXPECT_EQ(make_hash("tern-srs-test-secret", {"fwd1.example", "+AbCd=XY=example.org=carol"}), "Wk_A");
}

TEST(SrsCodec, HashFieldsAreLowercasedAndConcatenated) {
  EXPECT_EQ(make_hash("tern-srs-test-secret", {"G3", "Example.COM", "Bob.Smith"}), "c88f");
  EXPECT_EQ(make_hash("tern-srs-test-secret", {"g3", "example.com", "bob.smith"}), "c88f");
  EXPECT_EQ(make_hash("tern-srs-test-secret", {"g3example.com", "bob.smith"}), "c88f");
  EXPECT_NE(make_hash("another-secret-123", {"G3", "example.com", "bob.smith"}), "c88f");
}

TEST(SrsCodec, EmptySecretStillHashes) {
  auto hash = make_hash("", {"AA", "example.org", "x"});
  ASSERT_TRUE(hash);
  EXPECT_EQ(hash->size(), kHashLength);
}

TEST(SrsCodec, HashComparisonIgnoresCaseAndBase64Alphabet) {
  EXPECT_TRUE(hash_matches("XOvQ", "XOvQ"));
  EXPECT_TRUE(hash_matches("xovq", "XOvQ"));
  EXPECT_TRUE(hash_matches("XOVQ", "XOvQ"));
  EXPECT_TRUE(hash_matches("ZP+j", "ZP-j"));  // plain base64, as postsrsd 1.x wrote
  EXPECT_TRUE(hash_matches("Wk/A", "Wk_A"));
  EXPECT_TRUE(hash_matches("XOvQextra", "XOvQ"));  // libsrs2 compares kHashLength only
  EXPECT_FALSE(hash_matches("XOvR", "XOvQ"));
  EXPECT_FALSE(hash_matches("XOv", "XOvQ"));
  EXPECT_FALSE(hash_matches("", "XOvQ"));
  EXPECT_FALSE(hash_matches("ZP_j", "ZP-j"));
  EXPECT_FALSE(hash_matches("XO.Q", "XO.Q"));  // no base64 at all
  EXPECT_FALSE(hash_matches(std::string("XO\0Q", 4), std::string("XO\0Q", 4)));
}

TEST(SrsCodec, TimestampIsTheDayModulo1024InBase32) {
  EXPECT_EQ(make_timestamp(0), "AA");
  EXPECT_EQ(make_timestamp(kDay - 1), "AA");
  EXPECT_EQ(make_timestamp(kDay), "AB");
  EXPECT_EQ(make_timestamp(31 * kDay), "A7");
  EXPECT_EQ(make_timestamp(32 * kDay), "BA");
  EXPECT_EQ(make_timestamp(1023 * kDay), "77");
  EXPECT_EQ(make_timestamp(1024 * kDay), "AA");
  EXPECT_EQ(make_timestamp(1577836860), "2W");  // postsrsd's test time
  EXPECT_EQ(make_timestamp(1700000000), "G3");
  EXPECT_EQ(make_timestamp(-1), "77");  // the day before the epoch
}

TEST(SrsCodec, ParsesTimestampsInEitherCase) {
  EXPECT_EQ(parse_timestamp("AA"), 0);
  EXPECT_EQ(parse_timestamp("aa"), 0);
  EXPECT_EQ(parse_timestamp("2W"), parse_timestamp("2w"));
  EXPECT_EQ(parse_timestamp("77"), 1023);
  EXPECT_EQ(parse_timestamp("BA"), 32);
  for (const char* bad : {"", "A", "AAA", "A1", "A0", "A8", "A9", "A=", "-A", "\xc3\x81"}) {
    EXPECT_FALSE(parse_timestamp(bad)) << bad;
  }
}

TEST(SrsCodec, AgeCountsDaysAndWrapsAround) {
  EXPECT_EQ(timestamp_age(0, 0), 0);
  EXPECT_EQ(timestamp_age(0, 21 * kDay), 21);
  EXPECT_EQ(timestamp_age(1023, 1024 * kDay), 1);  // across the wrap
  EXPECT_EQ(timestamp_age(1020, 1027 * kDay), 7);
  EXPECT_EQ(timestamp_age(5, 4 * kDay), 1023);  // "tomorrow": nearly 1024 days old
  EXPECT_EQ(timestamp_age(1023, -1), 0);
}

}  // namespace
}  // namespace tern::srs
