// Sealing (RFC 8617 5.1): the three fields and their layout, the AAR from
// our Authentication-Results, the AMS header list, cv= for each arriving
// chain, the 50-set limit, refused requests, every cut of the stream.
#include "arc/sealer.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "arc/test_support.h"

namespace tern::arc {
namespace {

using test::hop;
using test::kMessage;
using test::replace;
using test::seal_set;
using test::verify;

constexpr std::string_view kAr = "Authentication-Results: mx.lists.example;\r\n\tspf=pass smtp.mailfrom=origin.example\r\n";

std::string joined(const SealedSet& set) {
  std::string out;
  for (const auto& f : set.fields) out += f;
  return out;
}

TEST(Seal, FieldsInOrderFoldedWithinLines) {
  auto set = seal_set(test::lists(), kMessage, ChainStatus::kNone, kAr);
  ASSERT_TRUE(set) << set.error().detail;
  EXPECT_EQ(set->instance, 1u);
  ASSERT_EQ(set->fields.size(), 3u);
  EXPECT_EQ(set->fields[0].rfind("ARC-Seal: i=1; cv=none; a=rsa-sha256; d=lists.example; s=arc1; t=1700000000;\r\n b=", 0), 0u)
      << set->fields[0];
  EXPECT_EQ(set->fields[1].rfind("ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=lists.example;", 0), 0u)
      << set->fields[1];
  EXPECT_EQ(set->fields[2], "ARC-Authentication-Results: i=1; mx.lists.example;\r\n\tspf=pass smtp.mailfrom=origin.example\r\n");
  for (const auto& field : set->fields) {
    ASSERT_GE(field.size(), 2u);
    EXPECT_EQ(field.substr(field.size() - 2), "\r\n");
    std::size_t at = 0;
    while (at < field.size()) {
      auto end = field.find("\r\n", at);
      ASSERT_NE(end, std::string::npos);
      EXPECT_LE(end - at, 78u) << field.substr(at, end - at);
      EXPECT_EQ(field.find('\n', at), end + 1);  // no bare LF
      if (at > 0) {
        EXPECT_TRUE(field[at] == ' ' || field[at] == '\t');
      }
      at = end + 2;
    }
  }
}

TEST(Seal, AuthResultsTextForms) {
  auto aar = [](std::string_view ar) {
    auto set = seal_set(test::lists(), kMessage, ChainStatus::kNone, ar);
    return set ? set->fields[2] : "error: " + set.error().detail;
  };
  // The value alone, the whole field in any case, a final CRLF or none.
  EXPECT_EQ(aar("mx.example; none"), "ARC-Authentication-Results: i=1; mx.example; none\r\n");
  EXPECT_EQ(aar("authentication-results :  mx.example; none\r\n"),
            "ARC-Authentication-Results: i=1; mx.example; none\r\n");
  // A first line too long for the name moves to a line of its own.
  std::string longer = "mx.example; spf=pass smtp.mailfrom=someone@a-rather-long-domain.example";
  EXPECT_EQ(aar(longer), "ARC-Authentication-Results: i=1;\r\n " + longer + "\r\n");
  // What would not stay one header field is refused.
  for (std::string_view bad : {"", " \r\n", "mx.example; none\r\nX-Injected: yes", "mx.example;\nnone", "mx.example;\rnone",
                   "mx.example; none\r\n\r\nbody"}) {
    EXPECT_EQ(aar(bad), "error: Authentication-Results text is empty or not one header field") << bad;
  }
  EXPECT_EQ(aar(std::string_view("mx.example;\0none", 16)),
            "error: Authentication-Results text is empty or not one header field");
}

TEST(Seal, MessageSignatureHeaderList) {
  auto message = "DKIM-Signature: v=1; a=rsa-sha256; d=origin.example; s=s; h=from; bh=YQ==; b=YQ==\r\n"
                 "Authentication-Results: mx.origin.example; none\r\n" +
                 kMessage;
  auto set = seal_set(test::lists(), message, ChainStatus::kNone, kAr);
  ASSERT_TRUE(set) << set.error().detail;
  auto ams = dkim::parse_signature(set->fields[1].substr(set->fields[1].find(':') + 1),
                                   dkim::SignatureKind::kArcMessage);
  ASSERT_TRUE(ams) << ams.error().detail;
  auto& h = ams->signed_headers;
  auto count = [&](std::string_view name) { return std::count(h.begin(), h.end(), name); };
  EXPECT_EQ(count("DKIM-Signature"), 1);  // the one present, not over-signed
  EXPECT_EQ(count("Authentication-Results"), 0);
  EXPECT_EQ(count("From"), 2);  // over-signed
  EXPECT_EQ(count("Content-Type"), 1);
  EXPECT_EQ(count("Received"), 0);
  for (const auto& name : h) EXPECT_FALSE(field_kind(name)) << name;
  EXPECT_EQ(verify(joined(*set) + message).status, ChainStatus::kPass);
  // A later DKIM-Signature on top does not break the AMS.
  auto signed_later = "DKIM-Signature: v=1; a=rsa-sha256; d=lists.example; s=s; h=from; bh=YQ==; b=YQ==\r\n" +
                      joined(*set) + message;
  EXPECT_EQ(verify(signed_later).status, ChainStatus::kPass);
}

TEST(Seal, ChainStatusOfTheNewSet) {
  auto one = hop(test::lists(), kMessage, "mx.lists.example");
  auto pass = seal_set(test::relay(), one, ChainStatus::kPass, kAr);
  ASSERT_TRUE(pass) << pass.error().detail;
  EXPECT_EQ(pass->instance, 2u);
  EXPECT_EQ(pass->fields[0].rfind("ARC-Seal: i=2; cv=pass; a=ed25519-sha256;", 0), 0u);
  // A failed chain: cv=fail, sealed over our set alone (RFC 8617 5.1.2);
  // the result is a failed chain for everyone after us.
  auto broken = replace(one, "The numbers are in.", "The numbers are out.");
  ASSERT_EQ(verify(broken).status, ChainStatus::kFail);
  auto fail = seal_set(test::relay(), broken, ChainStatus::kFail, kAr);
  ASSERT_TRUE(fail) << fail.error().detail;
  EXPECT_EQ(fail->instance, 2u);
  EXPECT_EQ(fail->fields[0].rfind("ARC-Seal: i=2; cv=fail;", 0), 0u);
  auto failed = joined(*fail) + broken;
  auto r = verify(failed);
  EXPECT_EQ(r.status, ChainStatus::kFail);
  EXPECT_EQ(r.reason, "ARC-Seal i=2: cv=fail");
  // ... and a chain marked failed gets no more sets (RFC 8617 5.1 step 1).
  auto again = seal_set(test::forward(), failed, ChainStatus::kFail, kAr);
  ASSERT_TRUE(again) << again.error().detail;
  EXPECT_EQ(again->instance, 0u);
  EXPECT_TRUE(again->fields.empty());
  EXPECT_EQ(again->skipped, "the newest ARC-Seal already says cv=fail");
}

TEST(Seal, RequestsThatDoNotFitTheMessage) {
  auto one = hop(test::lists(), kMessage, "mx.lists.example");
  auto error = [](const Result<SealedSet>& set) { return set ? std::string("sealed") : set.error().detail; };
  EXPECT_EQ(error(seal_set(test::relay(), one, ChainStatus::kNone, kAr)), "cv=none for a message with ARC header fields");
  EXPECT_EQ(error(seal_set(test::relay(), kMessage, ChainStatus::kPass, kAr)),
            "cv=pass for a message without a valid chain");
  EXPECT_EQ(error(seal_set(test::relay(), kMessage, ChainStatus::kFail, kAr)),
            "cv=fail for a message without ARC header fields");
  EXPECT_EQ(error(seal_set(test::relay(), " folded\r\n" + kMessage, ChainStatus::kNone, kAr)),
            "the header section starts with a continuation line");
  MessageSealer small(test::relay(), 100);
  small.feed(kMessage);
  EXPECT_FALSE(small.finish({.chain = ChainStatus::kNone, .authentication_results = kAr, .now = 1}));
}

TEST(Seal, FiftySetsAndNoMore) {
  auto message = kMessage;
  for (std::uint32_t i = 1; i <= kMaxInstances; ++i) {
    auto set = seal_set(test::relay(), message, i == 1 ? ChainStatus::kNone : ChainStatus::kPass, kAr);
    ASSERT_TRUE(set) << set.error().detail;
    ASSERT_EQ(set->instance, i);
    message = joined(*set) + message;
  }
  auto r = verify(message);
  EXPECT_EQ(r.status, ChainStatus::kPass) << r.reason;
  EXPECT_EQ(r.instances, 50u);
  auto more = seal_set(test::relay(), message, ChainStatus::kPass, kAr);
  ASSERT_TRUE(more);
  EXPECT_EQ(more->instance, 0u);
  EXPECT_EQ(more->skipped, "the chain has its 50 sets already (RFC 8617 4.2.1)");
}

TEST(Seal, EveryCutGivesTheSameFields) {
  auto one = hop(test::lists(), kMessage, "mx.lists.example");
  auto whole = seal_set(test::relay(), one, ChainStatus::kPass, kAr, one.size());
  ASSERT_TRUE(whole);
  for (std::size_t split = 0; split <= one.size(); ++split) {
    auto set = seal_set(test::relay(), one, ChainStatus::kPass, kAr, split);
    ASSERT_TRUE(set) << split;
    ASSERT_EQ(set->fields, whole->fields) << split;
  }
}

TEST(Sealer, OptionsAndKeysThatAreRefused) {
  auto pem = test::read_file(test::testdata("rsa2048.pem"));
  auto refused = [&](SealerOptions options, std::string_view key) {
    auto s = Sealer::create(std::move(options), key);
    return s ? std::string("created") : s.error().detail;
  };
  EXPECT_EQ(refused({.domain = "a.example", .selector = "s", .headers = {"From", "ARC-Seal"}}, pem),
            "the ARC-Message-Signature must not sign ARC-Seal");
  EXPECT_EQ(refused({.domain = "a.example", .selector = "s", .headers = {"From", "authentication-results"}}, pem),
            "the ARC-Message-Signature must not sign Authentication-Results");
  EXPECT_EQ(refused({.domain = "a.example", .selector = "s", .oversigned = {"DKIM-Signature"}}, pem),
            "DKIM-Signature cannot be over-signed by the ARC-Message-Signature");
  EXPECT_NE(refused({.domain = "a.example", .selector = "s"}, "not a key"), "created");
  EXPECT_NE(refused({.domain = "", .selector = "s"}, pem), "created");
  EXPECT_EQ(refused({.domain = "a.example", .selector = "s"}, pem), "created");
  auto loaded = Sealer::load({.domain = "a.example", .selector = "s"}, test::testdata("ed25519.pem"));
  ASSERT_TRUE(loaded) << loaded.error().detail;
  EXPECT_EQ(loaded->algorithm(), dkim::Algorithm::kEd25519Sha256);
  auto missing = Sealer::load({.domain = "a.example", .selector = "s"}, test::testdata("none.pem"));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().detail.find("none.pem"), std::string::npos);
}

}  // namespace
}  // namespace tern::arc
