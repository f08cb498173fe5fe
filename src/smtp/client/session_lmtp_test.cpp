// The client session in LMTP mode (RFC 2033): LHLO, one reply per accepted
// recipient after the data, BDAT chunks one at a time.
#include <gtest/gtest.h>

#include "smtp/client/session.h"
#include "smtp/client/test_script.h"

namespace tern::smtp::client {
namespace {

using namespace test;

Message lmtp_message(const Strings& recipients) {
  Message m;
  m.reverse_path.mailbox = {"alice", "client.test"};
  for (const auto& r : recipients) {
    auto at = r.find('@');
    m.recipients.push_back({{r.substr(0, at), r.substr(at + 1)}, {}});
  }
  m.size = 24;
  return m;
}

Script lmtp_script() {
  Script s;
  s.options.lmtp = true;
  s.options.helo_name = "store.test";  // the store greets with our own name: no loop
  return s;
}

// RFC 2033 4.2: after the data, one reply per recipient accepted at RCPT,
// in order; each is that recipient's result alone.
TEST(ClientSessionLmtp, OneReplyPerAcceptedRecipient) {
  auto s = lmtp_script();
  s.messages = {lmtp_message({"a@x.test", "nobody@x.test", "full@x.test", "b@x.test"}), lmtp_message({"a@x.test"})};
  s.server = {"220 store.test LMTP ready\r\n", "250-store.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n",
              "250 2.1.0 OK\r\n250 2.1.5 OK\r\n550 5.1.1 <nobody@x.test> User doesn't exist\r\n250 2.1.5 OK\r\n"
              "250 2.1.5 OK\r\n354 OK\r\n",
              "250 2.0.0 <a@x.test> Saved\r\n552 5.2.2 <full@x.test> Quota exceeded\r\n452 4.2.2 <b@x.test> Try later\r\n",
              "250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 OK\r\n", "250 2.0.0 <a@x.test> Saved\r\n",
              "221 2.0.0 Bye\r\n"};
  auto t = play_at_every_split(s);
  ASSERT_GE(t.writes.size(), 3u);
  EXPECT_EQ(t.writes[0], "LHLO store.test\r\n");
  EXPECT_EQ(t.writes[1], "MAIL FROM:<alice@client.test>\r\nRCPT TO:<a@x.test>\r\nRCPT TO:<nobody@x.test>\r\n"
                         "RCPT TO:<full@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n");
  EXPECT_EQ(t.results, (std::vector<Strings>{{"250 2.0.0 <a@x.test> Saved <end of data>",
                                               "550 5.1.1 <nobody@x.test> User doesn't exist <RCPT TO>",
                                               "552 5.2.2 <full@x.test> Quota exceeded <end of data>",
                                               "452 4.2.2 <b@x.test> Try later <end of data>"},
                                              {"250 2.0.0 <a@x.test> Saved <end of data>"}}));
  // Every recipient had its reply: the transaction is over, no RSET.
  EXPECT_EQ(t.writes[3], "MAIL FROM:<alice@client.test>\r\nRCPT TO:<a@x.test>\r\nDATA\r\n");
}

// With CHUNKING each chunk waits for its reply: BDAT LAST, answered once
// per recipient, goes only after every chunk before it was taken.
TEST(ClientSessionLmtp, ChunksOneAtATime) {
  auto s = lmtp_script();
  s.messages = {lmtp_message({"a@x.test", "b@x.test"})};
  s.body = {"Subject: hi\r\n", "\r\nhello\r\n"};
  s.server = {"220 store.test LMTP\r\n", "250-store.test\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
              "250 OK\r\n250 OK\r\n250 OK\r\n", "250 2.0.0 chunk\r\n",
              "250 2.0.0 <a@x.test> Saved\r\n452 4.2.2 <b@x.test> Later\r\n", "221 2.0.0 Bye\r\n"};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes, (Strings{"LHLO store.test\r\n",
                               "MAIL FROM:<alice@client.test>\r\nRCPT TO:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n",
                               "BDAT 13\r\nSubject: hi\r\n", "BDAT 9 LAST\r\n\r\nhello\r\n", "QUIT\r\n"}));
  EXPECT_EQ(t.results, (std::vector<Strings>{{"250 2.0.0 <a@x.test> Saved <end of data>",
                                               "452 4.2.2 <b@x.test> Later <end of data>"}}));
  // A refused chunk: no BDAT LAST, both recipients get its reply.
  s.server = {"220 store.test LMTP\r\n", "250-store.test\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
              "250 OK\r\n250 OK\r\n250 OK\r\n", "451 4.3.0 Disk trouble\r\n", "221 2.0.0 Bye\r\n"};
  t = play_at_every_split(s);
  EXPECT_EQ(t.results, (std::vector<Strings>{{"451 4.3.0 Disk trouble <BDAT>", "451 4.3.0 Disk trouble <BDAT>"}}));
  EXPECT_EQ(t.writes, (Strings{"LHLO store.test\r\n",
                               "MAIL FROM:<alice@client.test>\r\nRCPT TO:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n",
                               "BDAT 13\r\nSubject: hi\r\n", "QUIT\r\n"}));
}

TEST(ClientSessionLmtp, LhloRefusedAndLostMidway) {
  auto s = lmtp_script();
  s.messages = {lmtp_message({"a@x.test"})};
  s.server = {"220 store.test LMTP\r\n", "500 5.5.1 Unknown command\r\n", "221 2.0.0 Bye\r\n"};
  auto t = play_at_every_split(s);
  EXPECT_EQ(t.writes[0], "LHLO store.test\r\n");  // no HELO fallback in LMTP
  EXPECT_EQ(t.results, (std::vector<Strings>{{"500 5.5.1 Unknown command <EHLO>"}}));

  // The connection drops after the first of two replies: the second
  // recipient is not known to be delivered, and is tried again.
  s.messages = {lmtp_message({"a@x.test", "b@x.test"})};
  s.server = {"220 store.test LMTP\r\n", "250-store.test\r\n250 PIPELINING\r\n",
              "250 OK\r\n250 OK\r\n250 OK\r\n354 OK\r\n", "250 2.0.0 Saved\r\n"};
  t = play_at_every_split(s);
  EXPECT_EQ(t.results, (std::vector<Strings>{{"250 2.0.0 Saved <end of data>", "451 4.4.2 Connection lost"}}));
}

}  // namespace
}  // namespace tern::smtp::client
