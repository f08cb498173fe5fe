#pragma once
// Tests only: the fake host, the driver and the helpers that play client
// input into a Session at every byte split (session_test.cpp,
// session_policy_test.cpp).
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "smtp/server/session.h"

namespace tern::smtp::server::testing {


// A host that accepts users "alice" and "postmaster" at example.test and
// keeps committed messages in memory.
class FakeHost : public SessionHost {
 public:
  Result<void> check_recipient(const proto::Path& rcpt, std::string_view login) override {
    auto local = rcpt.mailbox.local_part;
    if (!login.empty()) return {};
    if (rcpt.mailbox.domain.empty() || local == "alice" || local == "postmaster") return {};
    if (rcpt.mailbox.domain == "store.test") return {};  // the store decides (defers)
    if (rcpt.mailbox.domain != "example.test") return Error{554, "5.7.1", "Relay access denied", ""};
    return Error{550, "5.1.1", "User unknown", ""};
  }
  Result<std::string> begin_message(const proto::Envelope& envelope) override {
    envelope_ = envelope;
    current_.clear();
    return std::string("QID") + std::to_string(++begun_);
  }
  Result<void> write_message(std::string_view content) override {
    current_ += content;
    return {};
  }
  Result<void> check_sender(const proto::Path& sender, std::string_view login) override {
    if (sender.null || sender.mailbox.to_string() == login) return {};
    return Error{553, "5.7.1", "Sender address rejected: not owned by user", ""};
  }
  // The store decides on recipients at store.test; SPF-like checks on
  // senders at slow.test, at MAIL and again at end of data.
  bool defers(PolicyStage stage, const proto::Path& path) override {
    return path.mailbox.domain == (stage == PolicyStage::kRcpt ? "store.test" : "slow.test");
  }
  Result<std::size_t> etrn(std::string_view domain, bool subdomains) override {
    if (domain == "secret.test") return Error{459, "4.7.1", "Node secret.test not allowed: no", ""};
    return domain == "busy.test" ? (subdomains ? 3u : 2u) : 0u;
  }
  void discard_message() override { ++discarded_; }
  std::time_t now() override { return 0; }

  proto::Envelope envelope_;
  std::string current_;
  int begun_ = 0;
  int discarded_ = 0;
};

// The policy's answers. RCPT: the store knows "known", finds "down" not
// answering. MAIL: "forged" fails. End of data: a message saying "REJECT" is
// refused.
inline Result<void> decide(const Session& session, const FakeHost& host) {
  auto local = session.policy_path().mailbox.local_part;
  switch (session.policy_stage()) {
    case PolicyStage::kRcpt:
      if (local == "known") return {};
      if (local == "down") return Error{451, "4.4.3", "Try again later", ""};
      return Error{550, "5.1.1", "User unknown", ""};
    case PolicyStage::kMail:
      if (local == "forged") return Error{550, "5.7.23", "SPF validation failed", ""};
      return {};
    case PolicyStage::kData:
      if (host.current_.find("REJECT") != std::string::npos) return Error{550, "5.7.1", "Rejected by policy", ""};
      return {};
  }
  return {};
}

struct Run {
  std::string output;
  std::vector<std::string> messages;
  int discarded = 0;
};

// Plays `input` into a fresh session in two pieces cut at `split`,
// committing every message the session completes.
// The driver's part: commits, password checks (alice@example.test has
// "secret"; down@example.test finds the user database unavailable) and
// TLS handshakes, done at once.
inline void drive(Session& session, FakeHost& host, Run& run) {
  while (true) {
    if (session.awaiting_commit()) {
      run.messages.push_back(host.current_);
      session.committed({});
    } else if (session.awaiting_auth()) {
      auto c = session.take_credentials();
      session.authenticated(c.login == "down@example.test" ? AuthVerdict::kUnavailable
                            : c.login == "alice@example.test" && c.password == "secret" ? AuthVerdict::kOk
                                                                                        : AuthVerdict::kBadCredentials);
    } else if (session.awaiting_policy()) {
      session.policy_decided(decide(session, host));
    } else if (session.wants_tls()) {
      session.tls_established({"TLSv1.3", "TLS_AES_128_GCM_SHA256", 128});
    } else {
      return;
    }
  }
}

inline Run play(std::string_view input, std::size_t split, SessionLimits limits = {}, SessionOptions options = {}) {
  FakeHost host;
  Session session(host, limits, "mx.example.test", "S1", "192.0.2.1", options);
  Run run;
  session.start();
  auto feed = [&](std::string_view bytes) {
    session.receive(bytes);
    drive(session, host, run);
  };
  feed(input.substr(0, split));
  feed(input.substr(split));
  run.output = session.take_output();
  run.discarded = host.discarded_;
  return run;
}

// Reply codes in order (the first three digits of each final reply line).
inline std::vector<std::string> codes(const std::string& output) {
  std::vector<std::string> out;
  std::regex line_re("(\\d{3}) [^\r]*\r\n");
  for (auto it = std::sregex_iterator(output.begin(), output.end(), line_re); it != std::sregex_iterator();
       ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

// The replies are the same wherever TCP cuts the input.
inline std::vector<std::string> codes_at_every_split(std::string_view input, SessionLimits limits = {}) {
  auto expected = play(input, input.size(), limits);
  for (std::size_t split = 0; split < input.size(); ++split) {
    auto run = play(input, split, limits);
    EXPECT_EQ(run.output, expected.output) << "split " << split;
    EXPECT_EQ(run.messages, expected.messages) << "split " << split;
  }
  return codes(expected.output);
}

using Codes = std::vector<std::string>;

}  // namespace tern::smtp::server::testing
