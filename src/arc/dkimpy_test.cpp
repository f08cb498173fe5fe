// The acceptance check against an independent implementation: dkimpy's
// arc_verify accepts the chains tern seals, and tern accepts the chains
// dkimpy's arc_sign seals, alone and mixed in one chain. dkimpy runs as
// /usr/bin/python3 with testdata/dkimpy_arc.py; its ARC knows rsa-sha256
// only, so Ed25519 seals are not part of this.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "arc/test_support.h"

namespace tern::arc {
namespace {

using test::hop;
using test::kMessage;
using test::replace;
using test::verify;

const std::string kPython = "/usr/bin/python3";

test::Zone zone_with_dkimpy() {
  auto zone = test::zone();
  zone["py._domainkey.dkimpy.example"] = test::record("rsa2048.txt");
  return zone;
}

class Dkimpy : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system((kPython + " -c 'import dkim, authres' 2>/dev/null").c_str()) != 0) {
      GTEST_SKIP() << "dkimpy (python3-dkim, python3-authres) is not installed";
    }
    auto pattern = std::filesystem::temp_directory_path() / "tern-arc-XXXXXX";
    std::string dir = pattern.string();
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    std::string zone;
    for (const auto& [name, record] : zone_with_dkimpy()) zone += name + " " + record + "\n";
    write("zone", zone);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void write(const std::string& name, const std::string& text) {
    auto* f = std::fopen((dir_ + "/" + name).c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }

  std::string run(const std::string& arguments) {
    auto command = kPython + " " + test::testdata("dkimpy_arc.py") + " " + arguments;
    auto* pipe = popen(command.c_str(), "r");
    EXPECT_NE(pipe, nullptr);
    if (!pipe) return {};
    std::string out;
    char buffer[4096];
    while (auto n = std::fread(buffer, 1, sizeof(buffer), pipe)) out.append(buffer, n);
    auto status = pclose(pipe);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << command;
    return out;
  }

  // dkimpy's "status reason" for the message.
  std::string dkimpy_verify(const std::string& message) {
    write("message", message);
    return run("verify " + dir_ + "/message " + dir_ + "/zone");
  }

  // The message with dkimpy's set on top; `srv_id` names the
  // Authentication-Results field (added here) that dkimpy copies to the AAR.
  std::string dkimpy_seal(const std::string& message, const std::string& srv_id, const std::string& results) {
    auto with_ar = "Authentication-Results: " + srv_id + "; " + results + "\r\n" + message;
    write("message", with_ar);
    auto fields = run("sign " + dir_ + "/message " + dir_ + "/zone " + test::testdata("rsa2048.pem") +
                      " dkimpy.example py " + srv_id + " 1700000000");
    EXPECT_NE(fields.find("ARC-Seal: "), std::string::npos) << fields;
    return fields + with_ar;
  }

  std::string dir_;
};

TEST_F(Dkimpy, AcceptsTernSeals) {
  const auto one = hop(test::lists(), kMessage, "mx.lists.example");
  const auto two = hop(test::forward(), one, "mx.forward.example");
  const auto three = hop(test::lists(), two, "mx2.lists.example");
  for (const auto* m : {&one, &two, &three}) {
    ASSERT_EQ(verify(*m).status, ChainStatus::kPass);
    EXPECT_EQ(dkimpy_verify(*m), "pass success") << *m;
  }
}

TEST_F(Dkimpy, RejectsWhatTernSealedAndWasChanged) {
  auto two = hop(test::forward(), hop(test::lists(), kMessage, "mx.lists.example"), "mx.forward.example");
  EXPECT_EQ(dkimpy_verify(replace(two, "The numbers are in.", "The numbers are out.")).rfind("fail ", 0), 0u);
  EXPECT_EQ(dkimpy_verify(replace(two, "i=1; mx.lists.example;\r\n\tspf=pass", "i=1; mx.lists.example;\r\n\tspf=fail"))
                .rfind("fail ", 0),
            0u);
}

// tern's cv=fail set over a broken chain is what dkimpy makes of it too.
TEST_F(Dkimpy, AgreesOnTernsFailedChain) {
  auto broken = replace(hop(test::lists(), kMessage, "mx.lists.example"), "Regards,", "Regards;");
  auto set = test::seal_set(test::forward(), broken, verify(broken).status, "mx.forward.example; arc=fail");
  ASSERT_TRUE(set) << set.error().detail;
  std::string sealed;
  for (const auto& f : set->fields) sealed += f;
  // dkimpy stops at a cv=fail seal and calls the chain terminated (None).
  EXPECT_EQ(dkimpy_verify(sealed + broken), "none ARC-Seal[2] reported failure, the chain is terminated");
  EXPECT_EQ(verify(sealed + broken).status, ChainStatus::kFail);
}

TEST_F(Dkimpy, TernAcceptsDkimpySealsAloneAndMixed) {
  auto zone = zone_with_dkimpy();
  auto one = dkimpy_seal(kMessage, "mx.dkimpy.example", "spf=pass smtp.mailfrom=origin.example");
  auto r = verify(one, zone);
  EXPECT_EQ(r.status, ChainStatus::kPass) << r.reason << "\n" << one;
  EXPECT_EQ(r.instances, 1u);
  ASSERT_EQ(dkimpy_verify(one), "pass success");
  // tern seals on top of dkimpy's set; dkimpy seals on top of that.
  auto arriving = verify(one, zone);
  auto set = test::seal_set(test::forward(), one, arriving.status, "mx.forward.example; arc=pass");
  ASSERT_TRUE(set) << set.error().detail;
  std::string two;
  for (const auto& f : set->fields) two += f;
  two += one;
  EXPECT_EQ(verify(two, zone).status, ChainStatus::kPass) << verify(two, zone).reason;
  EXPECT_EQ(dkimpy_verify(two), "pass success");
  auto three = dkimpy_seal(two, "mx2.dkimpy.example", "arc=pass");
  r = verify(three, zone);
  EXPECT_EQ(r.status, ChainStatus::kPass) << r.reason << "\n" << three;
  EXPECT_EQ(r.instances, 3u);
  EXPECT_EQ(dkimpy_verify(three), "pass success");
  // And a change after dkimpy sealed is a failure for tern.
  auto changed = replace(three, "Subject: Quarterly  report", "Subject: Quarterly  rep0rt");
  EXPECT_EQ(verify(changed, zone).status, ChainStatus::kFail);
  EXPECT_EQ(dkimpy_verify(changed).rfind("fail ", 0), 0u);
}

}  // namespace
}  // namespace tern::arc
