// DSNs end to end: Python's email package reads what dsn.h writes.
#include "queue/dsn_test_support.h"

namespace tern::queue {
namespace {

using namespace dsn_test;

// --- end to end: Python's email package reads what we write ---------------

// Writes `text` to a temporary file and runs `script` on it with
// /usr/bin/python3; the script exits non-zero with a message on a failed check.
void python_check(const std::string& text, const std::string& script, const std::string& args) {
  ASSERT_EQ(script.find('\''), std::string::npos) << "the script is passed in single quotes";
  auto path = std::filesystem::temp_directory_path() /
              ("tern_dsn_test_" + std::to_string(getpid()) + "_" + std::to_string(std::rand()) + ".eml");
  {
    std::ofstream file(path, std::ios::binary);
    file.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
  std::string command = "/usr/bin/python3 -c '" + script + "' " + path.string() + " " + args;
  int status = std::system(command.c_str());
  std::filesystem::remove(path);
  EXPECT_EQ(status, 0) << command;
}

const char* kPythonScript = R"PY(
import email, email.policy, email.utils, sys
raw = open(sys.argv[1], "rb").read()
kind, returned = sys.argv[2], sys.argv[3]
def check(ok, what):
    if not ok:
        print("python check failed:", what)
        sys.exit(1)
def squeeze(value):
    return " ".join(str(value).split())
m = email.message_from_bytes(raw)
check(m.get_content_type() == "multipart/report", m.get_content_type())
check(m.get_param("report-type") == "delivery-status", "report-type")
for part in m.walk():
    check(not part.defects, "defects %r in %s" % (part.defects, part.get_content_type()))
modern = email.message_from_bytes(raw, policy=email.policy.default)
check(modern["From"].addresses[0].display_name == "Mail Delivery System", "From display name")
check(modern["From"].addresses[0].addr_spec == "MAILER-DAEMON@mx.example.test", "From address")
check(modern["To"].addresses[0].addr_spec == "alice@example.test", "To")
check(modern["Auto-Submitted"] == "auto-replied", "Auto-Submitted")
email.utils.parsedate_to_datetime(m["Date"])
parts = m.get_payload()
third = "message/rfc822" if returned == "full" else "text/rfc822-headers"
check([p.get_content_type() for p in parts] == ["text/plain", "message/delivery-status", third],
      [p.get_content_type() for p in parts])
check("<bob@example.org>" in parts[0].get_payload(), "text names bob")
groups = parts[1].get_payload()
check(len(groups) == 3, "%d groups" % len(groups))
check(groups[0]["Reporting-MTA"] == "dns; mx.example.test", "Reporting-MTA")
check(groups[0]["Original-Envelope-Id"] == "QQ+314", "Original-Envelope-Id")
email.utils.parsedate_to_datetime(groups[0]["Arrival-Date"])
bob, carol = groups[1], groups[2]
check(bob["Original-Recipient"] == "rfc822;b+ob@example.org", "Original-Recipient")
check(bob["Final-Recipient"] == "rfc822;bob@example.org", "Final-Recipient bob")
check(carol["Final-Recipient"] == "rfc822;carol@example.org", "Final-Recipient carol")
for r in (bob, carol):
    check(r["Action"] == kind, "Action %s" % r["Action"])
    check(r["Remote-MTA"] == "dns; mx.example.org", "Remote-MTA")
    email.utils.parsedate_to_datetime(r["Last-Attempt-Date"])
if kind == "failed":
    check(bob["Status"] == "5.1.1", "Status")
    check(squeeze(bob["Diagnostic-Code"]).startswith("smtp; 550 5.1.1 User unknown word0 word1"), "Diagnostic-Code")
    check(bob["Will-Retry-Until"] is None, "no Will-Retry-Until")
else:
    check(bob["Status"] == "4.4.1", "Status")
    email.utils.parsedate_to_datetime(bob["Will-Retry-Until"])
if returned == "full":
    original = parts[2].get_payload(0)
    check(original["Subject"] == "Hello", "returned Subject")
    check("Body line 2" in original.get_payload(), "returned body")
else:
    check("Subject: Hello" in parts[2].get_payload(), "returned headers")
    check("Body line" not in parts[2].get_payload(), "no body")
)PY";

TEST(Dsn, PythonEmailPackageReadsIt) {
  if (!std::filesystem::exists("/usr/bin/python3")) GTEST_SKIP() << "/usr/bin/python3 not installed";
  auto e = make_envelope(" RET=FULL ENVID=QQ+2B314", {{"bob@example.org", " ORCPT=rfc822;b+2Bob@example.org"},
                                                      {"carol@example.org", ""}});
  std::string diagnostic = "550 5.1.1 User unknown";
  for (int i = 0; i < 40; ++i) diagnostic += " word" + std::to_string(i);
  auto g = generate(e, make_request(DsnKind::kFailure, {failed(0, "5.1.1", diagnostic), failed(1)}));
  python_check(g.text, kPythonScript, "failed full");
  g = generate(e, make_request(DsnKind::kDelay, {delayed(0), delayed(1)}));
  python_check(g.text, kPythonScript, "delayed headers");
}


}  // namespace
}  // namespace tern::queue
