// The ARC header fields as text: instances, seal tags, sets by instance and
// what a seal covers (RFC 8617 4.1, 4.2.1, 5.1.1).
#include "arc/chain.h"

#include <gtest/gtest.h>

namespace tern::arc {
namespace {

TEST(Instance, OfEachFieldKind) {
  EXPECT_EQ(instance_of(FieldKind::kAuthResults, " i=1; mx.example; spf=pass"), 1u);
  EXPECT_EQ(instance_of(FieldKind::kAuthResults, "\r\n i = 50 ;mx.example; none"), 50u);
  EXPECT_EQ(instance_of(FieldKind::kSeal, " i=7; cv=pass; a=rsa-sha256"), 7u);
  EXPECT_EQ(instance_of(FieldKind::kMessageSignature, " a=rsa-sha256; i=12; d=x"), 12u);
  for (auto bad : {" i=0; mx", " i=51; mx", " i=100; mx", " i=; mx", " i=1x; mx", " mx.example; i=1;",
                   " i=1 mx", " j=1; mx", ""}) {
    EXPECT_FALSE(instance_of(FieldKind::kAuthResults, bad)) << bad;
  }
  EXPECT_FALSE(instance_of(FieldKind::kSeal, " cv=none; a=rsa-sha256"));
  EXPECT_FALSE(instance_of(FieldKind::kSeal, " i=1; i=1"));  // not a tag list
}

TEST(Instance, FieldNames) {
  EXPECT_EQ(field_kind("arc-seal"), FieldKind::kSeal);
  EXPECT_EQ(field_kind("ARC-Message-Signature"), FieldKind::kMessageSignature);
  EXPECT_EQ(field_kind("Arc-Authentication-Results"), FieldKind::kAuthResults);
  EXPECT_FALSE(field_kind("Authentication-Results"));
  EXPECT_FALSE(field_kind("ARC-Seal2"));
}

TEST(SealTags, Parses) {
  auto seal = parse_seal(" i=2; cv=pass; a=ed25519-sha256; d=example.net; s=sel_1; t=1; b=YWJj\r\n ZA==");
  ASSERT_TRUE(seal) << seal.error().detail;
  EXPECT_EQ(seal->instance, 2u);
  EXPECT_EQ(seal->cv, ChainStatus::kPass);
  EXPECT_EQ(seal->algorithm, dkim::Algorithm::kEd25519Sha256);
  EXPECT_EQ(seal->signature, "abcd");
  EXPECT_EQ(seal->key_name(), "sel_1._domainkey.example.net");
}

TEST(SealTags, Refused) {
  const std::string good = "i=1; cv=none; a=rsa-sha256; d=example.net; s=s; b=YQ==";
  ASSERT_TRUE(parse_seal(good));
  auto error = [](std::string text) {
    auto seal = parse_seal(text);
    return seal ? std::string("parsed") : seal.error().detail;
  };
  EXPECT_EQ(error(good + "; h=from"), "ARC-Seal has an h= tag");
  EXPECT_EQ(error("cv=none; a=rsa-sha256; d=example.net; s=s; b=YQ=="), "ARC-Seal has no i=");
  EXPECT_EQ(error("i=1; a=rsa-sha256; d=example.net; s=s; b=YQ=="), "ARC-Seal has no cv=");
  EXPECT_EQ(error("i=1; cv=Pass; a=rsa-sha256; d=example.net; s=s; b=YQ=="),
            "ARC-Seal cv= is not none, pass or fail");
  EXPECT_EQ(error("i=1; cv=none; a=rsa-sha1; d=example.net; s=s; b=YQ=="),
            "ARC-Seal a= is not rsa-sha256 or ed25519-sha256");
  EXPECT_EQ(error("i=1; cv=none; a=rsa-sha256; d=example.net; s=s; b=Y"), "ARC-Seal b= is not base64");
  EXPECT_EQ(error("i=1; cv=none; a=rsa-sha256; d=exa mple.net; s=s; b=YQ=="), "ARC-Seal d= is not a domain name");
  EXPECT_EQ(error("i=1; cv=none; a=rsa-sha256; d=example.net; s=s s; b=YQ=="), "ARC-Seal s= is not a selector");
  EXPECT_EQ(error("i=1; cv"), "ARC-Seal is not a tag list");
}

std::vector<dkim::HeaderField> fields(const std::vector<std::string>& texts) {
  std::vector<dkim::HeaderField> out;
  for (const auto& t : texts) out.push_back({std::string_view(t).substr(0, t.find(':')), t});
  return out;
}

TEST(Chain, SetsByInstanceWhateverTheOrder) {
  std::vector<std::string> texts = {
      "ARC-Message-Signature: i=1; a=x\r\n", "ARC-Seal: i=2; cv=pass\r\n", "Subject: s\r\n",
      "ARC-Authentication-Results: i=2; mx; none\r\n", "ARC-Seal: i=1; cv=none\r\n",
      "ARC-Authentication-Results: i=1; mx; none\r\n", "ARC-Message-Signature: i=2; a=x\r\n"};
  auto f = fields(texts);
  auto chain = collect_chain(f);
  ASSERT_TRUE(chain.error.empty()) << chain.error;
  ASSERT_EQ(chain.sets.size(), 2u);
  EXPECT_EQ(chain.highest, 2u);
  EXPECT_EQ(chain.sets[0].seal, texts[4]);
  EXPECT_EQ(chain.sets[1].message_signature, texts[6]);
  // RFC 8617 5.1.1: AAR, AMS, AS of each set in instance order; the seal
  // being made or checked is the signature field itself.
  auto scope = seal_scope(chain.sets, 2);
  EXPECT_EQ(scope, (std::vector<std::string_view>{texts[5], texts[0], texts[4], texts[3], texts[6]}));
  EXPECT_EQ(seal_scope(chain.sets, 1), (std::vector<std::string_view>{texts[5], texts[0]}));
}

TEST(Chain, StructureErrors) {
  auto error = [](std::vector<std::string> texts) {
    auto f = fields(texts);
    auto chain = collect_chain(f);
    EXPECT_TRUE(chain.error.empty() || chain.sets.empty());
    return chain.error;
  };
  EXPECT_EQ(error({"Subject: none\r\n"}), "");
  EXPECT_FALSE(collect_chain(fields({"Subject: none\r\n"})).any);
  EXPECT_EQ(error({"ARC-Seal: i=1; cv=none\r\n"}), "ARC set i=1 is incomplete");
  EXPECT_EQ(error({"ARC-Seal: i=1; cv=none\r\n", "ARC-Seal: i=1; cv=none\r\n"}), "two ARC-Seal fields for i=1");
  EXPECT_EQ(error({"ARC-Seal: cv=none\r\n"}), "ARC-Seal has no instance 1-50");
  std::vector<std::string> gap = {"ARC-Seal: i=2; cv=pass\r\n", "ARC-Message-Signature: i=2; a=x\r\n",
                                  "ARC-Authentication-Results: i=2; mx; none\r\n"};
  EXPECT_EQ(error(gap), "ARC set i=1 is incomplete");
  EXPECT_EQ(collect_chain(fields(gap)).highest, 2u);
}

TEST(Chain, StatusNames) {
  EXPECT_EQ(status_name(ChainStatus::kNone), "none");
  EXPECT_EQ(status_name(ChainStatus::kPass), "pass");
  EXPECT_EQ(status_name(ChainStatus::kFail), "fail");
}

}  // namespace
}  // namespace tern::arc
