#include "spf/check_host.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "spf/test_zone.h"

namespace tern::spf {
namespace {

using nlohmann::json;
using testing::request_for;
using testing::run_check_host;
using testing::TestZone;

// Explicit arrays: a braced list of two strings would become a JSON object.
json list(std::vector<std::string> items) { return json(std::move(items)); }
json records(std::vector<std::vector<std::string>> texts) { return json(std::move(texts)); }
json txt(std::string record) { return json::object({{"TXT", records({{std::move(record)}})}}); }

Outcome check(const json& zone, std::string_view ip, std::string_view mail_from, std::string_view helo = "mx.example.net") {
  TestZone dns(zone);
  return run_check_host(dns, request_for(ip, mail_from, helo));
}

std::size_t count_queries(const TestZone& dns, std::string_view prefix) {
  return std::count_if(dns.queries.begin(), dns.queries.end(),
                       [&](const std::string& q) { return q.rfind(prefix, 0) == 0; });
}

TEST(SpfCheckHost, NamesEveryResult) {
  EXPECT_EQ(to_string(Result::kNone), "none");
  EXPECT_EQ(to_string(Result::kNeutral), "neutral");
  EXPECT_EQ(to_string(Result::kPass), "pass");
  EXPECT_EQ(to_string(Result::kFail), "fail");
  EXPECT_EQ(to_string(Result::kSoftFail), "softfail");
  EXPECT_EQ(to_string(Result::kTempError), "temperror");
  EXPECT_EQ(to_string(Result::kPermError), "permerror");
}

TEST(SpfCheckHost, GivesEachOfTheSevenResults) {
  json zone = {{"example.com", txt("v=spf1 ip4:192.0.2.0/24 ~ip4:198.51.100.1 ?ip4:198.51.100.2 -all")},
               {"broken.example.com", txt("v=spf1 ip4:192.0.2.300")},
               {"neutral.example.com", txt("v=spf1 a")},
               {"timeout.example.com", {{"timeout", true}}}};
  EXPECT_EQ(check(zone, "192.0.2.7", "a@example.com").result, Result::kPass);
  EXPECT_EQ(check(zone, "198.51.100.1", "a@example.com").result, Result::kSoftFail);
  EXPECT_EQ(check(zone, "198.51.100.2", "a@example.com").result, Result::kNeutral);
  EXPECT_EQ(check(zone, "203.0.113.9", "a@example.com").result, Result::kFail);
  EXPECT_EQ(check(zone, "192.0.2.7", "a@broken.example.com").result, Result::kPermError);
  EXPECT_EQ(check(zone, "192.0.2.7", "a@neutral.example.com").result, Result::kNeutral);  // 4.7 default
  EXPECT_EQ(check(zone, "192.0.2.7", "a@timeout.example.com").result, Result::kTempError);
  EXPECT_EQ(check(zone, "192.0.2.7", "a@nowhere.example.com").result, Result::kNone);
}

TEST(SpfCheckHost, ReportsTheMechanismAndDetail) {
  json zone = {{"example.com", txt("v=spf1 ip4:198.51.100.0/24 include:_spf.example.com -all")},
               {"_spf.example.com", txt("v=spf1 ip4:192.0.2.0/24 -all")}};
  Outcome pass = check(zone, "192.0.2.7", "a@example.com");
  EXPECT_EQ(pass.result, Result::kPass);
  EXPECT_EQ(pass.mechanism, "include:_spf.example.com");
  EXPECT_NE(pass.detail.find("example.com"), std::string::npos) << pass.detail;
  EXPECT_TRUE(pass.explanation.empty());
  Outcome fail = check(zone, "203.0.113.1", "a@example.com");
  EXPECT_EQ(fail.result, Result::kFail);
  EXPECT_EQ(fail.mechanism, "-all");
  EXPECT_EQ(fail.explanation, "example.com does not designate 203.0.113.1 as a permitted sender");
}

TEST(SpfCheckHost, ExpandsTheExplanationOnlyForAFailAndOnce) {
  json zone = {{"example.com", txt("v=spf1 ip4:192.0.2.0/24 -all exp=why.%{d}")},
               {"why.example.com", txt("%{i} may not send for %{d} (%{l}, %{c}, %{r}, %{t})")}};
  auto request = request_for("203.0.113.1", "joe@example.com", "mx.example.net");
  request.receiver = "mx.example.org";
  request.now = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  TestZone dns(zone);
  Outcome fail = run_check_host(dns, request);
  EXPECT_EQ(fail.result, Result::kFail);
  EXPECT_EQ(fail.explanation,
            "203.0.113.1 may not send for example.com (joe, 203.0.113.1, mx.example.org, 1700000000)");
  EXPECT_EQ(count_queries(dns, "TXT why.example.com"), 1u);
  TestZone again(zone);
  EXPECT_EQ(run_check_host(again, request_for("192.0.2.1", "joe@example.com", "h.example")).result, Result::kPass);
  EXPECT_EQ(count_queries(again, "TXT why"), 0u);  // RFC 7208 6.2: only after a fail
}

TEST(SpfCheckHost, ExplanationIsMadeSafeForAReply) {
  json zone = {{"example.com", txt("v=spf1 -all exp=why.example.com")},
               {"why.example.com", txt("%{l} " + std::string(1000, 'x'))}};
  Outcome fail = check(zone, "192.0.2.1", "a\tb@example.com");
  EXPECT_EQ(fail.result, Result::kFail);
  EXPECT_EQ(fail.explanation.substr(0, 4), "a?b ");
  EXPECT_LE(fail.explanation.size(), 400u);
}

TEST(SpfCheckHost, DetailIsOneEscapedLine) {
  json zone = {{"example.com", txt("v=spf1 ip4:192.0.2.5\n include:x.example.com \xc3\xa9 ~all")}};
  Outcome o = check(zone, "192.0.2.5", "a@example.com");
  EXPECT_EQ(o.result, Result::kPermError);
  EXPECT_NE(o.detail.find("ip4:192.0.2.5\\x0a"), std::string::npos) << o.detail;
  for (char c : o.detail) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << o.detail;
}

TEST(SpfCheckHost, Ipv4MappedClientIsIpv4) {
  // RFC 7208 5: ip4 matches it, ip6 does not; "a" asks for A records.
  json zone = {{"example.com", txt("v=spf1 ip6:::ffff:0:0/96 ip4:192.0.2.1 -all")},
               {"a.example.com", {{"A", list({"192.0.2.1"})}, {"AAAA", list({"::ffff:192.0.2.1"})}, {"TXT", records({{"v=spf1 a -all"}})}}}};
  Outcome o = check(zone, "::ffff:192.0.2.1", "a@example.com");
  EXPECT_EQ(o.result, Result::kPass);
  EXPECT_EQ(o.mechanism, "ip4:192.0.2.1");
  TestZone dns(zone);
  EXPECT_EQ(run_check_host(dns, request_for("::ffff:192.0.2.1", "a@a.example.com", "h.example")).result, Result::kPass);
  EXPECT_EQ(count_queries(dns, "A a.example.com"), 1u);
  EXPECT_EQ(count_queries(dns, "AAAA"), 0u);
}

TEST(SpfCheckHost, NullReversePathAndHeloUsePostmasterAtHelo) {
  json zone = {{"mx.example.net", txt("v=spf1 -all exp=why.example.net")},
               {"why.example.net", txt("%{s} %{l} %{o} %{d} %{h}")}};
  Outcome o = check(zone, "192.0.2.1", "", "mx.example.net");
  EXPECT_EQ(o.result, Result::kFail);
  EXPECT_EQ(o.explanation, "postmaster@mx.example.net postmaster mx.example.net mx.example.net mx.example.net");
  TestZone dns(zone);
  boost::asio::io_context io;
  std::optional<Outcome> helo;
  boost::asio::co_spawn(io,
                        check_helo(dns, boost::asio::ip::make_address("192.0.2.1"), "mx.example.net", "",
                                   std::chrono::system_clock::time_point{}),
                        [&](std::exception_ptr, Outcome result) { helo = std::move(result); });
  io.run();
  ASSERT_TRUE(helo);
  EXPECT_EQ(helo->result, Result::kFail);
  EXPECT_EQ(helo->explanation, o.explanation);
  // RFC 7208 2.3, 4.3: a HELO that is no FQDN (or an address literal) gives none, asking nothing.
  TestZone quiet(zone);
  EXPECT_EQ(run_check_host(quiet, helo_request(boost::asio::ip::make_address("192.0.2.1"), "[192.0.2.1]", "", {}))
                .result,
            Result::kNone);
  EXPECT_TRUE(quiet.queries.empty());
}

TEST(SpfCheckHost, RecordSplitIntoCharacterStringsAnywhereGivesTheSameResult) {
  // RFC 7208 3.3: the strings of one TXT record are joined with nothing between.
  const std::string record = "v=spf1 ip4:192.0.2.0/24 mx:mx.example.com -all exp=why.example.com";
  for (std::size_t cut = 0; cut <= record.size(); ++cut) {
    json zone = {{"example.com", {{"TXT", records({{record.substr(0, cut), record.substr(cut)}})}}},
                 {"mx.example.com", {{"MX", {{{"preference", 10}, {"exchange", "mx1.example.com"}}}}}},
                 {"mx1.example.com", {{"A", list({"198.51.100.5"})}}},
                 {"why.example.com", {{"TXT", records({{"no", "t ", "allowed"}})}}}};
    EXPECT_EQ(check(zone, "192.0.2.9", "a@example.com").result, Result::kPass) << cut;
    EXPECT_EQ(check(zone, "198.51.100.5", "a@example.com").result, Result::kPass) << cut;
    Outcome fail = check(zone, "203.0.113.1", "a@example.com");
    EXPECT_EQ(fail.result, Result::kFail) << cut;
    EXPECT_EQ(fail.explanation, "not allowed") << cut;
  }
}

TEST(SpfCheckHost, SelectsTheOneSpfRecord) {
  json zone = {{"two.example.com", {{"TXT", records({{"v=spf1 -all"}, {"v=spf1 +all"}})}}},
               {"other.example.com", {{"TXT", records({{"google-site-verification=x"}, {"v=spf1 +all"}, {"\x96"}})}}},
               {"none.example.com", {{"TXT", records({{"v=spf10 +all"}, {"spf1"}})}}}};
  EXPECT_EQ(check(zone, "192.0.2.1", "a@two.example.com").result, Result::kPermError);
  EXPECT_EQ(check(zone, "192.0.2.1", "a@other.example.com").result, Result::kPass);
  EXPECT_EQ(check(zone, "192.0.2.1", "a@none.example.com").result, Result::kNone);
}

std::string terms(const std::string& term, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += " " + term;
  return out;
}

TEST(SpfCheckHost, TenDnsTermsAndNoMore) {
  // RFC 7208 4.6.4: include, a, mx, ptr, exists and redirect count; the
  // rest do not.
  json zone = {{"ten.example.com", txt("v=spf1" + terms("a", 10) + terms("ip4:198.51.100.1", 20) + " ip4:192.0.2.1 -all")},
               {"eleven.example.com", txt("v=spf1" + terms("a", 10) + " exists:x.example.com ip4:192.0.2.1 -all")},
               {"redirect.example.com", txt("v=spf1" + terms("a", 10) + " redirect=ten.example.com")},
               {"x.example.com", {{"A", list({"127.0.0.2"})}}}};
  for (const char* name : {"ten.example.com", "eleven.example.com", "redirect.example.com"}) {
    zone[name]["A"] = list({"198.51.100.9"});
  }
  EXPECT_EQ(check(zone, "192.0.2.1", "a@ten.example.com").result, Result::kPass);
  Outcome over = check(zone, "192.0.2.1", "a@eleven.example.com");
  EXPECT_EQ(over.result, Result::kPermError);
  EXPECT_EQ(over.mechanism, "exists:x.example.com");
  EXPECT_NE(over.detail.find("4.6.4"), std::string::npos) << over.detail;
  EXPECT_EQ(check(zone, "192.0.2.1", "a@redirect.example.com").result, Result::kPermError);
}

TEST(SpfCheckHost, TwoVoidLookupsAndNoMore) {
  json zone = {{"two.example.com", txt("v=spf1 a:nx1.example.com mx:nx2.example.com ?all")},
               {"three.example.com", txt("v=spf1 a:nx1.example.com a:nodata.example.com exists:nx3.example.com ?all")},
               {"nodata.example.com", {{"MX", {{{"preference", 1}, {"exchange", "x.example.com"}}}}}}};
  EXPECT_EQ(check(zone, "192.0.2.1", "a@two.example.com").result, Result::kNeutral);
  EXPECT_EQ(check(zone, "192.0.2.1", "a@three.example.com").result, Result::kPermError);
}

TEST(SpfCheckHost, MxAndPtrNameLimits) {
  json many_mx = json::array();
  for (int i = 0; i < 11; ++i) many_mx.push_back({{"preference", i}, {"exchange", "mx.example.com"}});
  json many_ptr = json::array();
  for (int i = 0; i < 10; ++i) many_ptr.push_back("p" + std::to_string(i) + ".example.org");
  many_ptr.push_back("ok.example.com");
  json zone = {{"ten.example.com", {{"MX", json(std::vector<json>(many_mx.begin(), many_mx.end() - 1))},
                                    {"TXT", records({{"v=spf1 mx -all"}})}}},
               {"eleven.example.com", {{"MX", many_mx}, {"TXT", records({{"v=spf1 mx -all"}})}}},
               {"mx.example.com", {{"A", list({"192.0.2.1"})}}},
               {"1.2.0.192.in-addr.arpa", {{"PTR", many_ptr}}},
               {"ok.example.com", {{"A", list({"192.0.2.1"})}}},
               {"ptr.example.com", txt("v=spf1 ptr:example.com ?all")}};
  EXPECT_EQ(check(zone, "192.0.2.1", "a@ten.example.com").result, Result::kPass);
  EXPECT_EQ(check(zone, "192.0.2.1", "a@eleven.example.com").result, Result::kPermError);
  // RFC 7208 4.6.4: PTR names past the tenth are ignored.
  EXPECT_EQ(check(zone, "192.0.2.1", "a@ptr.example.com").result, Result::kNeutral);
  zone["1.2.0.192.in-addr.arpa"]["PTR"].erase(0);
  EXPECT_EQ(check(zone, "192.0.2.1", "a@ptr.example.com").result, Result::kPass);
}

TEST(SpfCheckHost, ValidatedNameIsAskedOnlyWhenUsed) {
  json zone = {{"example.com", txt("v=spf1 exists:%{p}.ok.example.com -all")},
               {"plain.example.com", txt("v=spf1 exists:%{i}.ok.example.com -all")},
               {"1.2.0.192.in-addr.arpa", {{"PTR", list({"other.example.org", "mail.example.com"})}}},
               {"mail.example.com", {{"A", list({"192.0.2.1"})}}},
               {"other.example.org", {{"A", list({"192.0.2.1"})}}},
               {"mail.example.com.ok.example.com", {{"A", list({"127.0.0.2"})}}}};
  TestZone dns(zone);
  // RFC 7208 7.3: a validated name under <domain> is preferred.
  EXPECT_EQ(run_check_host(dns, request_for("192.0.2.1", "a@example.com", "h.example")).result, Result::kPass);
  EXPECT_EQ(count_queries(dns, "PTR"), 1u);
  TestZone plain(zone);
  EXPECT_EQ(run_check_host(plain, request_for("192.0.2.1", "a@plain.example.com", "h.example")).result, Result::kFail);
  EXPECT_EQ(count_queries(plain, "PTR"), 0u);
}

TEST(SpfCheckHost, TemporaryFailuresBecomeTemperror) {
  json zone = {{"a.example.com", txt("v=spf1 a:slow.example.com -all")},
               {"mx.example.com", txt("v=spf1 mx:m.example.com -all")},
               {"m.example.com", {{"MX", {{{"preference", 1}, {"exchange", "slow.example.com"}}}}}},
               {"inc.example.com", txt("v=spf1 include:slow.example.com -all")},
               {"ptr.example.com", txt("v=spf1 ptr -all")},
               {"slow.example.com", {{"timeout", true}}}};
  for (const char* sender : {"x@a.example.com", "x@mx.example.com", "x@inc.example.com"}) {
    Outcome o = check(zone, "192.0.2.1", sender);
    EXPECT_EQ(o.result, Result::kTempError) << sender;
    EXPECT_NE(o.detail.find("slow.example.com"), std::string::npos) << o.detail;
  }
  // RFC 7208 5.5: a failing PTR lookup is no match, not temperror.
  zone["1.2.0.192.in-addr.arpa"] = {{"timeout", true}};
  EXPECT_EQ(check(zone, "192.0.2.1", "x@ptr.example.com").result, Result::kFail);
}

TEST(SpfCheckHost, IncludeAndRedirectOfNothingArePermerror) {
  json zone = {{"inc.example.com", txt("v=spf1 include:none.example.com -all")},
               {"red.example.com", txt("v=spf1 redirect=none.example.com")},
               {"bad.example.com", txt("v=spf1 redirect=%{l}.example.com")},
               {"none.example.com", {{"A", list({"192.0.2.1"})}}}};
  EXPECT_EQ(check(zone, "192.0.2.1", "x@inc.example.com").result, Result::kPermError);
  EXPECT_EQ(check(zone, "192.0.2.1", "x@red.example.com").result, Result::kPermError);
  EXPECT_EQ(check(zone, "192.0.2.1", "a b@bad.example.com").result, Result::kPermError);
}

}  // namespace
}  // namespace tern::spf
