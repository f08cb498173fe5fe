// DSNs (dsn.h): who gets one, and the structure of what is written.
#include "queue/dsn_test_support.h"

namespace tern::queue {
namespace {

using namespace dsn_test;

// --- decisions --------------------------------------------------------------

TEST(Dsn, NotifyDecisionTable) {
  struct Row {
    const char* notify;  // "" = not given
    bool failure, delay, success;
  };
  const Row rows[] = {
      {"", true, true, false},
      {"NEVER", false, false, false},
      {"SUCCESS", false, false, true},
      {"FAILURE", true, false, false},
      {"DELAY", false, true, false},
      {"FAILURE,DELAY", true, true, false},
      {"SUCCESS,FAILURE", true, false, true},
      {"SUCCESS,FAILURE,DELAY", true, true, true},
  };
  for (const auto& row : rows) {
    std::string params = *row.notify ? std::string(" NOTIFY=") + row.notify : "";
    auto e = make_envelope("", {{"bob@example.org", params}});
    const auto& r = e.recipients[0];
    EXPECT_EQ(wants_dsn(r, DsnKind::kFailure), row.failure) << row.notify;
    EXPECT_EQ(wants_dsn(r, DsnKind::kDelay), row.delay) << row.notify;
    EXPECT_EQ(wants_dsn(r, DsnKind::kSuccess), row.success) << row.notify;
  }
}

TEST(Dsn, ActionsPerKind) {
  EXPECT_TRUE(dsn_reports(DsnKind::kFailure, DsnAction::kFailed));
  EXPECT_FALSE(dsn_reports(DsnKind::kFailure, DsnAction::kDelayed));
  EXPECT_TRUE(dsn_reports(DsnKind::kDelay, DsnAction::kDelayed));
  EXPECT_FALSE(dsn_reports(DsnKind::kDelay, DsnAction::kFailed));
  EXPECT_TRUE(dsn_reports(DsnKind::kSuccess, DsnAction::kDelivered));
  EXPECT_TRUE(dsn_reports(DsnKind::kSuccess, DsnAction::kRelayed));
  EXPECT_FALSE(dsn_reports(DsnKind::kSuccess, DsnAction::kFailed));
}

TEST(Dsn, PlanTakesAllWhoWantItInOneNotification) {
  auto e = make_envelope("", {{"a@example.org", ""},
                              {"b@example.org", " NOTIFY=NEVER"},
                              {"c@example.org", " NOTIFY=DELAY"},
                              {"d@example.org", ""},
                              {"e@example.org", " NOTIFY=FAILURE"},
                              {"f@example.org", " NOTIFY=SUCCESS"}});
  std::vector<DsnRecipient> outcomes = {failed(0), failed(1), failed(2), delayed(3), failed(4), failed(5),
                                        failed(17)};
  auto plan = plan_dsn(e, DsnKind::kFailure, outcomes);
  EXPECT_EQ(plan.decision, DsnDecision::kSend);
  ASSERT_EQ(plan.recipients.size(), 2u);
  EXPECT_EQ(plan.recipients[0].index, 0u);
  EXPECT_EQ(plan.recipients[1].index, 4u);

  outcomes[2] = delayed(2);
  plan = plan_dsn(e, DsnKind::kDelay, outcomes);
  EXPECT_EQ(plan.decision, DsnDecision::kSend);
  ASSERT_EQ(plan.recipients.size(), 2u);
  EXPECT_EQ(plan.recipients[0].index, 2u);
  EXPECT_EQ(plan.recipients[1].index, 3u);
}

TEST(Dsn, NothingRequested) {
  auto e = make_envelope("", {{"a@example.org", " NOTIFY=NEVER"}, {"b@example.org", " NOTIFY=SUCCESS"}});
  EXPECT_EQ(plan_dsn(e, DsnKind::kFailure, {failed(0), failed(1)}).decision, DsnDecision::kNotRequested);
  EXPECT_EQ(plan_dsn(kTwo, DsnKind::kFailure, {}).decision, DsnDecision::kNotRequested);
  EXPECT_EQ(plan_dsn(kTwo, DsnKind::kDelay, {failed(0)}).decision, DsnDecision::kNotRequested);
}

TEST(Dsn, NeverBounceABounce) {
  auto e = make_envelope("", {{"bob@example.org", ""}}, "");
  auto plan = plan_dsn(e, DsnKind::kFailure, {failed(0)});
  EXPECT_EQ(plan.decision, DsnDecision::kNullSender);
  EXPECT_TRUE(plan.recipients.empty());
  std::string out;
  auto result = write_dsn(e, make_request(DsnKind::kFailure, {failed(0)}), string_reader(kOriginal),
                          [&](std::string_view p) -> Result<void> { out += p; return {}; });
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(out.empty());
}

TEST(Dsn, BadRequests) {
  auto sink = [](std::string_view) -> Result<void> { return {}; };
  EXPECT_FALSE(write_dsn(kTwo, make_request(DsnKind::kFailure, {}), string_reader(kOriginal), sink).ok());
  EXPECT_FALSE(write_dsn(kTwo, make_request(DsnKind::kFailure, {failed(2)}), string_reader(kOriginal), sink).ok());
}

// --- the message ------------------------------------------------------------

TEST(Dsn, FailureStructure) {
  auto g = generate(kTwo, make_request(DsnKind::kFailure, {failed(0), failed(1, "5.2.2", "552 5.2.2 Mailbox full")}));
  // The envelope: from <> to the original reverse-path (RFC 5321 4.5.5, RFC 3464 2).
  EXPECT_TRUE(g.result.envelope.reverse_path.null);
  ASSERT_EQ(g.result.envelope.recipients.size(), 1u);
  EXPECT_EQ(g.result.envelope.recipients[0].mailbox.to_string(), "alice@example.test");
  EXPECT_EQ(g.result.envelope.params.body, proto::Body::k7Bit);
  EXPECT_FALSE(g.result.envelope.params.smtputf8);
  EXPECT_EQ(g.result.returned, DsnReturned::kHeaders);

  const auto& m = g.message;
  EXPECT_EQ(m.get("Date"), "Sun, 19 Nov 2023 22:13:20 +0000");
  EXPECT_EQ(m.get("From"), "Mail Delivery System <MAILER-DAEMON@mx.example.test>");
  EXPECT_EQ(m.get("To"), "<alice@example.test>");
  EXPECT_EQ(m.get("Subject"), "Undelivered Mail Returned to Sender");
  EXPECT_TRUE(std::regex_match(m.get("Message-ID"), std::regex("<dsn\\.[0-9]+\\.[0-9a-f]{16}@mx\\.example\\.test>")))
      << m.get("Message-ID");
  EXPECT_EQ(m.get("References"), "<m1@example.test>");
  EXPECT_EQ(m.get("Auto-Submitted"), "auto-replied");
  EXPECT_EQ(m.get("MIME-Version"), "1.0");
  EXPECT_TRUE(istarts_with(m.get("Content-Type"), "multipart/report; report-type=delivery-status;"));
  EXPECT_FALSE(m.has("Content-Transfer-Encoding"));
  EXPECT_GE(g.result.boundary.size(), 30u);

  ASSERT_EQ(g.parts.size(), 3u);
  EXPECT_EQ(g.parts[0].get("Content-Type"), "text/plain; charset=us-ascii");
  EXPECT_EQ(g.parts[1].get("Content-Type"), "message/delivery-status");
  EXPECT_EQ(g.parts[2].get("Content-Type"), "text/rfc822-headers");
  for (const auto& part : g.parts) EXPECT_EQ(part.get("Content-Transfer-Encoding"), "7bit");

  // Part 1 names each recipient with its diagnostic.
  const auto& text = g.parts[0].body;
  EXPECT_NE(text.find("<bob@example.org>\r\n    host mx.example.org said: 550 5.1.1 User unknown"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("<carol@example.org>\r\n    host mx.example.org said: 552 5.2.2 Mailbox full"),
            std::string::npos);

  // Part 2: RFC 3464 2.2 and 2.3 required fields.
  auto groups = status_groups(g.parts[1].body);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].get("Reporting-MTA"), "dns; mx.example.test");
  EXPECT_EQ(groups[0].get("Arrival-Date"), "Tue, 14 Nov 2023 22:13:20 +0000");
  EXPECT_FALSE(groups[0].has("Original-Envelope-Id"));
  EXPECT_EQ(groups[1].get("Final-Recipient"), "rfc822;bob@example.org");
  EXPECT_EQ(groups[1].get("Action"), "failed");
  EXPECT_EQ(groups[1].get("Status"), "5.1.1");
  EXPECT_EQ(groups[1].get("Remote-MTA"), "dns; mx.example.org");
  EXPECT_EQ(groups[1].get("Diagnostic-Code"), "smtp; 550 5.1.1 User unknown");
  EXPECT_EQ(groups[1].get("Last-Attempt-Date"), "Sun, 19 Nov 2023 22:12:20 +0000");
  EXPECT_FALSE(groups[1].has("Original-Recipient"));
  EXPECT_FALSE(groups[1].has("Will-Retry-Until"));
  EXPECT_EQ(groups[2].get("Final-Recipient"), "rfc822;carol@example.org");
  EXPECT_EQ(groups[2].get("Status"), "5.2.2");

  // Part 3: the header section only (RET not given).
  EXPECT_EQ(g.parts[2].body, kOriginal.substr(0, kOriginal.find("\r\n\r\n") + 2));
}

TEST(Dsn, RetFullReturnsTheMessage) {
  auto e = make_envelope(" RET=FULL", {{"bob@example.org", ""}});
  auto g = generate(e, make_request(DsnKind::kFailure, {failed(0)}));
  EXPECT_EQ(g.result.returned, DsnReturned::kFull);
  ASSERT_EQ(g.parts.size(), 3u);
  EXPECT_EQ(g.parts[2].get("Content-Type"), "message/rfc822");
  EXPECT_EQ(g.parts[2].body, kOriginal);
  EXPECT_NE(g.parts[0].body.find("Your message is attached."), std::string::npos);
}

TEST(Dsn, RetHdrsAndDelaysReturnHeaders) {
  std::string headers = kOriginal.substr(0, kOriginal.find("\r\n\r\n") + 2);
  auto hdrs = make_envelope(" RET=HDRS", {{"bob@example.org", ""}});
  auto g = generate(hdrs, make_request(DsnKind::kFailure, {failed(0)}));
  EXPECT_EQ(g.parts[2].get("Content-Type"), "text/rfc822-headers");
  EXPECT_EQ(g.parts[2].body, headers);
  // RFC 3461 4.3: RET=FULL is about failure reports.
  auto full = make_envelope(" RET=FULL", {{"bob@example.org", ""}});
  g = generate(full, make_request(DsnKind::kDelay, {delayed(0)}));
  EXPECT_EQ(g.result.returned, DsnReturned::kHeaders);
  EXPECT_EQ(g.parts[2].body, headers);
}

TEST(Dsn, EnvidAndOrcptEchoedDecoded) {
  auto e = make_envelope(" RET=HDRS ENVID=QQ+2B314", {{"bob@example.org", " NOTIFY=FAILURE ORCPT=rfc822;b+2Bob@example.org"},
                                                      {"carol@example.org", ""}});
  ASSERT_EQ(e.params.envid, "QQ+314");
  auto g = generate(e, make_request(DsnKind::kFailure, {failed(0), failed(1)}));
  auto groups = status_groups(g.parts[1].body);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].get("Original-Envelope-Id"), "QQ+314");
  EXPECT_EQ(groups[1].get("Original-Recipient"), "rfc822;b+ob@example.org");
  EXPECT_FALSE(groups[2].has("Original-Recipient"));
  // RFC 3464 2.2, 2.3: the fields come in the RFC's order.
  EXPECT_EQ(groups[0].fields[0].first, "Original-Envelope-Id");
  EXPECT_EQ(groups[1].fields[0].first, "Original-Recipient");
  EXPECT_EQ(groups[1].fields[1].first, "Final-Recipient");
}

TEST(Dsn, DelayWarning) {
  auto g = generate(kTwo, make_request(DsnKind::kDelay, {delayed(1)}));
  EXPECT_EQ(g.message.get("Subject"), "Delayed Mail (still being retried)");
  auto groups = status_groups(g.parts[1].body);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[1].get("Final-Recipient"), "rfc822;carol@example.org");
  EXPECT_EQ(groups[1].get("Action"), "delayed");
  EXPECT_EQ(groups[1].get("Status"), "4.4.1");
  EXPECT_EQ(groups[1].get("Will-Retry-Until"), "Sun, 19 Nov 2023 22:13:20 +0000");
  EXPECT_NE(g.parts[0].body.find("will retry until Sun, 19 Nov 2023"), std::string::npos);
  EXPECT_NE(g.parts[0].body.find("you do not need to send it again"), std::string::npos);
}

TEST(Dsn, SuccessReport) {
  auto e = make_envelope("", {{"bob@example.org", " NOTIFY=SUCCESS"}});
  DsnRecipient r;
  r.action = DsnAction::kRelayed;
  r.remote_mta = "mx.example.org";
  auto g = generate(e, make_request(DsnKind::kSuccess, {r}));
  EXPECT_EQ(g.message.get("Subject"), "Successful Mail Delivery Report");
  auto groups = status_groups(g.parts[1].body);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[1].get("Action"), "relayed");
  EXPECT_EQ(groups[1].get("Status"), "2.0.0");
  EXPECT_FALSE(groups[1].has("Diagnostic-Code"));
}

TEST(Dsn, DiagnosticType) {
  DsnRecipient local = failed(0, "4.4.1", "connect to mx.example.org[192.0.2.7]:25: Connection refused");
  local.diagnostic_type = "x-tern";
  DsnRecipient bad = failed(1);
  bad.diagnostic_type = "x tern;";
  auto g = generate(kTwo, make_request(DsnKind::kFailure, {local, bad}));
  auto groups = status_groups(g.parts[1].body);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[1].get("Diagnostic-Code"), "x-tern; connect to mx.example.org[192.0.2.7]:25: Connection refused");
  EXPECT_EQ(groups[2].get("Diagnostic-Code"), "smtp; 550 5.1.1 User unknown");
}

// tern's own verdict (a mail loop) is not presented as the server's reply.
TEST(Dsn, OwnWordsAreNotWhatTheHostSaid) {
  DsnRecipient loop = failed(0, "5.4.6", "Mail loops back to myself: the server names itself mx.example.test");
  loop.remote_mta = "mx.example.org";
  loop.diagnostic_type = "x-tern";
  DsnRecipient refused = failed(1);
  refused.remote_mta = "mx.example.org";
  auto g = generate(kTwo, make_request(DsnKind::kFailure, {loop, refused}));
  const auto& text = g.parts[0].body;
  EXPECT_EQ(text.find("said: Mail loops"), std::string::npos) << text;
  EXPECT_NE(text.find("Mail loops back to myself: the server names itself mx.example.test (host"), std::string::npos)
      << text;
  EXPECT_NE(text.find("host mx.example.org said: 550 5.1.1 User unknown"), std::string::npos) << text;
}

TEST(Dsn, StatusAgreesWithAction) {
  struct Row {
    DsnAction action;
    const char* given;
    const char* sent;
  };
  const Row rows[] = {
      {DsnAction::kFailed, "", "5.0.0"},      {DsnAction::kFailed, "5.1.10", "5.1.10"},
      {DsnAction::kFailed, "4.4.7", "4.4.7"}, {DsnAction::kFailed, "2.0.0", "5.0.0"},
      {DsnAction::kFailed, "5.1", "5.0.0"},   {DsnAction::kFailed, "5.1.1x", "5.0.0"},
      {DsnAction::kFailed, "5.1234.1", "5.0.0"}, {DsnAction::kDelayed, "5.1.1", "4.0.0"},
      {DsnAction::kDelivered, "", "2.0.0"},
  };
  for (const auto& row : rows) {
    DsnRecipient r = failed(0, row.given);
    r.action = row.action;
    auto kind = row.action == DsnAction::kFailed ? DsnKind::kFailure
                : row.action == DsnAction::kDelayed ? DsnKind::kDelay
                                                    : DsnKind::kSuccess;
    auto g = generate(kTwo, make_request(kind, {r}));
    auto groups = status_groups(g.parts[1].body);
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_EQ(groups[1].get("Status"), row.sent) << row.given;
  }
}

TEST(Dsn, LongDiagnosticIsFolded) {
  std::string diagnostic = "550-5.7.1";
  for (int i = 0; i < 200; ++i) diagnostic += " word" + std::to_string(i);
  diagnostic += "\r\n550 5.7.1 " + std::string(1500, 'x') + " end";
  auto g = generate(kTwo, make_request(DsnKind::kFailure, {failed(0, "5.7.1", diagnostic)}));
  auto groups = status_groups(g.parts[1].body);
  ASSERT_EQ(groups.size(), 2u);
  auto value = groups[1].get("Diagnostic-Code");
  auto squeeze = [](std::string s) {
    s.erase(std::remove_if(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\r' || c == '\n'; }), s.end());
    return s;
  };
  EXPECT_EQ(squeeze(value), squeeze("smtp; " + diagnostic));
  // Folded at spaces: only the 1500-octet word needs a cut, everything else
  // keeps within 78 octets.
  std::size_t long_lines = 0;
  for (const auto& line : split_lines(g.parts[1].body)) long_lines += line.size() > kSoftLineLimit;
  EXPECT_EQ(long_lines, 2u);
  // Words keep their single spaces when unfolded.
  EXPECT_NE(value.find("word7 word8 word9"), std::string::npos);
}

TEST(Dsn, OutsideTextCannotAddFields) {
  auto e = make_envelope(" ENVID=a+0D+0AAction:+20delivered", {{"bob@example.org", ""}});
  e.recipients[0].params.orcpt = "rfc822;bob@example.org\r\nAction: delivered";
  DsnRecipient r = failed(0, "5.1.1", "550 no\r\nAction: delivered\r\n\r\nFinal-Recipient: rfc822;x@y");
  r.remote_mta = "mx.example.org\r\nAction: delivered";
  auto g = generate(e, make_request(DsnKind::kFailure, {r}));
  auto groups = status_groups(g.parts[1].body);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_FALSE(groups[0].has("Original-Envelope-Id"));
  EXPECT_FALSE(groups[1].has("Original-Recipient"));
  EXPECT_FALSE(groups[1].has("Remote-MTA"));
  EXPECT_EQ(groups[1].get("Action"), "failed");
  EXPECT_EQ(groups[1].get("Final-Recipient"), "rfc822;bob@example.org");
  EXPECT_EQ(groups[1].get("Diagnostic-Code"), "smtp; 550 no Action: delivered Final-Recipient: rfc822;x@y");
}

TEST(Dsn, BoundaryNeverInTheOriginal) {
  auto e = make_envelope(" RET=FULL", {{"bob@example.org", ""}});
  auto request = make_request(DsnKind::kFailure, {failed(0)});
  auto first = generate(e, request).result.boundary;
  // The same seed would pick the same boundary; the original now holds it.
  std::string original = kOriginal + "--" + first + "\r\nmore\r\n--" + first + "--\r\n";
  auto g = generate(e, request, original);
  EXPECT_NE(g.result.boundary, first);
  ASSERT_EQ(g.parts.size(), 3u);
  EXPECT_EQ(g.parts[2].body, original);
}

// A reader over a large synthetic message that records how far it was read.
struct BigMessage {
  std::string headers = "Subject: big\r\nMessage-ID: <big@example.test>\r\n\r\n";
  std::uint64_t body_lines = 100000;  // 100 octets each: 10 MB
  std::uint64_t furthest = 0;

  std::uint64_t size() const { return headers.size() + body_lines * 100; }
  MessageReader reader() {
    return [this](std::uint64_t offset, char* data, std::size_t n) -> Result<std::size_t> {
      std::size_t i = 0;
      for (; i < n && offset + i < size(); ++i) {
        auto at = offset + i;
        data[i] = at < headers.size() ? headers[at] : ((at - headers.size()) % 100 >= 98 ? "\r\n"[(at - headers.size()) % 100 - 98] : 'a');
      }
      furthest = std::max(furthest, offset + i);
      return i;
    };
  }
};

TEST(Dsn, StreamsWithoutHoldingTheMessage) {
  BigMessage big;
  std::size_t pieces = 0, largest = 0, total = 0;
  auto sink = [&](std::string_view piece) -> Result<void> {
    ++pieces;
    largest = std::max(largest, piece.size());
    total += piece.size();
    return {};
  };
  // Headers only: the body is never read.
  auto hdrs = make_envelope("", {{"bob@example.org", ""}});
  auto result = write_dsn(hdrs, make_request(DsnKind::kFailure, {failed(0)}), big.reader(), sink);
  ASSERT_TRUE(result.ok());
  EXPECT_LE(big.furthest, 64u * 1024);
  EXPECT_EQ(result->returned, DsnReturned::kHeaders);
  // The whole message: copied in pieces.
  pieces = largest = total = 0;
  auto full = make_envelope(" RET=FULL", {{"bob@example.org", ""}});
  result = write_dsn(full, make_request(DsnKind::kFailure, {failed(0)}), big.reader(), sink);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->returned, DsnReturned::kFull);
  EXPECT_EQ(result->size, total);
  EXPECT_GT(total, big.size());
  EXPECT_GT(pieces, 100u);
  EXPECT_LE(largest, 64u * 1024);
}

TEST(Dsn, ReaderAndSinkErrorsStopIt) {
  auto failing_reader = [](std::uint64_t, char*, std::size_t) -> Result<std::size_t> {
    return temp_error("4.3.0", "read failed");
  };
  auto sink = [](std::string_view) -> Result<void> { return temp_error("4.3.1", "disk full"); };
  auto request = make_request(DsnKind::kFailure, {failed(0)});
  auto r = write_dsn(kTwo, request, failing_reader, [](std::string_view) -> Result<void> { return {}; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().text, "read failed");
  r = write_dsn(kTwo, request, string_reader(kOriginal), sink);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().enhanced, "4.3.1");
}

TEST(Dsn, EightBitContentIsLabelled) {
  std::string original = "Subject: caf\xC3\xA9?\r\n\r\nna\xC3\xAFve body\r\n";
  auto e = make_envelope(" BODY=8BITMIME RET=FULL", {{"bob@example.org", ""}});
  auto g = generate(e, make_request(DsnKind::kFailure, {failed(0)}), original);
  EXPECT_EQ(g.result.envelope.params.body, proto::Body::k8BitMime);
  EXPECT_EQ(g.message.get("Content-Transfer-Encoding"), "8bit");
  ASSERT_EQ(g.parts.size(), 3u);
  EXPECT_EQ(g.parts[2].get("Content-Type"), "message/rfc822");
  EXPECT_EQ(g.parts[2].get("Content-Transfer-Encoding"), "8bit");
  EXPECT_EQ(g.parts[1].get("Content-Transfer-Encoding"), "7bit");
  // An 8-bit body with only the (ASCII) headers returned is plain 7bit.
  std::string ascii_headers = "Subject: x\r\n\r\nna\xC3\xAFve\r\n";
  auto h = make_envelope(" BODY=8BITMIME", {{"bob@example.org", ""}});
  g = generate(h, make_request(DsnKind::kFailure, {failed(0, "5.1.1", "550 5.1.1 Caf\xC3\xA9 ferm\xC3\xA9")}),
               ascii_headers);
  EXPECT_EQ(g.result.envelope.params.body, proto::Body::k7Bit);
  EXPECT_FALSE(g.message.has("Content-Transfer-Encoding"));
  EXPECT_EQ(status_groups(g.parts[1].body)[1].get("Diagnostic-Code"), "smtp; 550 5.1.1 Caf?? ferm??");
}

TEST(Dsn, Utf8AddressesUseGlobalTypes) {
  // RFC 6533: UTF-8 addresses go in message/global-delivery-status.
  auto e = make_envelope(" SMTPUTF8", {{"j\xC3\xBCrgen@example.org", " ORCPT=utf-8;j\\x{FC}rgen@example.org"}});
  std::string original = "From: alice@example.test\r\nTo: j\xC3\xBCrgen@example.org\r\n\r\nhi\r\n";
  auto g = generate(e, make_request(DsnKind::kFailure, {failed(0, "5.1.1", "550 5.1.1 Unbekannt: j\xC3\xBCrgen")}),
                    original);
  EXPECT_TRUE(istarts_with(g.message.get("Content-Type"), "multipart/report; report-type=global-delivery-status;"));
  ASSERT_EQ(g.parts.size(), 3u);
  EXPECT_EQ(g.parts[0].get("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(g.parts[1].get("Content-Type"), "message/global-delivery-status");
  EXPECT_EQ(g.parts[1].get("Content-Transfer-Encoding"), "8bit");
  EXPECT_EQ(g.parts[2].get("Content-Type"), "message/global-headers");
  auto groups = status_groups(g.parts[1].body);
  EXPECT_EQ(groups[1].get("Original-Recipient"), "utf-8;j\\x{FC}rgen@example.org");
  EXPECT_EQ(groups[1].get("Final-Recipient"), "utf-8;j\xC3\xBCrgen@example.org");
  EXPECT_EQ(groups[1].get("Diagnostic-Code"), "smtp; 550 5.1.1 Unbekannt: j\xC3\xBCrgen");
  // The sender's address is ASCII: no SMTPUTF8 needed, 8BITMIME carries it.
  EXPECT_FALSE(g.result.envelope.params.smtputf8);
  EXPECT_EQ(g.result.envelope.params.body, proto::Body::k8BitMime);

  // A UTF-8 sender needs SMTPUTF8 for the notification itself.
  auto from_utf8 = make_envelope(" SMTPUTF8", {{"bob@example.org", ""}}, "b\xC3\xA9@example.test");
  g = generate(from_utf8, make_request(DsnKind::kFailure, {failed(0)}));
  EXPECT_TRUE(g.result.envelope.params.smtputf8);
  EXPECT_EQ(g.message.get("To"), "<b\xC3\xA9@example.test>");

  // SMTPUTF8 given but everything ASCII: the classic types.
  auto ascii = make_envelope(" SMTPUTF8", {{"bob@example.org", ""}});
  g = generate(ascii, make_request(DsnKind::kFailure, {failed(0)}));
  EXPECT_EQ(g.parts[1].get("Content-Type"), "message/delivery-status");
}

TEST(Dsn, LongLinesAreNotReturned) {
  auto full = make_envelope(" RET=FULL", {{"bob@example.org", ""}});
  std::string long_body = "Subject: x\r\n\r\n" + std::string(2000, 'b') + "\r\n";
  auto g = generate(full, make_request(DsnKind::kFailure, {failed(0)}), long_body);
  EXPECT_EQ(g.result.returned, DsnReturned::kHeaders);
  ASSERT_EQ(g.parts.size(), 3u);
  EXPECT_EQ(g.parts[2].body, "Subject: x\r\n");
  EXPECT_NE(g.parts[0].body.find("Only the header section"), std::string::npos);

  std::string long_header = "Subject: " + std::string(2000, 'h') + "\r\n\r\nbody\r\n";
  g = generate(full, make_request(DsnKind::kFailure, {failed(0)}), long_header);
  EXPECT_EQ(g.result.returned, DsnReturned::kNothing);
  EXPECT_EQ(g.parts.size(), 2u);
}

TEST(Dsn, OriginalWithoutFinalLineEnd) {
  auto full = make_envelope(" RET=FULL", {{"bob@example.org", ""}});
  auto g = generate(full, make_request(DsnKind::kFailure, {failed(0)}), "Subject: x\r\n\r\nno end");
  ASSERT_EQ(g.parts.size(), 3u);
  EXPECT_EQ(g.parts[2].body, "Subject: x\r\n\r\nno end\r\n");
  g = generate(kTwo, make_request(DsnKind::kFailure, {failed(0)}), "Subject: only headers");
  ASSERT_EQ(g.parts.size(), 3u);
  EXPECT_EQ(g.parts[2].body, "Subject: only headers\r\n");
  EXPECT_FALSE(g.message.has("References"));
}


}  // namespace
}  // namespace tern::queue
