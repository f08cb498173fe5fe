#pragma once
// The simulator's SMTP clients: each drives tern's real server session
// (smtp::server::Session) with a script of byte chunks, through a host that
// stores into the real spool (as net/connection.cpp's SpoolHost does).
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "queue/spool.h"
#include "smtp/server/session.h"

namespace tern::sim {

// Users the clients write to: u0..u3@local.test (Maildirs), r0..r9@remote.test
// (the scripted MX).
constexpr std::size_t kLocalUsers = 4;
constexpr std::size_t kRemoteUsers = 10;

// The session's window on the simulated tern: the recipients it knows and
// the spool (as net/connection.cpp's SpoolHost).
class SimHost : public smtp::server::SessionHost {
 public:
  SimHost(queue::Spool& spool, const Clock& clock) : spool_(spool), clock_(clock) {}

  Result<void> check_recipient(const proto::Path& recipient, std::string_view) override {
    const auto& m = recipient.mailbox;
    if (m.domain == "local.test" || m.domain == "remote.test") return {};
    return Error{550, "5.1.1", "No such user", ""};
  }
  Result<std::string> begin_message(const proto::Envelope& envelope) override {
    auto id = spool_.new_id();
    auto writer = spool_.create(id, envelope);
    if (!writer) return writer.error();
    writer_ = std::move(writer.value());
    envelope_ = envelope;
    return id;
  }
  Result<void> write_message(std::string_view content) override { return writer_->write(content); }
  void discard_message() override { writer_.reset(); }
  std::time_t now() override { return std::chrono::system_clock::to_time_t(clock_.now()); }

  std::unique_ptr<queue::SpoolWriter> writer_;
  proto::Envelope envelope_;

 private:
  queue::Spool& spool_;
  const Clock& clock_;
};

struct Client {
  std::size_t sim_id = 0;
  std::unique_ptr<SimHost> host;
  std::unique_ptr<smtp::server::Session> session;
  std::vector<std::string> chunks;  // what the client sends, piece by piece
  std::size_t next = 0;
  bool drops = false;               // the connection is lost after the last chunk
};

// Writes the client's script: EHLO, the envelope (pipelined up to DATA, or
// a command at a time), the message (with an X-Sim-Id header for the
// oracle, sometimes past 64 KB) cut in two at a random place, QUIT; or the
// connection drops in the middle of the data. Returns a line for the history.
std::string write_script(Client& client, Rng& rng);

}  // namespace tern::sim
