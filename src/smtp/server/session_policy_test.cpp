// Policy decisions the session waits for (SessionHost::defers): at RCPT,
// MAIL and end of data, with pipelined commands answered in order.
#include <gtest/gtest.h>

#include "smtp/server/session.h"
#include "smtp/server/test_session.h"

namespace tern::smtp::server {
namespace {

using namespace testing;

// A RCPT the host answers later (verify_recipients): pipelined commands
// after it wait and are answered in order, wherever TCP cuts the input.
TEST(Session, DeferredRecipientChecks) {
  auto c = codes_at_every_split(
      "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<known@store.test>\r\nRCPT TO:<nobody@store.test>\r\n"
      "RCPT TO:<alice@example.test>\r\nRCPT TO:<down@store.test>\r\nRCPT TO:<known@store.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n");
  EXPECT_EQ(c, (Codes{"220", "250", "250", "250", "550", "250", "451", "250", "354", "250", "221"}));
  FakeHost host;
  Session session(host, {}, "mx.example.test", "S1", "192.0.2.1");
  struct Run run;
  session.start();
  session.receive("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<known@store.test>\r\nNOOP\r\n");
  EXPECT_TRUE(session.awaiting_policy());
  EXPECT_EQ(session.policy_stage(), PolicyStage::kRcpt);
  EXPECT_EQ(session.policy_path().mailbox.to_string(), "known@store.test");
  EXPECT_EQ(codes(session.take_output()), (Codes{"220", "250", "250"}));  // NOOP waits its turn
  drive(session, host, run);
  session.receive("DATA\r\nx\r\n.\r\n");
  drive(session, host, run);
  EXPECT_EQ(codes(session.take_output()), (Codes{"250", "250", "354", "250"}));
  ASSERT_EQ(host.envelope_.recipients.size(), 1u);
}

// MAIL and end of data decided later (SPF, DKIM, DMARC need DNS):
// pipelined commands wait and are answered in order; a MAIL refused leaves
// no transaction (its RCPT and DATA get 503); a message refused at end of
// data is dropped, not committed, and the session goes on.
TEST(Session, DeferredMailAndDataDecisions) {
  auto c = codes_at_every_split(
      "EHLO c\r\nMAIL FROM:<forged@slow.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
      "MAIL FROM:<ok@slow.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nREJECT me\r\n.\r\n"
      "MAIL FROM:<ok@slow.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nfine\r\n.\r\n"
      "MAIL FROM:<ok@slow.test>\r\nRCPT TO:<alice@example.test>\r\nBDAT 10 LAST\r\nREJECT me!QUIT\r\n");
  EXPECT_EQ(c, (Codes{"220", "250", "550", "503", "503", "250", "250", "354", "550", "250", "250", "354", "250",
                      "250", "250", "550", "221"}));
  auto run = play("EHLO c\r\nMAIL FROM:<ok@slow.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nREJECT\r\n.\r\n"
                  "MAIL FROM:<ok@slow.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nfine\r\n.\r\n", 0);
  EXPECT_EQ(run.messages.size(), 1u);
  EXPECT_EQ(run.discarded, 1);
  EXPECT_NE(run.output.find("550 5.7.1 Rejected by policy\r\n"), std::string::npos) << run.output;

  FakeHost host;
  Session session(host, {}, "mx.example.test", "S1", "192.0.2.1");
  session.start();
  session.receive("EHLO c\r\nMAIL FROM:<ok@slow.test>\r\nRCPT TO:<alice@example.test>\r\n");
  ASSERT_TRUE(session.awaiting_policy());
  EXPECT_EQ(session.policy_stage(), PolicyStage::kMail);
  EXPECT_EQ(session.helo(), "c");
  session.policy_decided({});
  EXPECT_EQ(codes(session.take_output()), (Codes{"220", "250", "250", "250"}));
  session.receive("DATA\r\nx\r\n.\r\nNOOP\r\n");
  ASSERT_TRUE(session.awaiting_policy());
  EXPECT_EQ(session.policy_stage(), PolicyStage::kData);
  EXPECT_EQ(session.envelope().recipients.size(), 1u);
  EXPECT_EQ(codes(session.take_output()), (Codes{"354"}));  // NOOP waits its turn
  session.policy_decided(Error{451, "4.7.24", "SPF temporary error", ""});
  EXPECT_EQ(codes(session.take_output()), (Codes{"451", "250"}));
  EXPECT_EQ(host.discarded_, 1);
}

}  // namespace
}  // namespace tern::smtp::server
