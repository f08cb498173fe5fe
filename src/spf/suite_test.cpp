// The openspf.org conformance suites (conformance/spf/README.md): every case
// of the RFC 7208 suite must pass; the older RFC 4408 suite is run too, and
// may differ only where RFC 7208 changed the answer (listed below).
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "spf/test_zone.h"

namespace tern::spf {
namespace {

using nlohmann::json;

struct SuiteCase {
  std::string scenario;
  std::string name;
  json test;
  std::shared_ptr<const json> zone;
};

// gtest prints a parameter that fails; name the case rather than its bytes.
void PrintTo(const SuiteCase& c, std::ostream* out) { *out << c.scenario << " / " << c.name; }

std::vector<SuiteCase> load(const std::string& file) {
  std::ifstream in(std::string(TERN_SHARED_DIR) + "/conformance/spf/" + file);
  if (!in) return {};
  json suite = json::parse(in);
  std::vector<SuiteCase> cases;
  for (const auto& scenario : suite.at("scenarios")) {
    auto zone = std::make_shared<const json>(scenario.at("dns"));
    for (const auto& test : scenario.at("tests")) {
      cases.push_back({scenario.at("description").get<std::string>(), test.at("name").get<std::string>(), test,
                       zone});
    }
  }
  return cases;
}

struct Verdict {
  bool ok = true;
  std::string why;
  std::string alternative;  // ok, but not the first result the case lists: which
};

// One case: the result must be one of those listed, and on a fail the
// explanation must be the one given ("DEFAULT": ours).
Verdict run_case(const SuiteCase& c) {
  testing::TestZone zone(*c.zone);
  Request request = testing::request_for(c.test.at("host").get<std::string>(), c.test.at("mailfrom").get<std::string>(),
                                         c.test.at("helo").get<std::string>());
  Outcome outcome = testing::run_check_host(zone, request);
  std::string got(to_string(outcome.result));
  std::set<std::string> expected;
  for (const auto& r : c.test.at("result")) expected.insert(r.get<std::string>());
  if (!expected.count(got)) {
    return {false, "result " + got + ", expected " + c.test.at("result").dump() + " (" + outcome.detail + ")", {}};
  }
  std::string alternative = got == c.test.at("result").at(0) ? "" : got + " of " + c.test.at("result").dump();
  if (outcome.result != Result::kFail || !c.test.contains("explanation")) return {true, {}, alternative};
  std::string want = c.test.at("explanation").get<std::string>();
  if (want == "DEFAULT") want = default_explanation(request);
  // RFC 7208 7.4 writes the nibbles of an IPv6 %{i} in lower case, as we
  // do; this case's text has them in upper case (DNS does not mind).
  bool nibble_case = c.name == "v-macro-ip6" && iequals(outcome.explanation, want);
  if (outcome.explanation != want && !nibble_case) {
    return {false, "explanation '" + outcome.explanation + "', expected '" + want + "'", {}};
  }
  return {true, {}, alternative};
}

std::string test_name(const ::testing::TestParamInfo<SuiteCase>& info) {
  std::string name = std::to_string(info.index) + "_" + info.param.name;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

class Rfc7208Suite : public ::testing::TestWithParam<SuiteCase> {};

TEST_P(Rfc7208Suite, Passes) {
  const SuiteCase& c = GetParam();
  Verdict verdict = run_case(c);
  EXPECT_TRUE(verdict.ok) << c.scenario << " / " << c.name << ": " << verdict.why;
}

INSTANTIATE_TEST_SUITE_P(Spf, Rfc7208Suite, ::testing::ValuesIn(load("rfc7208-tests.json")), test_name);

// Lists the cases where the suite accepts several results and ours is not
// the one it prefers (RFC 7208 leaves these open).
void print_alternatives(const std::vector<SuiteCase>& cases, const char* suite) {
  for (const auto& c : cases) {
    Verdict verdict = run_case(c);
    if (verdict.ok && !verdict.alternative.empty()) {
      std::cout << suite << " accepts " << verdict.alternative << ": " << c.scenario << " / " << c.name << "\n";
    }
  }
}

TEST(Rfc7208Suite, HasEveryCase) {
  auto cases = load("rfc7208-tests.json");
  EXPECT_EQ(cases.size(), 203u);
  print_alternatives(cases, "RFC 7208");
}

// Where RFC 7208 changed RFC 4408's answer and the 4408 suite does not also
// accept the new one: name of a case of rfc4408-tests.json → why. Empty
// today: where 7208 changed an answer (mx-limit, void lookups, SPF-type
// records, ...) the 4408 suite lists several acceptable results.
const std::map<std::string, std::string>& rfc4408_differences() {
  static const std::map<std::string, std::string> kDifferences = {};
  return kDifferences;
}

TEST(Rfc4408Suite, DiffersOnlyWhereRfc7208Changed) {
  auto cases = load("rfc4408-tests.json");
  ASSERT_EQ(cases.size(), 191u);
  int passed = 0;
  std::vector<std::string> unexpected;
  for (const auto& c : cases) {
    Verdict verdict = run_case(c);
    if (verdict.ok) {
      ++passed;
      continue;
    }
    std::string line = c.scenario + " / " + c.name + ": " + verdict.why;
    bool known = rfc4408_differences().count(c.name) > 0;
    std::cout << (known ? "[RFC 7208 differs] " : "[UNEXPECTED] ") << line << "\n";
    if (!known) unexpected.push_back(line);
  }
  std::cout << "RFC 4408 suite: " << passed << " of " << cases.size() << " pass\n";
  print_alternatives(cases, "RFC 4408");
  EXPECT_TRUE(unexpected.empty()) << unexpected.size() << " unexpected differences";
}

}  // namespace
}  // namespace tern::spf
