// Alignment and evaluation against ../shared/conformance/dmarc/
// evaluation.json, and pct= sampling (RFC 7489 6.6.4).
#include "dmarc/evaluate.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "dmarc/org_domain.h"

namespace tern::dmarc {
namespace {

nlohmann::json load() {
  std::ifstream in(std::string(TERN_SHARED_DIR) + "/conformance/dmarc/evaluation.json");
  return nlohmann::json::parse(in, nullptr, false);
}

std::string str(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : std::string(); }

Discovery found(std::string_view record, bool at_org_domain) {
  Discovery d;
  d.status = DiscoveryStatus::kFound;
  d.parsed = parse_record(record);
  d.text = record;
  d.at_org_domain = at_org_domain;
  return d;
}

TEST(DmarcAlignment, ConformanceAlignment) {
  auto file = load();
  ASSERT_TRUE(file.is_object());
  ASSERT_EQ(file["alignment"].size(), file["alignment_case_count"].get<std::size_t>());
  std::size_t passed = 0;
  for (const auto& c : file["alignment"]) {
    auto mode = c["mode"] == "s" ? AlignmentMode::kStrict : AlignmentMode::kRelaxed;
    bool got = aligned(str(c["from_domain"]), str(c["authenticated_domain"]), mode);
    EXPECT_EQ(got, c["aligned"].get<bool>()) << c.dump();
    passed += got == c["aligned"].get<bool>();
  }
  EXPECT_EQ(passed, file["alignment"].size());
  std::printf("evaluation.json: %zu/%zu alignment cases pass\n", passed, file["alignment"].size());
}

TEST(DmarcAlignment, OrganizationalDomains) {
  EXPECT_EQ(organizational_domain("a.b.Example.CO.UK."), "example.co.uk");
  EXPECT_EQ(organizational_domain("example.com"), "example.com");
  EXPECT_EQ(organizational_domain("com"), "com");  // a public suffix is its own
  EXPECT_EQ(organizational_domain(""), "");
  EXPECT_EQ(organizational_domain(std::string("evil\0.example.com", 18)), std::string("evil\0.example.com", 18));
  EXPECT_FALSE(aligned("", "", AlignmentMode::kRelaxed));
  EXPECT_FALSE(aligned("co.uk", "example.co.uk", AlignmentMode::kRelaxed));
}

TEST(DmarcEvaluation, ConformanceEvaluation) {
  auto file = load();
  ASSERT_TRUE(file.is_object());
  ASSERT_EQ(file["evaluation"].size(), file["evaluation_case_count"].get<std::size_t>());
  std::size_t passed = 0;
  for (const auto& c : file["evaluation"]) {
    std::string id = c["id"];
    std::string from = c["header_from_domain"];
    Discovery policy;  // kNone
    if (!c["record"].is_null()) policy = found(str(c["record"]), c["record_found_at"] != "_dmarc." + from);
    Identifiers ids{from, {c["spf"]["result"] == "pass", str(c["spf"]["domain"])}, {}};
    for (const auto& s : c["dkim"]) ids.dkim.push_back({s["result"] == "pass", str(s["d"])});
    std::string disposition = c["expected_disposition"];
    // pct=0: RFC 7489 6.6.4 gives the next lower policy (reject →
    // quarantine), the answer the file calls the RFC one.
    if (disposition == "none_or_quarantine") disposition = "quarantine";
    bool ok = true;
    // Whatever the sampling draw, unless pct= is below 100.
    for (std::uint32_t sample : {0u, 42u, 99u}) {
      Evaluation e = evaluate(policy, ids, sample);
      bool this_ok = to_string(e.result) == c["expected_dmarc"] && to_string(e.disposition) == disposition;
      EXPECT_TRUE(this_ok) << id << " sample " << sample << ": " << to_string(e.result) << " / "
                           << to_string(e.disposition) << " (" << e.detail << ")";
      ok = ok && this_ok;
    }
    passed += ok;
  }
  EXPECT_EQ(passed, file["evaluation"].size());
  std::printf("evaluation.json: %zu/%zu evaluation cases pass\n", passed, file["evaluation"].size());
}

Identifiers failing(std::string from) { return Identifiers{std::move(from), {false, "example.net"}, {}}; }

TEST(DmarcEvaluation, PctSamplingGivesTheNextLowerPolicy) {
  auto reject = found("v=DMARC1; p=reject; pct=30", false);
  auto quarantine = found("v=DMARC1; p=quarantine; pct=30", false);
  Evaluation e = evaluate(reject, failing("example.com"), 29);
  EXPECT_TRUE(e.sampled);
  EXPECT_EQ(e.disposition, Policy::kReject);
  e = evaluate(reject, failing("example.com"), 30);
  EXPECT_FALSE(e.sampled);
  EXPECT_EQ(e.disposition, Policy::kQuarantine);
  EXPECT_EQ(e.policy, Policy::kReject);  // what was asked, for the header
  EXPECT_EQ(evaluate(quarantine, failing("example.com"), 99).disposition, Policy::kNone);
  EXPECT_EQ(evaluate(quarantine, failing("example.com"), 0).disposition, Policy::kQuarantine);
}

TEST(DmarcEvaluation, SpOnlyForRecordsFoundAtTheOrganizationalDomain) {
  EXPECT_EQ(evaluate(found("v=DMARC1; p=reject; sp=none", false), failing("example.com"), 0).disposition,
            Policy::kReject);
  EXPECT_EQ(evaluate(found("v=DMARC1; p=reject; sp=none", true), failing("a.example.com"), 0).disposition,
            Policy::kNone);
  EXPECT_EQ(evaluate(found("v=DMARC1; p=none; sp=reject", true), failing("a.example.com"), 0).disposition,
            Policy::kReject);
}

TEST(DmarcEvaluation, ErrorsAndDetails) {
  Discovery temp;
  temp.status = DiscoveryStatus::kTempError;
  Discovery broken;
  broken.status = DiscoveryStatus::kNoPolicy;
  EXPECT_EQ(evaluate(temp, failing("example.com"), 0).result, DmarcResult::kTempError);
  EXPECT_EQ(evaluate(broken, failing("example.com"), 0).result, DmarcResult::kPermError);
  EXPECT_EQ(evaluate(broken, failing("example.com"), 0).disposition, Policy::kNone);

  Identifiers ids{"Example.COM.", {true, "bounce@mail.example.com"}, {{true, "other.example"}, {true, "EXAMPLE.com"}}};
  Evaluation e = evaluate(found("v=DMARC1; p=reject", false), ids, 0);
  EXPECT_EQ(e.result, DmarcResult::kPass);
  EXPECT_EQ(e.from_domain, "example.com");
  EXPECT_TRUE(e.spf_aligned);
  EXPECT_TRUE(e.dkim_aligned);
  EXPECT_EQ(e.dkim_domain, "example.com");
  EXPECT_EQ(e.disposition, Policy::kNone);
}

}  // namespace
}  // namespace tern::dmarc
