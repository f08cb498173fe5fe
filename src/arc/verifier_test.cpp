// Chain validation (RFC 8617 5.2): chains sealed by tern over one to three
// hops pass; changed bodies, signed fields, seals and missing sets fail; the
// cv= rules; key answers; results independent of how the message is cut.
#include "arc/verifier.h"

#include <gtest/gtest.h>

#include "arc/test_support.h"

namespace tern::arc {
namespace {

using test::hop;
using test::kMessage;
using test::replace;
using test::verify;

const std::string& one_hop() {
  static const std::string m = hop(test::lists(), kMessage, "mx.lists.example");
  return m;
}
const std::string& three_hops() {
  static const std::string m =
      hop(test::forward(), hop(test::relay(), one_hop(), "mx.relay.example"), "mx.forward.example");
  return m;
}

void expect_fail(const std::string& message, std::string_view reason) {
  auto r = verify(message);
  EXPECT_EQ(r.status, ChainStatus::kFail);
  EXPECT_NE(r.reason.find(reason), std::string::npos) << r.reason;
}

TEST(Verify, NoArcFieldsIsNone) {
  auto r = verify(kMessage);
  EXPECT_EQ(r.status, ChainStatus::kNone);
  EXPECT_EQ(r.instances, 0u);
  Verifier v;
  v.feed(kMessage);
  v.finish();
  EXPECT_TRUE(v.key_queries().empty());
}

TEST(Verify, OneTwoAndThreeHopsPass) {
  const auto two = hop(test::relay(), one_hop(), "mx.relay.example");
  std::uint32_t n = 1;
  for (const auto* m : {&one_hop(), &two, &three_hops()}) {
    auto r = verify(*m);
    EXPECT_EQ(r.status, ChainStatus::kPass) << n << ": " << r.reason;
    EXPECT_EQ(r.instances, n);
    EXPECT_EQ(r.oldest_pass, 0u);  // nothing changed along the way
    EXPECT_TRUE(r.reason.empty());
    ++n;
  }
  EXPECT_EQ(verify(three_hops()).seal_domain, "forward.example");
  EXPECT_EQ(status_name(verify(three_hops()).status), "pass");
}

TEST(Verify, KeyQueriesNameEveryKeyOnceInLowerCase) {
  Verifier v;
  v.feed(replace(three_hops(), "d=forward.example;", "d=Forward.Example;"));
  v.finish();
  EXPECT_EQ(v.instances(), 3u);
  EXPECT_EQ(v.key_queries(), (std::vector<std::string>{"arc2._domainkey.forward.example",
                                                       "ed1._domainkey.relay.example",
                                                       "arc1._domainkey.lists.example"}));
}

// A mailing list that adds a footer and re-seals: the chain passes, and
// oldest-pass says the first AMS no longer validates (RFC 8617 5.2 step 5).
TEST(Verify, ModifiedBodyBetweenHopsGivesOldestPass) {
  auto footer = hop(test::relay(), one_hop(), "mx.relay.example", "-- \r\nlist footer\r\n");
  auto r = verify(footer);
  EXPECT_EQ(r.status, ChainStatus::kPass) << r.reason;
  EXPECT_EQ(r.oldest_pass, 2u);
  auto twice = hop(test::forward(), footer, "mx.forward.example");
  EXPECT_EQ(verify(twice).status, ChainStatus::kPass);
  EXPECT_EQ(verify(twice).oldest_pass, 2u);
  // Changed after the last seal: the newest AMS fails, and so the chain.
  expect_fail(footer + "more\r\n", "ARC-Message-Signature i=2: body hash did not verify");
}

TEST(Verify, TamperingFails) {
  const auto& m = three_hops();
  expect_fail(replace(m, "The numbers are in.", "The numbers are out."),
              "ARC-Message-Signature i=3: body hash did not verify");
  expect_fail(replace(m, "Subject: Quarterly  report", "Subject: Quarterly  rep0rt"),
              "ARC-Message-Signature i=3: signature did not verify");
  // A seal's own tags, and an AAR the seals cover.
  // Seals are checked newest first (RFC 8617 5.2 step 6): the third covers the first.
  expect_fail(replace(m, "cv=none; a=rsa-sha256; d=lists.example; s=arc1; t=1700000000;",
                      "cv=none; a=rsa-sha256; d=lists.example; s=arc1; t=1700000001;"),
              "ARC-Seal i=3: signature did not verify");
  expect_fail(replace(m, "i=2; mx.relay.example;\r\n\tspf=pass", "i=2; mx.relay.example;\r\n\tspf=fail"),
              "ARC-Seal i=3: signature did not verify");
  // Refolding and re-spacing are what relaxed canonicalization forgives.
  auto respaced = replace(m, "ARC-Authentication-Results: i=2; mx.relay.example;\r\n\tspf=pass",
                          "ARC-Authentication-Results:  i=2;   mx.relay.example; spf=pass");
  EXPECT_EQ(verify(respaced).status, ChainStatus::kPass) << verify(respaced).reason;
}

std::string without_field(const std::string& message, std::string_view start) {
  auto at = message.find(start);
  EXPECT_NE(at, std::string::npos);
  auto end = at;
  do end = message.find("\r\n", end) + 2;
  while (message[end] == ' ' || message[end] == '\t');
  return message.substr(0, at) + message.substr(end);
}

TEST(Verify, RemovedSetsAndFieldsFail) {
  const auto& m = three_hops();
  auto no_set_2 = without_field(without_field(without_field(m, "ARC-Seal: i=2;"), "ARC-Message-Signature: i=2;"),
                                "ARC-Authentication-Results: i=2;");
  expect_fail(no_set_2, "ARC set i=2 is incomplete");
  expect_fail(without_field(m, "ARC-Seal: i=1;"), "ARC set i=1 is incomplete");
  expect_fail(without_field(m, "ARC-Authentication-Results: i=3;"), "ARC set i=3 is incomplete");
  // The newest set gone: what remains is the chain as the second hop sent it.
  auto no_set_3 = without_field(without_field(without_field(m, "ARC-Seal: i=3;"), "ARC-Message-Signature: i=3;"),
                                "ARC-Authentication-Results: i=3;");
  EXPECT_EQ(verify(no_set_3).status, ChainStatus::kPass);
}

// RFC 8617 4.1.3 and 5.2 steps 2 and 3: found before any key is needed.
TEST(Verify, ChainValidationStatusRules) {
  const auto& m = three_hops();
  expect_fail(replace(m, "ARC-Seal: i=1; cv=none;", "ARC-Seal: i=1; cv=pass;"), "ARC-Seal i=1: cv=pass");
  expect_fail(replace(m, "ARC-Seal: i=2; cv=pass;", "ARC-Seal: i=2; cv=none;"), "ARC-Seal i=2: cv=none");
  expect_fail(replace(m, "ARC-Seal: i=2; cv=pass;", "ARC-Seal: i=2; cv=fail;"), "ARC-Seal i=2: cv=fail");
  expect_fail(replace(m, "ARC-Seal: i=3; cv=pass;", "ARC-Seal: i=3; cv=fail;"), "ARC-Seal i=3: cv=fail");
  expect_fail(replace(m, "ARC-Seal: i=3; cv=pass;", "ARC-Seal: i=3; cv=maybe;"), "cv= is not none");
  Verifier v;
  v.feed(replace(m, "ARC-Seal: i=3; cv=pass;", "ARC-Seal: i=3; cv=fail;"));
  v.finish();
  EXPECT_TRUE(v.key_queries().empty());
}

TEST(Verify, InstanceStructure) {
  const auto& m = three_hops();
  expect_fail("ARC-Seal: i=3; cv=pass; a=rsa-sha256; d=x.example; s=s; b=YQ==\r\n" + m, "two ARC-Seal fields for i=3");
  expect_fail(replace(m, "ARC-Message-Signature: i=2;", "ARC-Message-Signature: i=4;"), "ARC set i=2 is incomplete");
  expect_fail(replace(m, "ARC-Authentication-Results: i=1;", "ARC-Authentication-Results: i=51;"),
              "ARC-Authentication-Results has no instance 1-50");
  expect_fail(replace(m, "ARC-Authentication-Results: i=1;", "ARC-Authentication-Results: mx;"), "no instance");
  expect_fail(replace(m, "ARC-Seal: i=1;", "ARC-Seal: i=0;"), "ARC-Seal has no instance 1-50");
  expect_fail(replace(m, "ARC-Seal: i=1;", "ARC-Seal: i=1; h=from;"), "ARC-Seal i=1: ARC-Seal has an h= tag");
  // Header field names are case-insensitive (RFC 5322 1.2.2).
  auto lower = replace(replace(m, "ARC-Seal: i=1;", "arc-seal: i=1;"), "ARC-Message-Signature: i=2;",
                       "ARC-MESSAGE-SIGNATURE: i=2;");
  EXPECT_EQ(verify(lower).status, ChainStatus::kPass) << verify(lower).reason;
}

TEST(Verify, KeyAnswers) {
  const auto& m = one_hop();
  auto with = [&](KeyAnswers keys) {
    Verifier v;
    v.feed(m);
    v.finish();
    return v.verify(keys, test::kNow);
  };
  const std::string name = "arc1._domainkey.lists.example";
  auto record = test::zone().at(name);
  EXPECT_EQ(with({{name, dkim::KeyAnswer::found({record})}}).status, ChainStatus::kPass);
  // Any one of several records will do.
  EXPECT_EQ(with({{name, dkim::KeyAnswer::found({"v=DKIM1; p=", record})}}).status, ChainStatus::kPass);
  auto temp = with({{name, dkim::KeyAnswer::temp_fail()}});
  EXPECT_EQ(temp.status, ChainStatus::kFail);
  EXPECT_TRUE(temp.temporary);
  auto missing = with({});
  EXPECT_TRUE(missing.temporary) << missing.reason;
  auto none = with({{name, dkim::KeyAnswer::not_found()}});
  EXPECT_EQ(none.status, ChainStatus::kFail);
  EXPECT_FALSE(none.temporary);
  auto revoked = with({{name, dkim::KeyAnswer::found({"v=DKIM1; p="})}});
  EXPECT_NE(revoked.reason.find("key revoked"), std::string::npos) << revoked.reason;
  auto ed = with({{name, dkim::KeyAnswer::found({test::zone().at("ed1._domainkey.relay.example")})}});
  EXPECT_NE(ed.reason.find("key type does not match a="), std::string::npos) << ed.reason;
}

TEST(Verify, EveryCutGivesTheSameResult) {
  const auto two = hop(test::relay(), one_hop(), "mx.relay.example");
  const auto footer = hop(test::relay(), one_hop(), "mx.relay.example", "footer\r\n");
  const auto broken = replace(two, "Regards,", "Regards;");
  for (const auto* m : {&two, &footer, &broken}) {
    auto whole = verify(*m, test::zone(), m->size());
    for (std::size_t split = 0; split <= m->size(); ++split) {
      auto r = verify(*m, test::zone(), 0, split);
      ASSERT_EQ(r.status, whole.status) << split;
      ASSERT_EQ(r.reason, whole.reason) << split;
      ASSERT_EQ(r.oldest_pass, whole.oldest_pass) << split;
    }
    auto bytes = verify(*m, test::zone(), 1);
    EXPECT_EQ(bytes.status, whole.status);
    EXPECT_EQ(bytes.reason, whole.reason);
  }
  EXPECT_EQ(verify(two).status, ChainStatus::kPass);
  EXPECT_EQ(verify(footer).oldest_pass, 2u);
  EXPECT_EQ(verify(broken).status, ChainStatus::kFail);
}

TEST(Verify, OverlongHeaderSectionAndUnfinishedMessage) {
  auto r = verify(one_hop(), test::zone(), 0, 0, {.max_header_bytes = 512});
  EXPECT_EQ(r.status, ChainStatus::kFail);
  EXPECT_NE(r.reason.find("header section over 512 octets"), std::string::npos);
  Verifier v;
  v.feed(one_hop());
  EXPECT_EQ(v.verify({}, test::kNow).reason, "message not finished");
}

TEST(Verify, ExpiredOrUnusableMessageSignature) {
  const auto& m = one_hop();
  Verifier v;
  v.feed(replace(m, "ARC-Message-Signature: i=1;", "ARC-Message-Signature: i=1; x=1700000010;"));
  v.finish();
  KeyAnswers keys;
  for (const auto& name : v.key_queries()) keys[name] = dkim::KeyAnswer::found({test::zone().at(name)});
  EXPECT_EQ(v.verify(keys, test::kNow).reason, "ARC-Message-Signature i=1: signature did not verify");
  EXPECT_EQ(v.verify(keys, test::kNow + 11).reason, "ARC-Message-Signature i=1: signature expired (x=)");
  expect_fail(replace(m, "ARC-Message-Signature: i=1; a=rsa-sha256;", "ARC-Message-Signature: i=1; a=rsa-sha1;"),
              "ARC-Message-Signature i=1: rsa-sha1 is not accepted");
  expect_fail(replace(m, "h=From:", "h=ARC-Seal:From:"), "h= names ARC-Seal");
}

}  // namespace
}  // namespace tern::arc
