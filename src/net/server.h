#pragma once
// The SMTP listeners: accepts connections, enforces the connection limits
// (421 4.7.0 at connect when over), and runs one coroutine per connection
// that drives a pure smtp::server::Session (see connection.cpp).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "dns/lookup.h"
#include "net/settings.h"
#include "net/tls_context.h"
#include "policy/recipient_policy.h"
#include "policy/sender_login.h"
#include "proto/sasl.h"
#include "smtp/server/session.h"
#include "queue/scheduler.h"
#include "queue/spool.h"

namespace tern::net {

// Checks a login's password. Runs on `executor` (a worker: hashing is slow
// on purpose), never on the network thread.
struct PasswordCheck {
  boost::asio::any_io_executor executor;
  std::function<smtp::server::AuthVerdict(const proto::SaslCredentials&)> verify;
};

// Asks a mail store whether a recipient exists (verify_recipients); runs
// on the connection's executor.
using VerifyRecipient =
    std::function<boost::asio::awaitable<Result<void>>(const config::MailStore&, const proto::Mailbox&)>;

// What every connection shares whatever the settings. Lives as long as the
// Server.
struct ServerContext {
  queue::Spool& spool;
  queue::Scheduler& scheduler;
  PasswordCheck password_check;
  VerifyRecipient verify_recipient;
  // DNS on the network thread, for SPF, DKIM and DMARC; null: no checks.
  dns::Lookup* inbound_dns = nullptr;
};

class Server {
 public:
  Server(boost::asio::io_context& io, ServerContext context, SettingsPtr settings);

  // Binds every [[listener]]; errors name the address.
  Result<void> listen();
  // New sessions get `settings`; open ones keep theirs. Listeners that are
  // new are bound first (a failure refuses the reload, and nothing
  // changes), then those gone are closed; a listener whose role changed
  // keeps its socket.
  Result<void> reload(SettingsPtr settings);
  // Stops accepting and asks every connection to end: sessions waiting for
  // a command get 421 4.3.2 (RFC 5321 3.8); a message being made durable
  // gets its reply first. `done` runs when all have ended, or after a grace
  // period (a client that does not read is not waited for).
  void shut_down(std::function<void()> done);
  bool stopping() const { return stopping_; }

  // Connection accounting, for the limits (single-threaded: the io_context
  // runs on one thread). An admitted socket is known until release(), so
  // that shut_down() can wake it.
  bool admit(const std::string& ip, boost::asio::ip::tcp::socket& socket);
  void release(const std::string& ip, boost::asio::ip::tcp::socket& socket);

  const ServerContext& context() const { return context_; }
  // The newest settings (a connection takes them when it starts).
  const SettingsPtr& settings() const { return settings_; }
  // The certificate a TLS handshake gets now (the newest).
  const std::shared_ptr<TlsContext>& tls() const { return settings_->tls; }

  // A failed AUTH from `ip`: how long to wait before the reply. Doubles
  // with each recent failure from the same address (brute force gets
  // slow), up to 32 times [auth] failure_delay.
  std::chrono::milliseconds auth_failure_delay(const std::string& ip);

 private:
  // A listening socket, what it is for, and the timer of its back-off
  // after accept() failed.
  struct Listening {
    Listening(boost::asio::io_context& io, config::Listener l) : listener(std::move(l)), acceptor(io), backoff(io) {}
    config::Listener listener;
    boost::asio::ip::tcp::acceptor acceptor;
    boost::asio::steady_timer backoff;
  };

  Result<std::unique_ptr<Listening>> bind(const config::Listener& listener);
  void accept_loop(Listening& listening);
  void accept_failed(Listening& listening, const boost::system::error_code& ec);
  void wait_for_connections(std::chrono::steady_clock::time_point deadline, std::function<void()> done);

  boost::asio::io_context& io_;
  ServerContext context_;
  std::vector<std::unique_ptr<Listening>> listening_;
  // Closed by a reload; kept until the Server goes (an accept handler may
  // still be queued for them).
  std::vector<std::unique_ptr<Listening>> closed_;
  std::size_t connections_ = 0;
  std::map<std::string, std::size_t> per_ip_;
  std::set<boost::asio::ip::tcp::socket*> sockets_;  // admitted, not yet released
  bool stopping_ = false;
  // accept() failures are logged at most once per interval (at the file
  // descriptor limit they come back at once, again and again).
  std::chrono::steady_clock::time_point accept_error_logged_{};
  std::size_t accept_errors_unlogged_ = 0;
  boost::asio::steady_timer timer_;  // the wait at shut-down
  SettingsPtr settings_;
  // Recent AUTH failures per client address (bounded; see auth_failure_delay).
  struct AuthFailures {
    unsigned count = 0;
    std::chrono::steady_clock::time_point last;
  };
  std::map<std::string, AuthFailures> auth_failures_;
};

}  // namespace tern::net
