#include "smtp/client/session.h"

#include <gtest/gtest.h>

#include "smtp/client/test_script.h"

namespace tern::smtp::client {
namespace {

using namespace test;
using namespace std::string_literals;

proto::Mailbox mailbox(std::string_view address) {
  auto at = address.find('@');
  return {std::string(address.substr(0, at)), std::string(address.substr(at + 1))};
}

Message message(const Strings& recipients, std::uint64_t size = 24) {
  Message m;
  m.reverse_path.mailbox = mailbox("alice@client.test");
  for (const auto& r : recipients) m.recipients.push_back({mailbox(r), {}});
  m.size = size;
  return m;
}

const std::string kGreeting = "220 mx.example.test ESMTP\r\n";
const std::string kBody = "Subject: hi\r\n\r\nhello\r\n";

std::string ehlo(const Strings& keywords) {
  Strings lines{"mx.example.test"};
  lines.insert(lines.end(), keywords.begin(), keywords.end());
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out += "250" + std::string(i + 1 < lines.size() ? "-" : " ") + lines[i] + "\r\n";
  }
  return out;
}

const std::string kOk = "250 2.0.0 Ok\r\n";
const std::string kQueued = "250 2.0.0 Ok: queued as Q1\r\n";
const std::string kBye = "221 2.0.0 Bye\r\n";
const std::string kGoAhead = "354 End data with <CR><LF>.<CR><LF>\r\n";

TEST(ClientSession, Pipelined) {
  Script s;
  s.messages = {message({"bob@example.test", "carol@example.test"})};
  s.server = {kGreeting, ehlo({"PIPELINING", "SIZE 1000", "8BITMIME", "ENHANCEDSTATUSCODES"}),
              kOk + kOk + kOk + kGoAhead, kQueued, kBye};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes, (Strings{"EHLO client.test\r\n",
                               "MAIL FROM:<alice@client.test> SIZE=24\r\nRCPT TO:<bob@example.test>\r\n"
                               "RCPT TO:<carol@example.test>\r\nDATA\r\n",
                               kBody + ".\r\n", "QUIT\r\n"}));
  Strings queued(2, "250 2.0.0 Ok: queued as Q1 <end of data>");
  EXPECT_EQ(t.results, std::vector<Strings>{queued});
  s.first_at_ready = true;
  EXPECT_EQ(play_at_every_split(s), t);
}

TEST(ClientSession, OneCommandAtATimeWithoutPipelining) {
  Script s;
  s.messages = {message({"bob@example.test", "carol@example.test"})};
  s.server = {kGreeting, ehlo({"8BITMIME"}), kOk, kOk, kOk, kGoAhead, kQueued, kBye};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes, (Strings{"EHLO client.test\r\n", "MAIL FROM:<alice@client.test>\r\n",
                               "RCPT TO:<bob@example.test>\r\n", "RCPT TO:<carol@example.test>\r\n", "DATA\r\n",
                               kBody + ".\r\n", "QUIT\r\n"}));
  EXPECT_EQ(t.results[0][1], "250 2.0.0 Ok: queued as Q1 <end of data>");
}

TEST(ClientSession, HeloWhenEhloIsRejected) {
  Script s;
  s.messages = {message({"bob@example.test"})};
  s.messages[0].ret = proto::Ret::kFull;
  s.server = {kGreeting, "502 5.5.1 Command not implemented\r\n", "250 mx.example.test\r\n", kOk, kOk, kGoAhead,
              kQueued, kBye};
  auto t = play_at_every_split(s);
  // RFC 5321 4.1.1.11: no ESMTP parameters after HELO.
  EXPECT_EQ(t.writes, (Strings{"EHLO client.test\r\n", "HELO client.test\r\n", "MAIL FROM:<alice@client.test>\r\n",
                               "RCPT TO:<bob@example.test>\r\n", "DATA\r\n", kBody + ".\r\n", "QUIT\r\n"}));
  EXPECT_EQ(t.results, std::vector<Strings>{{"250 2.0.0 Ok: queued as Q1 <end of data>"}});
}

TEST(ClientSession, SetupFailures) {
  Script s;
  s.messages = {message({"bob@example.test", "carol@example.test"}), message({"dave@example.test"})};
  s.server = {"554 5.7.1 No SMTP service here\r\n", kBye};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes, (Strings{"QUIT\r\n"}));
  Strings refused(2, "554 5.7.1 No SMTP service here <greeting>");
  EXPECT_EQ(t.results, (std::vector<Strings>{refused, {refused[0]}}));

  s.server = {kGreeting, "451 4.3.2 Busy\r\n", kBye};
  t = play_at_every_split(s);
  EXPECT_EQ(t.writes, (Strings{"EHLO client.test\r\n", "QUIT\r\n"}));
  EXPECT_EQ(t.results[0][0], "451 4.3.2 Busy <EHLO>");

  s.server = {"421 4.3.2 Too many connections\r\n"};
  t = play_at_every_split(s);
  EXPECT_TRUE(t.writes.empty());  // after 421 the server is gone: no QUIT
  EXPECT_EQ(t.results[1][0], "421 4.3.2 Too many connections <greeting>");
}

// A server that names itself with our own name is ourselves: the message
// bounces (5.4.6) instead of going round until the hop limit.
TEST(ClientSession, ServerWithOurNameIsAMailLoop) {
  Script s;
  s.messages = {message({"bob@example.test"})};
  s.server = {"220 CLIENT.test ESMTP tern\r\n", kBye};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes, (Strings{"QUIT\r\n"}));
  ASSERT_EQ(t.results.size(), 1u);
  EXPECT_EQ(t.results[0][0], "554 5.4.6 Mail loops back to myself: the server names itself client.test");

  // The greeting may name another host (a load balancer); EHLO tells.
  s.server = {kGreeting, "250-client.test\r\n250 PIPELINING\r\n", kBye};
  t = play_at_every_split(s);
  EXPECT_EQ(t.writes, (Strings{"EHLO client.test\r\n", "QUIT\r\n"}));
  EXPECT_EQ(t.results[0][0], "554 5.4.6 Mail loops back to myself: the server names itself client.test");

  // Our name elsewhere in the greeting is no sign.
  s.server = {"220 mx.example.test ESMTP, hello client.test\r\n", ehlo({}), kOk, kOk, kGoAhead, kQueued, kBye};
  t = play_at_every_split(s);
  EXPECT_EQ(t.results[0][0], "250 2.0.0 Ok: queued as Q1 <end of data>");
}

TEST(ClientSession, SizeIsCheckedBeforeSending) {
  Script s;
  s.messages = {message({"bob@example.test", "carol@example.test"}, 200)};
  s.server = {kGreeting, ehlo({"PIPELINING", "SIZE 100"}), kBye};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes, (Strings{"EHLO client.test\r\n", "QUIT\r\n"}));
  Strings too_big(2, "552 5.3.4 Message too big for the server");
  EXPECT_EQ(t.results, std::vector<Strings>{too_big});
  // RFC 1870 4: SIZE 0 is no limit.
  s.server = {kGreeting, ehlo({"SIZE 0"}), kOk, kOk, kOk, kGoAhead, kQueued, kBye};
  EXPECT_EQ(play(s).writes[1], "MAIL FROM:<alice@client.test> SIZE=200\r\n");
}

TEST(ClientSession, Smtputf8) {
  Script s;
  s.messages = {message({"bob@example.test"})};
  s.messages[0].smtputf8 = true;
  s.server = {kGreeting, ehlo({"8BITMIME"}), kBye};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes, (Strings{"EHLO client.test\r\n", "QUIT\r\n"}));
  EXPECT_EQ(t.results[0][0], "553 5.6.7 Server does not support SMTPUTF8");  // RFC 6531 3.5
  s.server = {kGreeting, ehlo({"SMTPUTF8"}), kOk, kOk, kGoAhead, kQueued, kBye};
  EXPECT_EQ(play(s).writes[1], "MAIL FROM:<alice@client.test> SMTPUTF8\r\n");
}

TEST(ClientSession, BinaryMime) {
  Script s;
  s.messages = {message({"bob@example.test"}, 5)};
  s.messages[0].body = proto::Body::kBinaryMime;
  s.body = {"a\0\n.b"s};
  s.server = {kGreeting, ehlo({"CHUNKING", "8BITMIME"}), kBye};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.results[0][0], "554 5.6.3 Server does not support BINARYMIME");
  // RFC 3030 3: BINARYMIME goes by BDAT, octets as they are.
  s.server = {kGreeting, ehlo({"CHUNKING", "BINARYMIME", "PIPELINING"}), kOk + kOk, kQueued, kBye};
  t = play_at_every_split(s);
  EXPECT_EQ(t.writes, (Strings{"EHLO client.test\r\n",
                               "MAIL FROM:<alice@client.test> BODY=BINARYMIME\r\nRCPT TO:<bob@example.test>\r\n",
                               "BDAT 5 LAST\r\na\0\n.b"s, "QUIT\r\n"}));
  EXPECT_EQ(t.results[0][0], "250 2.0.0 Ok: queued as Q1 <end of data>");
}

TEST(ClientSession, EightBit) {
  Script s;
  s.messages = {message({"bob@example.test"})};
  s.messages[0].body = proto::Body::k8BitMime;
  s.server = {kGreeting, ehlo({"8BITMIME", "SIZE"}), kOk, kOk, kGoAhead, kQueued, kBye};
  EXPECT_EQ(play_at_every_split(s).writes[1], "MAIL FROM:<alice@client.test> SIZE=24 BODY=8BITMIME\r\n");
  // No 8BITMIME: the driver chooses (RFC 6152 3). Returned:
  s.server = {kGreeting, ehlo({"SIZE"}), kBye};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes, (Strings{"EHLO client.test\r\n", "QUIT\r\n"}));
  EXPECT_EQ(t.results[0][0], "554 5.6.3 Server does not support 8BITMIME");
  // ...or converted to 7 bits, with its new size checked and declared.
  s.convert_8bit = true;
  s.converted_size = 30;
  s.server = {kGreeting, ehlo({"SIZE"}), kOk, kOk, kGoAhead, kQueued, kBye};
  t = play_at_every_split(s);
  EXPECT_EQ(t.writes[1], "MAIL FROM:<alice@client.test> SIZE=30\r\n");
  EXPECT_EQ(t.results[0][0], "250 2.0.0 Ok: queued as Q1 <end of data>");
  s.server = {kGreeting, ehlo({"SIZE 25"}), kBye};
  EXPECT_EQ(play(s).results[0][0], "552 5.3.4 Message too big for the server");
}

TEST(ClientSession, DsnParametersOnlyWhenOffered) {
  Script s;
  s.messages = {message({"bob@example.test", "carol@example.test"})};
  auto& m = s.messages[0];
  m.ret = proto::Ret::kHdrs;
  m.envid = "id+1=x";
  m.recipients[0].params = {proto::kNotifySuccess | proto::kNotifyFailure, "rfc822;bob+x@example.test"};
  m.recipients[1].params = {proto::kNotifyNever, ""};
  s.server = {kGreeting, ehlo({"PIPELINING", "DSN"}), kOk + kOk + kOk + kGoAhead, kQueued, kBye};
  auto t = play_at_every_split(s);
  // RFC 3461 4: ENVID and ORCPT's address are xtext.
  EXPECT_EQ(t.writes[1],
            "MAIL FROM:<alice@client.test> RET=HDRS ENVID=id+2B1+3Dx\r\n"
            "RCPT TO:<bob@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+2Bx@example.test\r\n"
            "RCPT TO:<carol@example.test> NOTIFY=NEVER\r\nDATA\r\n");
  s.server = {kGreeting, ehlo({"PIPELINING"}), kOk + kOk + kOk + kGoAhead, kQueued, kBye};
  EXPECT_EQ(play(s).writes[1],
            "MAIL FROM:<alice@client.test>\r\nRCPT TO:<bob@example.test>\r\nRCPT TO:<carol@example.test>\r\nDATA\r\n");
}

// The body as the server receives it, the content cut at every position.
void expect_body_at_every_split(std::string_view content, std::string_view wire) {
  Script s;
  s.messages = {message({"bob@example.test"})};
  s.server = {kGreeting, ehlo({"PIPELINING"}), kOk + kOk + kGoAhead, kQueued, kBye};
  std::string head = "EHLO client.test\r\nMAIL FROM:<alice@client.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n";
  for (std::size_t cut = 0; cut <= content.size(); ++cut) {
    s.body = {std::string(content.substr(0, cut)), std::string(content.substr(cut))};
    EXPECT_EQ(play(s).client(), head + std::string(wire) + "QUIT\r\n") << "cut at " << cut;
  }
  s.body.clear();
  for (char c : content) s.body.push_back(std::string(1, c));
  EXPECT_EQ(play(s).client(), head + std::string(wire) + "QUIT\r\n") << "byte by byte";
}

TEST(ClientSession, DotStuffing) {
  // RFC 5321 4.5.2, and the end of data added after a last line without CRLF.
  expect_body_at_every_split(".a\r\nb.\r\n.\r\n..\r\nc\r\n.", "..a\r\nb.\r\n..\r\n...\r\nc\r\n..\r\n.\r\n");
}

TEST(ClientSession, BareLineEndsBecomeCrlf) {
  // RFC 5321 2.3.8: a bare LF must not reach the server, nor a smuggled "." line.
  expect_body_at_every_split("a\n.\nMAIL FROM:<x>\rb", "a\r\n..\r\nMAIL FROM:<x>\r\nb\r\n.\r\n");
}

TEST(ClientSession, MixedRecipientResults) {
  Script s;
  s.messages = {message({"bob@example.test", "nobody@example.test", "busy@example.test"})};
  s.server = {kGreeting, ehlo({"PIPELINING", "ENHANCEDSTATUSCODES"}),
              kOk + kOk + "550-5.1.1 No such user\r\n550 5.1.1 here\r\n" + "451 4.2.0 Mailbox busy\r\n" + kGoAhead,
              kQueued, kBye};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.results, (std::vector<Strings>{{"250 2.0.0 Ok: queued as Q1 <end of data>",
                                               "550 5.1.1 No such user here <RCPT TO>",
                                               "451 4.2.0 Mailbox busy <RCPT TO>"}}));
}

TEST(ClientSession, NoRecipientAcceptedSendsNoData) {
  Script s;
  s.messages = {message({"nobody@example.test"}), message({"bob@example.test"})};
  // RFC 2920 3.1: DATA's reply is read even when every RCPT failed.
  s.server = {kGreeting, ehlo({"PIPELINING"}), kOk + "550 5.1.1 No\r\n" + "554 5.5.1 No valid recipients\r\n",
              kOk + kOk + kOk + kGoAhead, kQueued, kBye};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes[2], "RSET\r\nMAIL FROM:<alice@client.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
  EXPECT_EQ(t.results, (std::vector<Strings>{{"550 5.1.1 No <RCPT TO>"},
                                             {"250 2.0.0 Ok: queued as Q1 <end of data>"}}));
  // Without PIPELINING no DATA is sent, and RSET waits for its reply.
  s.server = {kGreeting, ehlo({}), kOk, "550 5.1.1 No\r\n", kOk, kOk, kOk, kGoAhead, kQueued, kBye};
  t = play_at_every_split(s);
  EXPECT_EQ(t.writes, (Strings{"EHLO client.test\r\n", "MAIL FROM:<alice@client.test>\r\n",
                               "RCPT TO:<nobody@example.test>\r\n", "RSET\r\n", "MAIL FROM:<alice@client.test>\r\n",
                               "RCPT TO:<bob@example.test>\r\n", "DATA\r\n", kBody + ".\r\n", "QUIT\r\n"}));
}

TEST(ClientSession, DataAcceptedWithoutRecipients) {
  Script s;
  s.messages = {message({"nobody@example.test"})};
  // RFC 2920 3.1: then the client sends a lone dot.
  s.server = {kGreeting, ehlo({"PIPELINING"}), kOk + "550 5.1.1 No\r\n" + kGoAhead, "554 5.5.1 Nothing\r\n", kBye};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes[2], ".\r\n");
  EXPECT_EQ(t.writes[3], "QUIT\r\n");
  EXPECT_EQ(t.results[0][0], "550 5.1.1 No <RCPT TO>");
}

TEST(ClientSession, MailRejected) {
  Script s;
  s.messages = {message({"bob@example.test", "carol@example.test"})};
  std::string bad_sequence = "503 5.5.1 Need MAIL\r\n";
  s.server = {kGreeting, ehlo({"PIPELINING"}),
              "553 5.7.1 Sender rejected\r\n" + bad_sequence + bad_sequence + bad_sequence, kBye};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes.back(), "QUIT\r\n");  // no RSET needed: no transaction began
  EXPECT_EQ(t.results, std::vector<Strings>{Strings(2, "553 5.7.1 Sender rejected <MAIL FROM>")});
}

TEST(ClientSession, Reply421ClosesTheSession) {
  Script s;
  s.messages = {message({"bob@example.test", "carol@example.test", "dave@example.test"})};
  s.server = {kGreeting, ehlo({}), kOk, kOk, "550 5.1.1 No\r\n", "421 4.4.2 mx closing connection\r\n"};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes.back(), "RCPT TO:<dave@example.test>\r\n");  // and no QUIT
  EXPECT_EQ(t.results, (std::vector<Strings>{{"421 4.4.2 mx closing connection <RCPT TO>",
                                               "550 5.1.1 No <RCPT TO>",
                                               "421 4.4.2 mx closing connection <RCPT TO>"}}));
}

TEST(ClientSession, ConnectionLostAfterData) {
  Script s;
  s.messages = {message({"bob@example.test", "nobody@example.test"})};
  s.server = {kGreeting, ehlo({"PIPELINING"}), kOk + kOk + "550 5.1.1 No\r\n" + kGoAhead};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes.back(), kBody + ".\r\n");
  EXPECT_EQ(t.results, (std::vector<Strings>{{"451 4.4.2 Connection lost", "550 5.1.1 No <RCPT TO>"}}));
  s.timeout_at_end = true;
  EXPECT_EQ(play(s).results[0][0], "451 4.4.2 Timed out waiting for the server");
}

TEST(ClientSession, Chunking) {
  Script s;
  s.messages = {message({"bob@example.test"})};
  s.body = {"ab\r\n", "", ".c\nd"};
  // Without PIPELINING each BDAT waits for its reply (RFC 3030 4.2).
  s.server = {kGreeting, ehlo({"CHUNKING"}), kOk, kOk, kOk, kQueued, kBye};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes, (Strings{"EHLO client.test\r\n", "MAIL FROM:<alice@client.test>\r\n",
                               "RCPT TO:<bob@example.test>\r\n", "BDAT 4\r\nab\r\n", "BDAT 7 LAST\r\n.c\r\nd\r\n",
                               "QUIT\r\n"}));
  EXPECT_EQ(t.results[0][0], "250 2.0.0 Ok: queued as Q1 <end of data>");
  // With it, the chunks follow each other.
  s.server = {kGreeting, ehlo({"CHUNKING", "PIPELINING"}), kOk + kOk, kOk + kQueued, kBye};
  t = play_at_every_split(s);
  EXPECT_EQ(t.writes[2] + t.writes[3], "BDAT 4\r\nab\r\nBDAT 7 LAST\r\n.c\r\nd\r\n");
  EXPECT_EQ(t.writes[4], "QUIT\r\n");
}

TEST(ClientSession, ChunksInFlightAreBounded) {
  Script s;
  s.messages = {message({"bob@example.test"})};
  s.body = Strings(20, "x\r\n");
  std::string sixteen;
  for (int i = 0; i < 16; ++i) sixteen += kOk;
  // After 16 unanswered chunks the session waits for their replies.
  s.server = {kGreeting, ehlo({"CHUNKING", "PIPELINING"}), kOk + kOk, sixteen, kOk + kOk + kOk + kQueued, kBye};
  auto t = play_at_every_split(s);
  ASSERT_EQ(t.writes.size(), 2u + 20u + 1u);
  EXPECT_EQ(t.writes[17], "BDAT 3\r\nx\r\n");
  EXPECT_EQ(t.writes[21], "BDAT 3 LAST\r\nx\r\n");
  EXPECT_EQ(t.results[0][0], "250 2.0.0 Ok: queued as Q1 <end of data>");
}

TEST(ClientSession, ChunkRejected) {
  Script s;
  s.messages = {message({"bob@example.test"}), message({"carol@example.test"})};
  s.body = {"ab\r\n", "cd\r\n"};
  s.server = {kGreeting, ehlo({"CHUNKING"}), kOk, kOk, "552 5.3.4 Too big\r\n", kOk, kOk, kOk, kOk, kQueued, kBye};
  auto t = play_at_every_split(s);
  // RFC 3030 2: no more chunks after a failed one, and RSET before the next MAIL.
  EXPECT_EQ(t.writes, (Strings{"EHLO client.test\r\n", "MAIL FROM:<alice@client.test>\r\n",
                               "RCPT TO:<bob@example.test>\r\n", "BDAT 4\r\nab\r\n", "RSET\r\n",
                               "MAIL FROM:<alice@client.test>\r\n", "RCPT TO:<carol@example.test>\r\n",
                               "BDAT 4\r\nab\r\n", "BDAT 4 LAST\r\ncd\r\n", "QUIT\r\n"}));
  EXPECT_EQ(t.results, (std::vector<Strings>{{"552 5.3.4 Too big <BDAT>"},
                                             {"250 2.0.0 Ok: queued as Q1 <end of data>"}}));
}

TEST(ClientSession, TwoMessagesOnOneConnection) {
  Script s;
  s.messages = {message({"bob@example.test"}), message({"carol@example.test"})};
  s.messages[1].reverse_path = {true, {}};
  s.server = {kGreeting, ehlo({"PIPELINING"}), kOk + kOk + kGoAhead, kQueued,
              kOk + "450 4.2.1 Try later\r\n" + "554 5.5.1 No recipients\r\n", kBye};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes, (Strings{"EHLO client.test\r\n",
                               "MAIL FROM:<alice@client.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n",
                               kBody + ".\r\n", "MAIL FROM:<>\r\nRCPT TO:<carol@example.test>\r\nDATA\r\n",
                               "QUIT\r\n"}));
  EXPECT_EQ(t.results, (std::vector<Strings>{{"250 2.0.0 Ok: queued as Q1 <end of data>"},
                                             {"450 4.2.1 Try later <RCPT TO>"}}));
}

TEST(ClientSession, StartTls) {
  Script s;
  s.options.starttls = true;
  s.messages = {message({"bob@example.test"})};
  // RFC 3207 4.2: capabilities from before TLS are forgotten (PIPELINING
  // here), and what follows the 220 in plaintext is not read.
  s.server = {kGreeting, ehlo({"PIPELINING", "STARTTLS"}), "220 2.0.0 Ready\r\n250 2.1.0 injected\r\n",
              ehlo({"SIZE"}), kOk, kOk, kGoAhead, kQueued, kBye};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes, (Strings{"EHLO client.test\r\n", "STARTTLS\r\n", "<TLS>", "EHLO client.test\r\n",
                               "MAIL FROM:<alice@client.test> SIZE=24\r\n", "RCPT TO:<bob@example.test>\r\n",
                               "DATA\r\n", kBody + ".\r\n", "QUIT\r\n"}));
  EXPECT_EQ(t.results[0][0], "250 2.0.0 Ok: queued as Q1 <end of data>");
  // Refused (RFC 3207 4: 454): on in plaintext.
  s.server = {kGreeting, ehlo({"STARTTLS"}), "454 4.7.0 TLS not available\r\n", kOk, kOk, kGoAhead, kQueued, kBye};
  t = play_at_every_split(s);
  EXPECT_EQ(t.writes[2], "MAIL FROM:<alice@client.test>\r\n");
  // Not asked for, or not offered: no STARTTLS.
  s.server = {kGreeting, ehlo({"STARTTLS"}), kOk, kOk, kGoAhead, kQueued, kBye};
  s.options.starttls = false;
  EXPECT_EQ(play(s).writes[1], "MAIL FROM:<alice@client.test>\r\n");
  s.options.starttls = true;
  s.server[1] = ehlo({});
  EXPECT_EQ(play(s).writes[1], "MAIL FROM:<alice@client.test>\r\n");
}

TEST(ClientSession, RequiredTls) {
  Script s;
  s.options.require_tls = true;
  s.messages = {message({"bob@example.test"})};
  // Not offered: the message waits (4xx), and nothing of it goes out.
  s.server = {kGreeting, ehlo({"PIPELINING"}), kBye};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes, (Strings{"EHLO client.test\r\n", "QUIT\r\n"}));
  EXPECT_EQ(t.results[0][0], "454 4.7.4 TLS is required, but the server does not offer STARTTLS");
  // Refused: the same, whatever the server's code.
  s.server = {kGreeting, ehlo({"STARTTLS"}), "502 5.5.1 Not now\r\n", kBye};
  EXPECT_EQ(play_at_every_split(s).results[0][0], "454 4.7.4 STARTTLS refused: 502 5.5.1 Not now");
  // A server without EHLO has no STARTTLS either.
  s.server = {kGreeting, "502 5.5.2 What\r\n", kOk, kBye};
  EXPECT_EQ(play_at_every_split(s).results[0][0].substr(0, 9), "454 4.7.4");
  // Implicit TLS (RFC 8314): TLS from the start, no STARTTLS.
  s.options.tls_on_connect = true;
  s.server = {kGreeting, ehlo({"STARTTLS"}), kOk, kOk, kGoAhead, kQueued, kBye};
  t = play_at_every_split(s);
  EXPECT_EQ(t.writes[1], "MAIL FROM:<alice@client.test>\r\n");
  EXPECT_EQ(t.results[0][0], "250 2.0.0 Ok: queued as Q1 <end of data>");
}

TEST(ClientSession, AuthPlainAfterTls) {
  Script s;
  s.options.starttls = true;
  s.options.auth_username = "tim";
  s.options.auth_password = "tanstaaftanstaaf";
  s.messages = {message({"bob@example.test"})};
  s.server = {kGreeting, ehlo({"STARTTLS", "AUTH LOGIN"}), "220 2.0.0 Ready\r\n", ehlo({"AUTH LOGIN PLAIN"}),
              "235 2.7.0 Authentication successful\r\n", kOk, kOk, kGoAhead, kQueued, kBye};
  auto t = play_at_every_split(s);
  // RFC 4616 4's example: authzid empty, "tim", "tanstaaftanstaaf".
  EXPECT_EQ(t.writes, (Strings{"EHLO client.test\r\n", "STARTTLS\r\n", "<TLS>", "EHLO client.test\r\n",
                               "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n", "MAIL FROM:<alice@client.test>\r\n",
                               "RCPT TO:<bob@example.test>\r\n", "DATA\r\n", kBody + ".\r\n", "QUIT\r\n"}));
  EXPECT_EQ(t.results[0][0], "250 2.0.0 Ok: queued as Q1 <end of data>");
}

TEST(ClientSession, AuthLogin) {
  Script s;
  s.options.tls_on_connect = true;
  s.options.auth_username = "tim";
  s.options.auth_password = "secret";
  s.messages = {message({"bob@example.test"})};
  s.server = {kGreeting, ehlo({"AUTH=LOGIN"}), "334 VXNlcm5hbWU6\r\n", "334 UGFzc3dvcmQ6\r\n",
              "235 2.7.0 OK\r\n", kOk, kOk, kGoAhead, kQueued, kBye};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes[1], "AUTH LOGIN\r\n");
  EXPECT_EQ(t.writes[2], "dGlt\r\n");
  EXPECT_EQ(t.writes[3], "c2VjcmV0\r\n");
  EXPECT_EQ(t.results[0][0], "250 2.0.0 Ok: queued as Q1 <end of data>");
}

TEST(ClientSession, AuthFailuresWait) {
  Script s;
  s.options.tls_on_connect = true;
  s.options.auth_username = "tim";
  s.options.auth_password = "wrong";
  s.messages = {message({"bob@example.test"})};
  // RFC 4954 6: 535 5.7.8, bad credentials: a 4xx for the message, which
  // waits for the administrator rather than bouncing.
  s.server = {kGreeting, ehlo({"AUTH PLAIN"}), "535 5.7.8 Authentication credentials invalid\r\n", kBye};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes.back(), "QUIT\r\n");
  EXPECT_EQ(t.results[0][0], "454 4.7.0 Authentication failed: 535 5.7.8 Authentication credentials invalid");
  // No mechanism we know.
  s.server = {kGreeting, ehlo({"AUTH CRAM-MD5"}), kBye};
  EXPECT_EQ(play_at_every_split(s).results[0][0].substr(0, 9), "454 4.7.4");
  // A password is never sent in plaintext.
  s.options.tls_on_connect = false;
  s.server = {kGreeting, ehlo({"AUTH PLAIN"}), kBye};
  t = play_at_every_split(s);
  EXPECT_EQ(t.writes, (Strings{"EHLO client.test\r\n", "QUIT\r\n"}));
  // A challenge to PLAIN's initial response is out of sequence.
  s.options.tls_on_connect = true;
  s.server = {kGreeting, ehlo({"AUTH PLAIN"}), "334 \r\n", kBye};
  EXPECT_EQ(play_at_every_split(s).results[0][0], "451 4.5.0 Unexpected AUTH challenge");
}

TEST(ClientSession, ProtocolErrors) {
  Script s;
  s.messages = {message({"bob@example.test"})};
  s.server = {kGreeting, ehlo({}), "hello there\r\n"};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes.back(), "QUIT\r\n");
  EXPECT_EQ(t.results[0][0], "451 4.5.0 Malformed reply from server");
  // A 354 to MAIL is out of sequence.
  s.server = {kGreeting, ehlo({}), kGoAhead};
  EXPECT_EQ(play_at_every_split(s).results[0][0], "451 4.5.0 Unexpected reply from server");
}

TEST(ClientSession, AwaitingNamesTheTimeout) {
  Session session(client_options());
  EXPECT_EQ(session.awaiting(), "greeting");
  session.receive(kGreeting);
  EXPECT_EQ(session.awaiting(), "EHLO");
  session.receive(ehlo({}));
  EXPECT_EQ(session.next(), Next::kWrite);
  (void)session.take_output();
  EXPECT_EQ(session.next(), Next::kReady);
  EXPECT_EQ(session.awaiting(), "");
  session.send_message(message({"bob@example.test"}));
  session.receive(kOk + kOk + kGoAhead);
  session.send_body("x", true);
  EXPECT_EQ(session.awaiting(), "end of data");  // RFC 5321 4.5.3.2.6: 10 minutes
}

TEST(ClientSession, ResultStatus) {
  EXPECT_EQ((RecipientResult{550, "5.1.1", "x", {}}).status(), "5.1.1");
  EXPECT_EQ((RecipientResult{451, "", "x", {}}).status(), "4.0.0");
  EXPECT_TRUE((RecipientResult{451, "", "x", {}}).temporary());
  EXPECT_TRUE((RecipientResult{}).pending());
}

}  // namespace
}  // namespace tern::smtp::client
