#include "smtp/server/session.h"
#include "smtp/server/test_session.h"

#include <gtest/gtest.h>

#include <regex>

namespace tern::smtp::server {
namespace {

using namespace testing;

// RFC 1985: 250 when mail was waiting, 251 when none, the host's refusal,
// 458 for "#queue" names, 501 for a bad domain, 503 before EHLO and inside
// a transaction.
TEST(Session, Etrn) {
  auto c = codes_at_every_split(
      "ETRN busy.test\r\nEHLO c\r\nETRN busy.test\r\nETRN @busy.test\r\nETRN idle.test\r\n"
      "ETRN secret.test\r\nETRN #queue\r\nETRN\r\nETRN bad..domain\r\nMAIL FROM:<a@b.test>\r\n"
      "ETRN busy.test\r\nQUIT\r\n");
  EXPECT_EQ(c, (Codes{"220", "503", "250", "250", "250", "251", "459", "458", "501", "501", "250", "503", "221"}));
  auto run = play("EHLO c\r\nETRN @busy.test\r\nETRN idle.test\r\n", 0);
  EXPECT_NE(run.output.find("250 2.0.0 OK, queuing for node @busy.test started\r\n"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("251 2.0.0 OK, no messages waiting for node idle.test\r\n"), std::string::npos);
  EXPECT_TRUE(run.output.find("250-ETRN\r\n") != std::string::npos || run.output.find("250 ETRN\r\n") != std::string::npos);
}

TEST(Session, SimpleTransaction) {
  auto c = codes_at_every_split(
      "EHLO client.example\r\nMAIL FROM:<bob@client.example>\r\nRCPT TO:<alice@example.test>\r\n"
      "DATA\r\nSubject: hi\r\n\r\n..dot\r\n.\r\nQUIT\r\n");
  EXPECT_EQ(c, (Codes{"220", "250", "250", "250", "354", "250", "221"}));
  auto run = play("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nx\r\n.\r\n", 0);
  ASSERT_EQ(run.messages.size(), 1u);
  EXPECT_NE(run.messages[0].find("Received: from c ([192.0.2.1])\r\n\tby mx.example.test (tern) with ESMTP id QID1"
                                 "\r\n\tfor <alice@example.test>; Thu, 01 Jan 1970 00:00:00 +0000\r\nx\r\n"),
            std::string::npos)
      << run.messages[0];
  EXPECT_NE(run.output.find("250 2.0.0 Ok: queued as QID1\r\n"), std::string::npos);
}

TEST(Session, DotUnstuffing) {
  auto run = play("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n..a\r\n...\r\n.\r\n", 3);
  ASSERT_EQ(run.messages.size(), 1u);
  EXPECT_TRUE(run.messages[0].ends_with("\r\n.a\r\n..\r\n"));
}

TEST(Session, SequenceErrors) {
  EXPECT_EQ(codes_at_every_split("MAIL FROM:<>\r\nEHLO c\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
                                 "MAIL FROM:<>\r\nMAIL FROM:<>\r\n"),
            (Codes{"220", "503", "250", "503", "503", "250", "503"}));
}

TEST(Session, SyntaxAndUnknownCommands) {
  EXPECT_EQ(codes_at_every_split("EHLO\r\nEHLO c\r\nFOO\r\nMAIL FROM:<bad\r\nMAIL <a@b.c>\r\n"
                                 "MAIL FROM:<> FOO=1\r\nVRFY alice\r\nHELP\r\nNOOP\r\nRSET\r\nEXPN x\r\n"),
            (Codes{"220", "501", "250", "500", "501", "501", "555", "252", "214", "250", "250", "502"}));
}

TEST(Session, EnhancedStatusCodes) {
  auto run = play("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<nobody@example.test>\r\nRCPT TO:<x@other.example>\r\n", 0);
  EXPECT_NE(run.output.find("550 5.1.1 "), std::string::npos);
  EXPECT_NE(run.output.find("554 5.7.1 "), std::string::npos);
  EXPECT_NE(run.output.find("250 2.1.0 "), std::string::npos);
}

TEST(Session, TooManyRecipients) {
  SessionLimits limits;
  limits.max_recipients = 2;
  auto c = codes_at_every_split(
      "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<postmaster>\r\n"
      "RCPT TO:<postmaster@example.test>\r\n",
      limits);
  EXPECT_EQ(c, (Codes{"220", "250", "250", "250", "250", "452"}));
}

// Recipients past the limit do not count as errors, up to the overshoot
// limit: a client with 120 recipients gets its first 100 through.
TEST(Session, RecipientOvershootIsNoError) {
  SessionLimits limits;
  limits.max_recipients = 2;
  limits.max_errors = 2;
  std::string head = "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<postmaster>\r\n";
  std::string extra;
  for (char c = 'a'; c <= 'e'; ++c) extra += std::string("RCPT TO:<") + c + "@example.test>\r\n";
  auto c = codes_at_every_split(head + extra + "DATA\r\nx\r\n.\r\n", limits);
  EXPECT_EQ(c, (Codes{"220", "250", "250", "250", "250", "452", "452", "452", "452", "452", "354", "250"}));
  limits.max_recipient_overshoot = 3;
  c = codes_at_every_split(head + extra + "DATA\r\nx\r\n.\r\n", limits);
  EXPECT_EQ(c, (Codes{"220", "250", "250", "250", "250", "452", "452", "452", "452", "452", "421"}));
}

// A repeated recipient is accepted and kept once (domains compared without
// case); it does not use up max_recipients.
TEST(Session, DuplicateRecipientsKeptOnce) {
  SessionLimits limits;
  limits.max_recipients = 2;
  auto c = codes_at_every_split(
      "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<alice@EXAMPLE.test>\r\n"
      "RCPT TO:<alice@example.test> NOTIFY=NEVER\r\nRCPT TO:<postmaster>\r\nRCPT TO:<alice@example.test>\r\n",
      limits);
  EXPECT_EQ(c, (Codes{"220", "250", "250", "250", "250", "250", "250", "250"}));
  FakeHost host;
  Session session(host, limits, "mx.example.test", "S1", "192.0.2.1");
  session.receive("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<alice@example.TEST>\r\n"
                  "DATA\r\nx\r\n.\r\n");
  ASSERT_TRUE(session.awaiting_commit());
  EXPECT_EQ(host.envelope_.recipients.size(), 1u);
}

// Errors and junk commands count until a message is accepted.
TEST(Session, ErrorCountEndsWithAcceptedMessage) {
  SessionLimits limits;
  limits.max_errors = 3;
  std::string txn =
      "MAIL FROM:<>\r\nRCPT TO:<x@example.test>\r\nRCPT TO:<y@example.test>\r\nRCPT TO:<alice@example.test>\r\n"
      "DATA\r\nx\r\n.\r\n";
  auto c = codes_at_every_split("EHLO c\r\n" + txn + txn + "QUIT\r\n", limits);
  EXPECT_EQ(c, (Codes{"220", "250", "250", "550", "550", "250", "354", "250", "250", "550", "550", "250", "354",
                      "250", "221"}));
}

// NOOP, RSET, VRFY and HELP are answered; past max_junk_commands each one
// counts as an error, so a client sending only those is cut off.
TEST(Session, JunkCommandLimit) {
  SessionLimits limits;
  limits.max_junk_commands = 3;
  limits.max_errors = 2;
  auto c = codes_at_every_split("EHLO c\r\nNOOP\r\nRSET\r\nVRFY x\r\nHELP\r\nNOOP\r\nNOOP\r\n", limits);
  EXPECT_EQ(c, (Codes{"220", "250", "250", "250", "252", "214", "250", "421"}));
  // An accepted message starts the count again.
  c = codes_at_every_split(
      "EHLO c\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\n"
      "DATA\r\nx\r\n.\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nQUIT\r\n",
      limits);
  EXPECT_EQ(c, (Codes{"220", "250", "250", "250", "250", "250", "250", "250", "354", "250", "250", "250", "250",
                      "250", "221"}));
}

// RFC 5321 4.1.1.1: the HELO/EHLO argument ends up in the Received header;
// control bytes (a bare CR would become a line break at the next hop), DEL
// and invalid UTF-8 are refused.
TEST(Session, HeloArgumentWithControlBytesRefused) {
  for (std::string bad : {std::string("foo\rbar"), std::string("foo\0bar", 7), std::string("a\x01" "b"),
                          std::string("a\x7f" "b"), std::string("foo\tbar"), std::string("caf\xc3")}) {
    for (std::string verb : {"EHLO ", "HELO "}) {
      auto c = codes_at_every_split(verb + bad + "\r\nMAIL FROM:<>\r\n");
      EXPECT_EQ(c, (Codes{"220", "501", "503"})) << bad;
    }
  }
  for (std::string good : {"[127.0.0.1]", "[IPv6:::1]", "client.example", "bücher.example", "x_y"}) {
    auto c = codes_at_every_split("EHLO " + good + "\r\n");
    EXPECT_EQ(c, (Codes{"220", "250"})) << good;
  }
}

TEST(Session, ShutDownSays421) {
  FakeHost host;
  Session session(host, {}, "mx.example.test", "S1", "192.0.2.1");
  session.start();
  session.receive("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nsome");
  session.shut_down();
  EXPECT_TRUE(session.closed());
  EXPECT_TRUE(session.take_output().ends_with("354 End data with <CR><LF>.<CR><LF>\r\n"
                                              "421 4.3.2 mx.example.test Service shutting down, try again later\r\n"));
  EXPECT_EQ(host.discarded_, 1);
}

TEST(Session, SizeLimits) {
  SessionLimits limits;
  limits.max_message_size = 10;
  auto c = codes_at_every_split(
      "EHLO c\r\nMAIL FROM:<> SIZE=11\r\nMAIL FROM:<> SIZE=10\r\nRCPT TO:<alice@example.test>\r\n"
      "DATA\r\n0123456789\r\n.\r\nNOOP\r\n",
      limits);
  EXPECT_EQ(c, (Codes{"220", "250", "552", "250", "250", "354", "552", "250"}));
}

TEST(Session, BareLineEndingsRejectedAfterData) {
  auto run = play("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
                  "a\n.\nMAIL FROM:<ceo@victim.example>\r\n.\r\n",
                  0);
  EXPECT_EQ(codes(run.output), (Codes{"220", "250", "250", "250", "354", "554"}));
  EXPECT_TRUE(run.messages.empty());
  EXPECT_EQ(run.discarded, 1);
}

TEST(Session, Pipelining) {
  // Two whole transactions in one write: replies in order, one message each.
  std::string txn = "MAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nx\r\n.\r\n";
  auto c = codes_at_every_split("EHLO c\r\n" + txn + txn + "QUIT\r\n");
  EXPECT_EQ(c, (Codes{"220", "250", "250", "250", "354", "250", "250", "250", "354", "250", "221"}));
}

TEST(Session, Chunking) {
  auto c = codes_at_every_split(
      "EHLO c\r\nMAIL FROM:<> BODY=BINARYMIME\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
      "BDAT 5\r\nab\r\ncBDAT 3 LAST\r\nd\r\n"
      "MAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nBDAT 0 LAST\r\nBDAT 2\r\nxyQUIT\r\n");
  EXPECT_EQ(c, (Codes{"220", "250", "250", "250", "503", "250", "250", "250", "250", "250", "503", "221"}));
  auto run = play("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nBDAT 5\r\nab\r\ncBDAT 3 LAST\r\nd\r\n", 0);
  ASSERT_EQ(run.messages.size(), 1u);
  EXPECT_TRUE(run.messages[0].ends_with("\r\nab\r\ncd\r\n"));
}

TEST(Session, LongCommandLine) {
  auto c = codes_at_every_split("EHLO c\r\nNOOP " + std::string(600, 'x') + "\r\nNOOP\r\n");
  EXPECT_EQ(c, (Codes{"220", "250", "500", "250"}));
  // MAIL and RCPT may be longer by their ESMTP parameters (RFC 3461 4).
  std::string orcpt = " ORCPT=rfc822;" + std::string(480, 'a') + "@example.test";
  c = codes_at_every_split("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>" + orcpt + "\r\n");
  EXPECT_EQ(c, (Codes{"220", "250", "250", "250"}));
  c = codes_at_every_split("EHLO c\r\nMAIL FROM:<> ENVID=" + std::string(1600, 'x') + "\r\nNOOP\r\n");
  EXPECT_EQ(c, (Codes{"220", "250", "500", "250"}));
}

TEST(Session, ErrorLimitCloses) {
  SessionLimits limits;
  limits.max_errors = 3;
  auto run = play("FOO\r\nFOO\r\nFOO\r\nNOOP\r\n", 0, limits);
  EXPECT_EQ(codes(run.output), (Codes{"220", "500", "500", "500", "421"}));
}

TEST(Session, MailLoop) {
  SessionLimits limits;
  limits.max_received_headers = 2;
  std::string three = "Received: a\r\nReceived: b\r\nReceived: c\r\n\r\nbody\r\n.\r\n";
  auto c = codes_at_every_split("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n" + three, limits);
  EXPECT_EQ(c.back(), "554");
  auto run = play("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n" + three, 0, limits);
  EXPECT_NE(run.output.find("554 5.4.6"), std::string::npos);
}

TEST(Session, Smtputf8) {
  auto c = codes_at_every_split(
      "EHLO c\r\nMAIL FROM:<d\xc3\xb6rte@example.test>\r\nMAIL FROM:<d\xc3\xb6rte@example.test> SMTPUTF8\r\n");
  EXPECT_EQ(c, (Codes{"220", "250", "553", "250"}));
}

TEST(Session, DsnParametersStored) {
  FakeHost host;
  Session session(host, {}, "mx", "S1", "192.0.2.1");
  session.receive("EHLO c\r\nMAIL FROM:<> RET=HDRS ENVID=abc\r\n"
                  "RCPT TO:<alice@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;alice@example.test\r\n"
                  "DATA\r\n.\r\n");
  ASSERT_TRUE(session.awaiting_commit());
  EXPECT_EQ(host.envelope_.params.ret, proto::Ret::kHdrs);
  EXPECT_EQ(host.envelope_.params.envid, "abc");
  ASSERT_EQ(host.envelope_.recipients.size(), 1u);
  EXPECT_EQ(host.envelope_.recipients[0].params.notify, proto::kNotifySuccess | proto::kNotifyFailure);
  EXPECT_EQ(host.envelope_.recipients[0].params.orcpt, "rfc822;alice@example.test");
}

TEST(Session, CommitFailureIsTemporary) {
  FakeHost host;
  Session session(host, {}, "mx", "S1", "192.0.2.1");
  session.receive("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n.\r\nNOOP\r\n");
  ASSERT_TRUE(session.awaiting_commit());
  session.take_output();
  session.committed(Error{452, "4.3.1", "Insufficient system storage", "disk full"});
  EXPECT_EQ(codes(session.take_output()), (Codes{"452", "250"}));
}

TEST(Session, Timeout) {
  FakeHost host;
  Session session(host, {}, "mx", "S1", "192.0.2.1");
  session.timed_out();
  EXPECT_TRUE(session.closed());
  EXPECT_EQ(session.take_output(), "421 4.4.2 mx Error: timeout exceeded\r\n");
}

}  // namespace
}  // namespace tern::smtp::server

namespace tern::smtp::server {
namespace {

// A conversation in steps: each step's input is fed at every split (in two
// pieces), the steps one after the other, as a client that waits for the
// 220 to STARTTLS before it sends more.
Run converse(const std::vector<std::string>& steps, SessionOptions options = {.starttls = true},
             SessionLimits limits = {}) {
  Run expected;
  std::size_t longest = 0;
  for (const auto& step : steps) longest = std::max(longest, step.size());
  for (std::size_t split = 0; split <= longest; ++split) {
    FakeHost host;
    Session session(host, limits, "mx.example.test", "S1", "192.0.2.1", options);
    Run run;
    session.start();
    for (const auto& step : steps) {
      auto cut = std::min(split, step.size());
      session.receive(std::string_view(step).substr(0, cut));
      drive(session, host, run);
      session.receive(std::string_view(step).substr(cut));
      drive(session, host, run);
    }
    run.output = session.take_output();
    if (split == 0) {
      expected = run;
    } else {
      EXPECT_EQ(run.output, expected.output) << "split " << split;
      EXPECT_EQ(run.messages, expected.messages) << "split " << split;
    }
  }
  return expected;
}

bool has(const std::string& output, std::string_view text) { return output.find(text) != std::string::npos; }

constexpr const char* kPlainAlice = "AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=";  // \0alice@example.test\0secret

TEST(SessionTls, StartTlsIsOfferedBeforeTlsAndAuthOnlyInside) {
  auto run = converse({"EHLO c\r\nAUTH PLAIN " + std::string(kPlainAlice) + "\r\nSTARTTLS\r\n", "EHLO c\r\n"});
  EXPECT_EQ(codes(run.output), (Codes{"220", "250", "538", "220", "250"}));
  auto first_ehlo = run.output.substr(0, run.output.find("538"));
  EXPECT_TRUE(has(first_ehlo, "250 STARTTLS\r\n"));
  EXPECT_FALSE(has(first_ehlo, "AUTH"));
  EXPECT_TRUE(has(run.output, "538 5.7.11 "));
  EXPECT_TRUE(has(run.output, "220 2.0.0 Ready to start TLS\r\n"));
  auto second_ehlo = run.output.substr(run.output.find("Ready to start TLS"));
  EXPECT_TRUE(has(second_ehlo, "250 AUTH PLAIN LOGIN\r\n"));
  EXPECT_FALSE(has(second_ehlo, "STARTTLS"));
}

TEST(SessionTls, WithoutACertificateThereIsNoStartTls) {
  auto run = converse({"EHLO c\r\nSTARTTLS\r\n"}, {});
  EXPECT_EQ(codes(run.output), (Codes{"220", "250", "502"}));
  EXPECT_FALSE(has(run.output, "STARTTLS"));
}

TEST(SessionTls, TheSessionStartsOverAfterTls) {
  // RFC 3207 4.2: the EHLO from before TLS is forgotten.
  auto run = converse({"EHLO c\r\nSTARTTLS\r\n", "MAIL FROM:<a@b.test>\r\nEHLO c\r\nSTARTTLS\r\nSTARTTLS x\r\n"});
  EXPECT_EQ(codes(run.output), (Codes{"220", "250", "220", "503", "250", "503", "503"}));
  EXPECT_TRUE(has(run.output, "503 5.5.1 TLS already active"));
}

TEST(SessionTls, StartTlsNeedsNoArgumentAndNoTransaction) {
  auto run = converse({"EHLO c\r\nSTARTTLS now\r\nMAIL FROM:<>\r\nSTARTTLS\r\n"});
  EXPECT_EQ(codes(run.output), (Codes{"220", "250", "501", "250", "503"}));
}

// CVE-2011-0411: commands pipelined after STARTTLS in the clear are
// dropped, not run inside the TLS session.
TEST(SessionTls, InjectedCommandsAfterStartTlsAreDiscarded) {
  FakeHost host;
  Session session(host, {}, "mx.example.test", "S1", "192.0.2.1", {.starttls = true});
  struct Run run;
  session.start();
  session.receive("EHLO c\r\nSTARTTLS\r\nMAIL FROM:<evil@example.test>\r\nRCPT TO:<alice@example.test>\r\n");
  ASSERT_TRUE(session.wants_tls());
  drive(session, host, run);
  session.receive("MAIL FROM:<a@b.test>\r\n");  // inside TLS, before EHLO
  EXPECT_EQ(codes(session.take_output()), (Codes{"220", "250", "220", "503"}));
}

TEST(SessionTls, ReceivedHeaderNamesTheProtocolAndCipher) {
  auto run = converse({"EHLO c\r\nSTARTTLS\r\n",
                       "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\n"});
  ASSERT_EQ(run.messages.size(), 1u);
  EXPECT_TRUE(has(run.messages[0], "Received: from c ([192.0.2.1])\r\n\t(using TLSv1.3 with cipher "
                                   "TLS_AES_128_GCM_SHA256 (128/128 bits))\r\n\tby mx.example.test (tern) with ESMTPS id QID1"))
      << run.messages[0];
  EXPECT_FALSE(has(run.messages[0], "Message-ID"));  // not authenticated: nothing added
}

TEST(SessionAuth, PlainAndLoginSucceed) {
  auto plain = converse({"EHLO c\r\nSTARTTLS\r\n", "EHLO c\r\nAUTH PLAIN " + std::string(kPlainAlice) + "\r\n"});
  EXPECT_EQ(codes(plain.output), (Codes{"220", "250", "220", "250", "235"}));
  EXPECT_TRUE(has(plain.output, "235 2.7.0 "));
  auto empty_challenge = converse({"EHLO c\r\nSTARTTLS\r\n", "EHLO c\r\nAUTH plain\r\n" + std::string(kPlainAlice) + "\r\n"});
  EXPECT_EQ(codes(empty_challenge.output), (Codes{"220", "250", "220", "250", "334", "235"}));
  auto login = converse({"EHLO c\r\nSTARTTLS\r\n", "EHLO c\r\nAUTH LOGIN\r\nYWxpY2VAZXhhbXBsZS50ZXN0\r\nc2VjcmV0\r\n"});
  EXPECT_EQ(codes(login.output), (Codes{"220", "250", "220", "250", "334", "334", "235"}));
  EXPECT_TRUE(has(login.output, "334 VXNlcm5hbWU6\r\n"));
}

TEST(SessionAuth, FailuresCancelsAndSequence) {
  auto run = converse({"EHLO c\r\nSTARTTLS\r\n",
                       "AUTH PLAIN " + std::string(kPlainAlice) + "\r\n"  // before EHLO
                       "EHLO c\r\nAUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB3cm9uZw==\r\n"  // wrong password
                       "AUTH LOGIN\r\n*\r\n"                                            // cancelled
                       "AUTH PLAIN !!!!\r\n"                                            // not base64
                       "AUTH CRAM-MD5\r\n"
                       "AUTH PLAIN " + std::string(kPlainAlice) + "\r\n"
                       "AUTH PLAIN " + std::string(kPlainAlice) + "\r\n"});
  EXPECT_EQ(codes(run.output), (Codes{"220", "250", "220", "503", "250", "535", "334", "501", "501", "504", "235", "503"}));
  EXPECT_TRUE(has(run.output, "535 5.7.8 "));
  EXPECT_TRUE(has(run.output, "501 5.0.0 "));
  EXPECT_TRUE(has(run.output, "501 5.5.2 "));
}

TEST(SessionAuth, UnavailableUserDatabaseIsTemporary) {
  // \0down@example.test\0pw
  auto run = converse({"EHLO c\r\nSTARTTLS\r\n", "EHLO c\r\nAUTH PLAIN AGRvd25AZXhhbXBsZS50ZXN0AHB3\r\n"});
  EXPECT_TRUE(has(run.output, "454 4.7.0 ")) << run.output;
}

TEST(SessionAuth, TooManyFailuresClose) {
  SessionLimits limits;
  limits.max_auth_failures = 3;
  std::string wrong = "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB3cm9uZw==\r\n";
  auto run = converse({"EHLO c\r\nSTARTTLS\r\n", "EHLO c\r\n" + wrong + wrong + wrong + wrong}, {.starttls = true},
                      limits);
  EXPECT_EQ(codes(run.output), (Codes{"220", "250", "220", "250", "535", "535", "535", "421"}));
  EXPECT_TRUE(has(run.output, "421 4.7.0 "));
}

TEST(SessionAuth, SubmissionNeedsAuthAndTheLoginsSender) {
  SessionOptions submission{.starttls = true, .auth_required = true};
  auto run = converse({"EHLO c\r\nSTARTTLS\r\n",
                       "EHLO c\r\nMAIL FROM:<alice@example.test>\r\nAUTH PLAIN " + std::string(kPlainAlice) +
                           "\r\nMAIL FROM:<bob@example.test>\r\nMAIL FROM:<alice@example.test>\r\n"
                           "RCPT TO:<someone@elsewhere.example>\r\nDATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\n"},
                      submission);
  EXPECT_EQ(codes(run.output), (Codes{"220", "250", "220", "250", "530", "235", "553", "250", "250", "354", "250"}));
  EXPECT_TRUE(has(run.output, "530 5.7.0 Authentication required"));
  EXPECT_TRUE(has(run.output, "553 5.7.1 "));
}

TEST(SessionAuth, SubmittedMessagesGetDateAndMessageId) {
  SessionOptions submission{.starttls = true, .auth_required = true, .show_login = true};
  auto run = converse({"EHLO c\r\nSTARTTLS\r\n",
                       "EHLO c\r\nAUTH PLAIN " + std::string(kPlainAlice) +
                           "\r\nMAIL FROM:<alice@example.test>\r\nRCPT TO:<alice@example.test>\r\n"
                           "DATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\n"},
                      submission);
  ASSERT_EQ(run.messages.size(), 1u);
  const auto& m = run.messages[0];
  EXPECT_TRUE(has(m, "\t(Authenticated sender: alice@example.test)\r\n\tby mx.example.test (tern) with ESMTPSA id QID1"))
      << m;
  EXPECT_TRUE(has(m, "Subject: hi\r\nDate: Thu, 01 Jan 1970 00:00:00 +0000\r\nMessage-ID: <QID1@mx.example.test>\r\n\r\nbody\r\n"))
      << m;
  EXPECT_FALSE(has(m, "secret"));
}

TEST(SessionAuth, TheLoginIsNotShownByDefault) {
  auto run = converse({"EHLO c\r\nSTARTTLS\r\n",
                       "EHLO c\r\nAUTH PLAIN " + std::string(kPlainAlice) +
                           "\r\nMAIL FROM:<alice@example.test>\r\nRCPT TO:<alice@example.test>\r\n"
                           "BDAT 11 LAST\r\nDate: x\r\n\r\n"});
  ASSERT_EQ(run.messages.size(), 1u);
  EXPECT_FALSE(has(run.messages[0], "alice@example.test)"));
  EXPECT_TRUE(has(run.messages[0], "with ESMTPSA"));
  EXPECT_TRUE(has(run.messages[0], "Date: x\r\nMessage-ID: <QID1@mx.example.test>\r\n\r\n")) << run.messages[0];
}

}  // namespace
}  // namespace tern::smtp::server
