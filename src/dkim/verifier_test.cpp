// The verifier against every case of shared/conformance/dkim/cases.json, fed
// whole, in small chunks and cut at every byte; and its limits.
#include "dkim/verifier.h"

#include <gtest/gtest.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "dkim/test_support.h"

namespace tern::dkim {
namespace {

using test::conformance_path;
using test::read_file;
using test::verify_message;
using test::Zone;

struct Case {
  std::string id;
  std::string message;
  Zone zone;
  std::vector<std::string> expected;
  std::int64_t now = 0;
};

std::vector<Case> load_cases() {
  auto json = nlohmann::json::parse(read_file(conformance_path("cases.json")));
  std::vector<Case> cases;
  for (const auto& c : json["cases"]) {
    Case each;
    each.id = c["id"];
    each.message = read_file(conformance_path(c["file"]));
    for (const auto& [name, record] : c["dns_txt"].items()) each.zone[name] = record;
    for (const auto& e : c["expected"]) each.expected.push_back(e);
    each.now = c.contains("verify_time") ? c["verify_time"].get<std::int64_t>() : std::time(nullptr);
    cases.push_back(std::move(each));
  }
  return cases;
}

std::vector<std::string> statuses(const std::vector<SignatureResult>& results) {
  std::vector<std::string> out;
  for (const auto& r : results) out.emplace_back(status_name(r.status));
  return out;
}

std::string describe(const std::vector<SignatureResult>& results) {
  std::string out;
  for (const auto& r : results) out += std::string(status_name(r.status)) + " (" + r.reason + ") ";
  return out;
}

TEST(Conformance, EveryCaseGivesTheExpectedResults) {
  auto cases = load_cases();
  ASSERT_EQ(cases.size(), 23u);
  std::size_t passed = 0;
  for (const auto& c : cases) {
    auto results = verify_message(c.message, c.zone, c.now, c.message.size());
    EXPECT_EQ(statuses(results), c.expected) << c.id << ": " << describe(results);
    passed += statuses(results) == c.expected ? 1 : 0;
  }
  EXPECT_EQ(passed, cases.size());
}

TEST(Conformance, ResultsDoNotDependOnHowTheMessageIsCut) {
  for (const auto& c : load_cases()) {
    auto whole = statuses(verify_message(c.message, c.zone, c.now, c.message.size()));
    for (std::size_t chunk : {1, 2, 3, 7, 64, 1000}) {
      ASSERT_EQ(statuses(verify_message(c.message, c.zone, c.now, chunk)), whole)
          << c.id << " in chunks of " << chunk;
    }
    // Every cut in the header section and the start of the body, then every
    // 61st (the body canonicalization has its own every-split tests).
    auto body = c.message.find("\r\n\r\n") + 4 + 256;
    for (std::size_t split = 0; split <= c.message.size(); split += split < body ? 1 : 61) {
      ASSERT_EQ(statuses(verify_message(c.message, c.zone, c.now, 0, split)), whole)
          << c.id << " cut at " << split;
    }
  }
}

TEST(Conformance, ResultsCarryTheIdentifiers) {
  auto message = read_file(conformance_path("messages/rfc8463-example.eml"));
  auto cases = load_cases();
  auto results = verify_message(message, cases[2].zone, std::time(nullptr), message.size());
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].domain, "football.example.com");
  EXPECT_EQ(results[0].identity, "@football.example.com");
  EXPECT_EQ(results[0].selector, "brisbane");
  EXPECT_EQ(results[0].algorithm, "ed25519-sha256");
  EXPECT_EQ(results[0].b_prefix, "/gCrinpc");
  EXPECT_EQ(results[1].algorithm, "rsa-sha256");
  EXPECT_EQ(results[1].b_prefix, "F45dVWDf");
}

TEST(Verifier, BadDomainIsNeverLookedUp) {
  Verifier v;
  v.feed(read_file(conformance_path("messages/dkimpy-baddomain.eml")));
  v.finish();
  ASSERT_EQ(v.signature_count(), 1u);
  EXPECT_FALSE(v.key_query(0));
  EXPECT_TRUE(v.key_queries().empty());
  EXPECT_EQ(v.verify(0, KeyAnswer::found({"v=DKIM1; p="}), 0).status, Status::kPermError);
}

const Zone kExampleZone = {
    {"brisbane._domainkey.example.com",
     "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCj"
     "xOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcW"
     "ToIMmPSPDdQPNUYckcQ2QIDAQAB"}};

std::string example() { return read_file(conformance_path("messages/rfc6376-example-signed.eml")); }

TEST(Verifier, KeyAnswers) {
  Verifier v;
  v.feed(example());
  v.finish();
  ASSERT_EQ(v.key_queries(), std::vector<std::string>{"brisbane._domainkey.example.com"});
  EXPECT_EQ(v.verify(0, KeyAnswer::temp_fail(), 0).status, Status::kTempError);
  EXPECT_EQ(v.verify(0, KeyAnswer::not_found(), 0).status, Status::kPermError);
  EXPECT_EQ(v.verify(0, KeyAnswer::found({}), 0).status, Status::kPermError);
  auto good = kExampleZone.at("brisbane._domainkey.example.com");
  // Several records: one that verifies is enough (RFC 6376 3.6.2.2).
  EXPECT_EQ(v.verify(0, KeyAnswer::found({"v=spf1 -all", good}), 0).status, Status::kPass);
  auto testing = v.verify(0, KeyAnswer::found({good + "; t=y"}), 0);
  EXPECT_EQ(testing.status, Status::kPass);
  EXPECT_TRUE(testing.testing);
  auto r = v.verify(0, KeyAnswer::found({good + "; h=sha1"}), 0);
  EXPECT_EQ(r.status, Status::kPermError) << r.reason;
  r = v.verify(0, KeyAnswer::found({good + "; s=im"}), 0);
  EXPECT_EQ(r.status, Status::kPermError) << r.reason;
  // The example's i= is joe@football.example.com, a subdomain of d=.
  r = v.verify(0, KeyAnswer::found({good + "; t=s"}), 0);
  EXPECT_EQ(r.status, Status::kPermError) << r.reason;
  EXPECT_EQ(v.verify(1, KeyAnswer::found({good}), 0).status, Status::kPermError);  // no such signature
}

TEST(Verifier, OverlongHeaderSectionIsOnePermError) {
  auto message = example();
  auto results = verify_message(message, kExampleZone, 0, 100, 0, {.max_header_bytes = 200});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status, Status::kPermError);
  results = verify_message(message, kExampleZone, 0, 100, 0, {.max_header_bytes = 1000});
  EXPECT_EQ(statuses(results), std::vector<std::string>{"pass"});
}

TEST(Verifier, SignatureCountIsLimited) {
  auto message = example();
  auto field_end = message.find("\r\nReceived:") + 2;
  auto field = message.substr(0, field_end);
  std::string many;
  for (int i = 0; i < 12; ++i) many += field;
  Verifier v({.max_signatures = 10});
  v.feed(many + message.substr(field_end));
  v.finish();
  EXPECT_EQ(v.signature_count(), 10u);
  EXPECT_EQ(v.ignored_signatures(), 2u);
  auto key = KeyAnswer::found({kExampleZone.begin()->second});
  for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(v.verify(i, key, 0).status, Status::kPass);
}

TEST(Verifier, NoSignatureAndNoBody) {
  EXPECT_TRUE(verify_message("From: a@example.com\r\n", {}, 0, 5).empty());
  EXPECT_TRUE(verify_message("", {}, 0, 5).empty());
  auto unsigned_message = read_file(conformance_path("messages/rfc6376-example-unsigned.eml"));
  EXPECT_TRUE(verify_message(unsigned_message, {}, 0, 5).empty());
}

TEST(Verifier, ExpiredSignature) {
  auto message = read_file(conformance_path("messages/stalwart-topicbox.eml"));
  auto cases = load_cases();
  const Case* topicbox = nullptr;
  for (const auto& c : cases) topicbox = c.id == "stalwart-topicbox" ? &c : topicbox;
  ASSERT_TRUE(topicbox);
  auto late = verify_message(message, topicbox->zone, 4102444800, message.size());  // 2100
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].status, Status::kPermError);
  EXPECT_NE(late[0].reason.find("expired"), std::string::npos);
}

}  // namespace
}  // namespace tern::dkim
