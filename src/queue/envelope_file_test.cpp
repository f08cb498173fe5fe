#include "queue/envelope_file.h"

#include <gtest/gtest.h>

namespace tern::queue {
namespace {

TEST(EnvelopeFile, RoundTrip) {
  proto::Envelope e;
  e.reverse_path.mailbox = {"\"a b\"", "example.test"};
  e.params.body = proto::Body::k8BitMime;
  e.params.smtputf8 = true;
  e.params.ret = proto::Ret::kHdrs;
  e.params.envid = "id with space+";
  e.helo = "client.example";
  e.client_address = "::1";
  e.protocol = "ESMTP";
  e.recipients.push_back({{"alice", "example.test"}, {proto::kNotifySuccess, "rfc822;alice@example.test"}});
  e.recipients.push_back({{"postmaster", ""}, {}});
  e.recipients.push_back({{"dave", "remote.test"}, {0, "rfc822;team@example.test"}, "Team@example.test"});
  auto text = serialize_envelope(e) + "Subject: x\r\n";
  auto parsed = parse_envelope(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error().detail;
  const auto& p = parsed->envelope;
  EXPECT_EQ(text.substr(parsed->header_size), "Subject: x\r\n");
  EXPECT_FALSE(p.reverse_path.null);
  EXPECT_EQ(p.reverse_path.mailbox.to_string(), "\"a b\"@example.test");
  EXPECT_EQ(p.params.body, proto::Body::k8BitMime);
  EXPECT_TRUE(p.params.smtputf8);
  EXPECT_EQ(p.params.ret, proto::Ret::kHdrs);
  EXPECT_EQ(p.params.envid, "id with space+");
  EXPECT_EQ(p.client_address, "::1");
  ASSERT_EQ(p.recipients.size(), 3u);
  EXPECT_EQ(p.recipients[0].params.orcpt, "rfc822;alice@example.test");
  EXPECT_EQ(p.recipients[0].params.notify, proto::kNotifySuccess);
  EXPECT_EQ(p.recipients[1].mailbox.local_part, "postmaster");
  EXPECT_EQ(p.recipients[1].alias, "");
  EXPECT_EQ(p.recipients[2].alias, "Team@example.test");
  // A file from before the alias field reads as before.
  auto old = parse_envelope("tern-queue 1\nfrom -\nrcpt 0 - a@b.example\n\n");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->envelope.recipients[0].alias, "");
}

TEST(EnvelopeFile, NullSenderAndCorruption) {
  proto::Envelope e;
  e.reverse_path.null = true;
  e.recipients.push_back({{"a", "b.example"}, {}});
  auto parsed = parse_envelope(serialize_envelope(e));
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->envelope.reverse_path.null);
  EXPECT_FALSE(parse_envelope("tern-queue 1\nfrom -\n").ok());        // truncated
  EXPECT_FALSE(parse_envelope("garbage\n\n").ok());
  EXPECT_FALSE(parse_envelope("tern-queue 1\nfrom -\n\n").ok());      // no recipients
}

}  // namespace
}  // namespace tern::queue
