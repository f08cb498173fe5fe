#include "proto/sasl.h"

#include <gtest/gtest.h>

#include "base/base64.h"

namespace tern::proto {
namespace {

using Status = SaslServer::Status;

std::string b64(std::string_view s) { return base64_encode(s); }

TEST(Sasl, Mechanisms) {
  EXPECT_EQ(parse_sasl_mechanism("plain"), SaslMechanism::kPlain);
  EXPECT_EQ(parse_sasl_mechanism("LOGIN"), SaslMechanism::kLogin);
  EXPECT_FALSE(parse_sasl_mechanism("CRAM-MD5"));
  EXPECT_FALSE(parse_sasl_mechanism(""));
}

TEST(Sasl, PlainWithInitialResponse) {
  SaslServer s(SaslMechanism::kPlain);
  auto message = b64(std::string("\0alice@example.test\0s3cret", 26));
  ASSERT_EQ(s.start(message), Status::kCredentials);
  EXPECT_EQ(s.credentials().login, "alice@example.test");
  EXPECT_EQ(s.credentials().password, "s3cret");
  EXPECT_EQ(s.credentials().authzid, "");
}

TEST(Sasl, PlainAfterAnEmptyChallenge) {
  SaslServer s(SaslMechanism::kPlain);
  ASSERT_EQ(s.start(std::nullopt), Status::kChallenge);
  EXPECT_EQ(s.challenge(), "");
  ASSERT_EQ(s.respond(b64(std::string("alice\0alice\0pw", 14))), Status::kCredentials);
  EXPECT_EQ(s.credentials().authzid, "alice");
}

TEST(Sasl, PlainMalformed) {
  for (std::string bad : {std::string("no nuls"), std::string("\0only-one", 9), std::string("\0\0pw", 4),
                          std::string("\0user\0", 6), std::string("a\0b\0c\0d", 7),
                          std::string("\0user\0") + std::string(256, 'p')}) {
    SaslServer s(SaslMechanism::kPlain);
    EXPECT_EQ(s.start(b64(bad)), Status::kMalformed) << bad;
  }
  SaslServer s(SaslMechanism::kPlain);
  EXPECT_EQ(s.start("not base64!"), Status::kMalformed);
  SaslServer empty(SaslMechanism::kPlain);
  EXPECT_EQ(empty.start("="), Status::kMalformed);  // an empty message holds no credentials
}

TEST(Sasl, Login) {
  SaslServer s(SaslMechanism::kLogin);
  ASSERT_EQ(s.start(std::nullopt), Status::kChallenge);
  EXPECT_EQ(s.challenge(), "VXNlcm5hbWU6");  // "Username:"
  ASSERT_EQ(s.respond(b64("bob@example.test")), Status::kChallenge);
  EXPECT_EQ(s.challenge(), "UGFzc3dvcmQ6");  // "Password:"
  ASSERT_EQ(s.respond(b64("pw")), Status::kCredentials);
  EXPECT_EQ(s.credentials().login, "bob@example.test");
  EXPECT_EQ(s.credentials().password, "pw");
}

TEST(Sasl, LoginWithInitialResponse) {
  SaslServer s(SaslMechanism::kLogin);
  ASSERT_EQ(s.start(b64("bob@example.test")), Status::kChallenge);
  EXPECT_EQ(s.challenge(), "UGFzc3dvcmQ6");
  ASSERT_EQ(s.respond(b64("pw")), Status::kCredentials);
}

TEST(Sasl, CancelAndMalformed) {
  SaslServer s(SaslMechanism::kLogin);
  s.start(std::nullopt);
  EXPECT_EQ(s.respond("*"), Status::kCancelled);
  SaslServer t(SaslMechanism::kLogin);
  t.start(std::nullopt);
  EXPECT_EQ(t.respond("YWJj="), Status::kMalformed);
  SaslServer u(SaslMechanism::kLogin);
  u.start(std::nullopt);
  EXPECT_EQ(u.respond(b64(std::string("a\0b", 3))), Status::kMalformed);
}

}  // namespace
}  // namespace tern::proto
