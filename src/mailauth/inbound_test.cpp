#include "mailauth/inbound.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "spf/test_zone.h"

namespace tern::mailauth {
namespace {

namespace asio = boost::asio;

class InboundTest : public ::testing::Test {
 protected:
  template <class T>
  T run(asio::awaitable<T> op) {
    auto future = asio::co_spawn(io_, std::move(op), asio::use_future);
    io_.restart();
    io_.run();
    return future.get();
  }
  void run(asio::awaitable<void> op) {
    auto future = asio::co_spawn(io_, std::move(op), asio::use_future);
    io_.restart();
    io_.run();
    future.get();
  }

  asio::io_context io_;
  spf::testing::TestZone zone_{nlohmann::json::parse(R"({
    "example.org": {"TXT": [["v=spf1 ip4:192.0.2.1 -all"]]},
    "_dmarc.example.org": {"TXT": [["v=DMARC1; p=reject"]]},
    "soft.test": {"TXT": [["v=spf1 ~all"]]},
    "fails.test": {"TXT": [["v=spf1 -all"]]}
  })")};
  InboundOptions options_{.authserv_id = "mx.example.test", .spf = {}, .dkim = true, .dmarc = {}};
};

TEST_F(InboundTest, SpfAtMailDmarcAtEndOfData) {
  InboundChecks checks(options_, zone_, asio::ip::make_address("192.0.2.1"));
  run(checks.check_sender("client.example.org", "alice@example.org"));
  run(checks.check_sender("client.example.org", "alice@example.org"));
  checks.begin_message();
  checks.feed("From: Alice <alice@example.org>\r\nSubject: hi\r\n\r\nbody\r\n");
  auto verdict = run(checks.finish(0));
  ASSERT_TRUE(verdict.reply.ok()) << verdict.reply.error().text;
  EXPECT_EQ(verdict.log, "spf=pass dkim=none dmarc=pass arc=none spf_helo=none");
  EXPECT_NE(verdict.fields.find("spf=pass"), std::string::npos) << verdict.fields;
  EXPECT_NE(verdict.fields.find("smtp.mailfrom=alice@example.org"), std::string::npos) << verdict.fields;
  EXPECT_NE(verdict.fields.find("dmarc=pass"), std::string::npos) << verdict.fields;
}

// RFC 7208 2.3: the HELO name is checked too (its result in the log; the
// header keeps one spf=, the MAIL FROM identity's); its fail rejects when
// action_fail = "reject".
TEST_F(InboundTest, HeloIdentityIsCheckedToo) {
  InboundChecks checks(options_, zone_, asio::ip::make_address("192.0.2.1"));
  run(checks.check_sender("soft.test", "alice@example.org"));
  checks.begin_message();
  checks.feed("From: alice@example.org\r\n\r\nbody\r\n");
  auto verdict = run(checks.finish(0));
  ASSERT_TRUE(verdict.reply.ok());
  EXPECT_EQ(verdict.log, "spf=pass dkim=none dmarc=pass arc=none spf_helo=softfail");
  EXPECT_EQ(verdict.fields.find("smtp.helo"), std::string::npos) << verdict.fields;

  auto reject = options_;
  reject.spf.action_fail = config::Action::kReject;
  InboundChecks strict(reject, zone_, asio::ip::make_address("192.0.2.1"));
  run(strict.check_sender("fails.test", "alice@example.org"));  // MAIL FROM passes, HELO fails
  strict.begin_message();
  strict.feed("From: alice@example.org\r\n\r\nbody\r\n");
  auto refused = run(strict.finish(0));
  ASSERT_FALSE(refused.reply.ok());
  EXPECT_EQ(refused.reply.error().enhanced, "5.7.23");
}

// DMARC p=reject failing: 550 5.7.1 by default; annotated when so configured.
TEST_F(InboundTest, DmarcRejectFails) {
  InboundChecks checks(options_, zone_, asio::ip::make_address("198.51.100.7"));
  run(checks.check_sender("client.test", "alice@example.org"));
  checks.begin_message();
  checks.feed("From: alice@example.org\r\n\r\nbody\r\n");
  auto verdict = run(checks.finish(0));
  ASSERT_FALSE(verdict.reply.ok());
  EXPECT_EQ(verdict.reply.error().code, 550);
  EXPECT_EQ(verdict.reply.error().enhanced, "5.7.1");
  EXPECT_EQ(verdict.log, "spf=fail dkim=none dmarc=fail arc=none spf_helo=none");
  EXPECT_EQ(checks.from_domain(), "example.org");

  // Not enforced (a From domain of ours, from a relay-network host): recorded only.
  auto recorded = run(checks.finish(0, false));
  ASSERT_TRUE(recorded.reply.ok()) << recorded.reply.error().text;
  EXPECT_EQ(recorded.log, verdict.log);
  EXPECT_NE(recorded.fields.find("dmarc=fail"), std::string::npos) << recorded.fields;
}

}  // namespace
}  // namespace tern::mailauth
