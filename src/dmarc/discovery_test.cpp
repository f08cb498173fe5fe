// Record selection and discovery (RFC 7489 6.6.3) against the dns_selection
// cases of ../shared/conformance/dmarc/records.json, through lookup_policy
// with a fake dns::Lookup.
#include "dmarc/discovery.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "dmarc/policy_lookup.h"

namespace tern::dmarc {
namespace {

namespace asio = boost::asio;

dns::Answer answer(dns::Status status, std::vector<std::string> texts = {}) {
  dns::Answer a;
  a.status = status;
  a.texts = std::move(texts);
  return a;
}

// Serves TXT answers from memory; any other name is NXDOMAIN.
class FakeLookup : public dns::Lookup {
 public:
  std::map<std::string, dns::Answer> zone;
  std::vector<std::string> asked;

  asio::awaitable<dns::Answer> lookup(std::string name, dns::RecordType type) override {
    asked.push_back(name);
    auto found = zone.find(name);
    if (type != dns::RecordType::kTxt || found == zone.end()) co_return answer(dns::Status::kNxDomain);
    co_return found->second;
  }
};

Discovery run(FakeLookup& dns, std::string from_domain) {
  asio::io_context io;
  Discovery out;
  bool done = false;
  asio::co_spawn(io, lookup_policy(dns, std::move(from_domain)), [&](std::exception_ptr e, Discovery d) {
    done = !e;
    out = std::move(d);
  });
  io.run();
  EXPECT_TRUE(done);
  return out;
}

// The case's TXT records as the resolver gives them: the character-strings
// of one record joined with nothing between them (dns/lookup.h).
dns::Answer case_answer(const nlohmann::json& txt) {
  if (txt.is_null()) return answer(dns::Status::kNxDomain);
  if (txt.is_string()) return answer(dns::Status::kTempFail);
  std::vector<std::string> texts;
  for (const auto& record : txt) {
    std::string joined;
    for (const auto& piece : record) joined += piece.get<std::string>();
    texts.push_back(joined);
  }
  return answer(dns::Status::kOk, texts);
}

TEST(DmarcDiscovery, ConformanceDnsSelection) {
  std::ifstream in(std::string(TERN_SHARED_DIR) + "/conformance/dmarc/records.json");
  auto file = nlohmann::json::parse(in, nullptr, false);
  ASSERT_TRUE(file.is_object());
  ASSERT_EQ(file["dns_selection"].size(), file["dns_case_count"].get<std::size_t>());
  std::size_t passed = 0;
  for (const auto& c : file["dns_selection"]) {
    std::string id = c["id"];
    std::string outcome = c["outcome"];
    // A subdomain From whose organizational domain publishes another
    // record: asked only when the From domain has no DMARC record.
    FakeLookup dns;
    dns.zone["_dmarc.mail.example.com"] = case_answer(c["txt_records"]);
    dns.zone["_dmarc.example.com"] = answer(dns::Status::kOk, {"v=DMARC1; p=quarantine; sp=reject"});
    Discovery d = run(dns, "Mail.Example.COM.");
    bool asked_org = dns.asked.size() == 2;
    bool ok = false;
    if (outcome == "use") {
      ok = d.status == DiscoveryStatus::kFound && d.text == c["record"] && !asked_org &&
           d.domain == "mail.example.com" && !d.at_org_domain &&
           d.parsed.record == parse_record(c["record"].get<std::string>()).record;
    } else if (outcome == "no_policy") {
      ok = d.status == DiscoveryStatus::kNoPolicy && !asked_org;
    } else if (outcome == "temperror") {
      ok = d.status == DiscoveryStatus::kTempError && !asked_org;
    } else if (outcome == "none_try_org_domain") {
      ok = d.status == DiscoveryStatus::kFound && asked_org && dns.asked[1] == "_dmarc.example.com" &&
           d.domain == "example.com" && d.at_org_domain && d.parsed.record.sp == Policy::kReject;
      // And nothing at the organizational domain either: none.
      dns.zone.erase("_dmarc.example.com");
      ok = ok && run(dns, "mail.example.com").status == DiscoveryStatus::kNone;
    }
    EXPECT_TRUE(ok) << id << ": " << to_string(d.status) << " " << d.detail;
    passed += ok;
  }
  EXPECT_EQ(passed, file["dns_selection"].size());
  std::printf("records.json: %zu/%zu dns_selection cases pass\n", passed, file["dns_selection"].size());
}

TEST(DmarcDiscovery, OrganizationalDomainItselfIsAskedOnce) {
  FakeLookup dns;
  EXPECT_EQ(run(dns, "example.co.uk").status, DiscoveryStatus::kNone);
  EXPECT_EQ(dns.asked, std::vector<std::string>{"_dmarc.example.co.uk"});
}

TEST(DmarcDiscovery, TempErrorAtTheOrganizationalDomain) {
  FakeLookup dns;
  dns.zone["_dmarc.example.com"] = answer(dns::Status::kTempFail);
  EXPECT_EQ(run(dns, "a.b.example.com").status, DiscoveryStatus::kTempError);
  EXPECT_EQ(dns.asked, (std::vector<std::string>{"_dmarc.a.b.example.com", "_dmarc.example.com"}));
}

TEST(DmarcDiscovery, UnusableRecordDoesNotFallBackToTheOrganizationalDomain) {
  FakeLookup dns;
  dns.zone["_dmarc.news.example.com"] = answer(dns::Status::kOk, {"v=DMARC1; p=bogus"});
  dns.zone["_dmarc.example.com"] = answer(dns::Status::kOk, {"v=DMARC1; p=reject"});
  EXPECT_EQ(run(dns, "news.example.com").status, DiscoveryStatus::kNoPolicy);
  EXPECT_EQ(dns.asked.size(), 1u);
}

TEST(DmarcDiscovery, SelectRecordNoData) {
  EXPECT_EQ(select_record(answer(dns::Status::kNoData)).status, DiscoveryStatus::kNone);
  EXPECT_EQ(select_record(answer(dns::Status::kOk, {"v=spf1 -all"})).status, DiscoveryStatus::kNone);
  EXPECT_EQ(select_record(answer(dns::Status::kOk, {"v=DMARC1; p=none", "v=DMARC1; p=none"})).status,
            DiscoveryStatus::kNoPolicy);
}

}  // namespace
}  // namespace tern::dmarc
