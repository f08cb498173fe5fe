#include "net/connection.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <openssl/crypto.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <ctime>
#include <span>
#include <vector>

#include "base/metrics.h"
#include "base/ids.h"
#include "base/log.h"
#include "net/server.h"
#include "net/stream.h"
#include "smtp/server/session.h"

namespace tern::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

constexpr auto kUseAwaitable = asio::as_tuple(asio::use_awaitable);
// One read buffer for every connection of the (single) network thread: a
// connection owns no buffer while it waits, which keeps an idle connection
// small (DESIGN.md: <= 10 KB); the session copies what it needs at once.
constexpr std::size_t kReadBuffer = 64 * 1024;

std::span<char> shared_read_buffer() {
  thread_local std::vector<char> buffer(kReadBuffer);
  return buffer;
}

// The session's window on the world: recipient policy and the spool.
class SpoolHost : public smtp::server::SessionHost {
 public:
  SpoolHost(const ServerContext& context, SettingsPtr settings, std::string session_id, std::string client_ip)
      : context_(context),
        settings_(std::move(settings)),
        session_id_(std::move(session_id)),
        client_ip_(std::move(client_ip)) {}

  Result<void> check_recipient(const proto::Path& recipient, std::string_view login) override {
    return settings_->policy->check(recipient, client_ip_, !login.empty());
  }

  bool defers(smtp::server::PolicyStage stage, const proto::Path& path) override {
    if (stage != smtp::server::PolicyStage::kRcpt) return false;
    return context_.verify_recipient && settings_->policy->store_to_ask(path) != nullptr;
  }

  // What defers() said would be decided later. verify_recipients: the store
  // says whether the user exists.
  asio::awaitable<Result<void>> decide(smtp::server::PolicyStage stage, const proto::Path& path) {
    if (stage != smtp::server::PolicyStage::kRcpt) co_return Result<void>();
    const auto* store = settings_->policy->store_to_ask(path);
    if (!store) co_return Result<void>();
    co_return co_await context_.verify_recipient(*store, path.mailbox);
  }

  // RFC 1985 ETRN, for clients in the relay networks (a secondary MX's
  // customers), for domains that are not delivered here.
  Result<std::size_t> etrn(std::string_view domain, bool subdomains) override {
    auto node = std::string(subdomains ? "@" : "") + std::string(domain);
    if (!settings_->policy->in_relay_networks(client_ip_)) {
      return Error{459, "4.7.1", fmt::format("Node {} not allowed: client not in relay networks", node), ""};
    }
    if (settings_->policy->local().serves(domain)) {
      return Error{459, "4.7.1", fmt::format("Node {} not allowed: its mail is delivered here", node), ""};
    }
    auto count = context_.scheduler.flush_domain(domain, subdomains);
    spdlog::info("event=etrn session={} node={} messages={}", session_id_, log_value(node), count);
    return count;
  }

  Result<void> check_sender(const proto::Path& reverse_path, std::string_view login) override {
    return settings_->sender_logins->check(reverse_path, login);
  }

  Result<std::string> begin_message(const proto::Envelope& given) override {
    // The queue keeps the final recipients: aliases expanded (as Postfix's
    // cleanup does with virtual aliases).
    auto recipients = settings_->policy->local().expand_all(given.recipients);
    if (!recipients) {
      spdlog::warn("event=alias_error session={} detail={}", session_id_, log_value(recipients.error().detail));
      return recipients.error();
    }
    auto envelope = given;
    envelope.recipients = std::move(recipients.value());
    auto id = context_.spool.new_id();
    auto writer = context_.spool.create(id, envelope);
    if (!writer) {
      spdlog::error("event=spool_error session={} detail={}", session_id_, log_value(writer.error().detail));
      return writer.error();
    }
    writer_ = std::move(writer.value());
    return id;
  }

  Result<void> write_message(std::string_view content) override {
    if (!writer_) return Error{451, "4.3.0", "Local error in processing", "no open message"};
    auto written = writer_->write(content);
    if (!written) {
      spdlog::error("event=spool_error session={} detail={}", session_id_, log_value(written.error().detail));
    }
    return written;
  }

  void discard_message() override { writer_.reset(); }

  std::time_t now() override { return std::time(nullptr); }

  // Group commit; resumes on this connection's executor with the outcome.
  asio::awaitable<Result<void>> commit() {
    auto& spool = context_.spool;
    auto& scheduler = context_.scheduler;
    auto writer = std::move(writer_);
    auto id = writer->id();
    auto executor = co_await asio::this_coro::executor;
    auto result = co_await asio::async_initiate<decltype(asio::use_awaitable), void(Result<void>)>(
        [&](auto handler) {
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          spool.commit(std::move(writer), [shared, executor, &scheduler, id](Result<void> outcome) {
            if (outcome) scheduler.enqueue(id, true);
            asio::post(executor, [shared, outcome = std::move(outcome)]() mutable {
              (*shared)(std::move(outcome));
            });
          });
        },
        asio::use_awaitable);
    co_return result;
  }

 private:
  const ServerContext& context_;
  SettingsPtr settings_;  // those of the session's start: a reload does not change them
  std::string session_id_;
  std::string client_ip_;
  std::unique_ptr<queue::SpoolWriter> writer_;
};

// Writes the session's replies. A client that does not read them holds its
// connection (and a place under the per-IP limit) only as long as
// `timeout`: every write is bounded, as every read is.
asio::awaitable<bool> send(Stream& stream, smtp::server::Session& session, std::chrono::seconds timeout,
                           const std::string& session_id) {
  auto output = session.take_output();
  if (output.empty()) co_return true;
  metrics::count_replies(output);
  auto written = co_await stream.write(output, timeout);
  if (written == Stream::Written::kTimedOut) spdlog::info("event=timeout session={} during=write", session_id);
  co_return written == Stream::Written::kAll;
}

// The TLS handshake (after STARTTLS, or first for implicit TLS). A failure
// is logged with OpenSSL's reason and ends this connection only.
asio::awaitable<bool> start_tls(Stream& stream, const Settings& settings, smtp::server::Session& session,
                                const std::string& session_id) {
  // The session's settings: those that offered STARTTLS (a reload that
  // removes [tls] leaves it the certificate it started with).
  auto failure = co_await stream.accept_tls(settings.tls->native(), settings.config.limits.command_timeout);
  if (failure) {
    spdlog::warn("event=tls_failed session={} detail={}", session_id, log_value(*failure));
    co_return false;
  }
  auto info = stream.tls_info();
  spdlog::info("event=tls session={} protocol={} cipher={} bits={} resumed={}", session_id, info.version, info.cipher,
               info.bits, stream.resumed() ? "yes" : "no");
  session.tls_established(std::move(info));
  metrics::metrics().tls_sessions.add();
  co_return true;
}

// Checks the password on the password worker; a failure is answered only
// after a delay that grows with the failures from this address.
asio::awaitable<void> authenticate(Server& server, smtp::server::Session& session, const std::string& ip) {
  auto credentials = session.take_credentials();
  const auto& check = server.context().password_check;
  auto executor = co_await asio::this_coro::executor;
  co_await asio::post(check.executor, asio::use_awaitable);
  auto verdict = check.verify(credentials);
  OPENSSL_cleanse(credentials.password.data(), credentials.password.size());
  co_await asio::post(executor, asio::use_awaitable);
  if (verdict == smtp::server::AuthVerdict::kBadCredentials) {
    asio::steady_timer delay(executor, server.auth_failure_delay(ip));
    co_await delay.async_wait(kUseAwaitable);
  }
  session.authenticated(verdict);
}

// The connection's place under the connection limits, given back however
// the coroutine ends (an exception included).
class Admission {
 public:
  Admission(Server& server, std::string ip, tcp::socket& socket)
      : server_(server), ip_(std::move(ip)), socket_(socket), admitted_(server.admit(ip_, socket)) {}
  ~Admission() {
    if (admitted_) server_.release(ip_, socket_);
  }
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  bool admitted() const { return admitted_; }

 private:
  Server& server_;
  std::string ip_;
  tcp::socket& socket_;
  bool admitted_;
};

smtp::server::SessionLimits session_limits(const config::Limits& l, std::size_t max_auth_failures) {
  return {.max_message_size = l.max_message_size,
          .max_recipients = l.max_recipients,
          .max_command_line_length = l.max_command_line_length,
          .max_line_length = l.max_line_length,
          .max_errors = l.max_errors,
          .max_received_headers = l.max_received_headers,
          .max_recipient_overshoot = l.max_recipient_overshoot,
          .max_junk_commands = l.max_junk_commands,
          .max_auth_failures = max_auth_failures};
}

smtp::server::SessionOptions session_options(const Settings& settings, config::ListenerRole role) {
  return {.starttls = settings.tls != nullptr && role != config::ListenerRole::kSubmissions,
          .auth_required = role != config::ListenerRole::kMx,
          .show_login = settings.config.auth.show_login};
}

}  // namespace

asio::awaitable<void> serve_connection(Server& server, tcp::socket socket, config::ListenerRole role) {
  const auto& context = server.context();
  auto settings = server.settings();
  const auto& config = settings->config;
  const auto& limits = config.limits;
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec) co_return;
  // Replies go out as soon as they are ready (each is one write already).
  socket.set_option(tcp::no_delay(true), ec);
  socket.non_blocking(true, ec);  // reads and writes after a wait must never block the thread
  auto ip = remote.address().is_v6() && remote.address().to_v6().is_v4_mapped()
                ? asio::ip::make_address_v4(asio::ip::v4_mapped, remote.address().to_v6()).to_string()
                : remote.address().to_string();
  auto session_id = make_session_id();
  SpoolHost host(context, settings, session_id, ip);
  smtp::server::Session session(host, session_limits(limits, config.auth.max_failures), config.hostname, session_id, ip,
                                session_options(*settings, role));
  Stream stream(socket);

  Admission admission(server, ip, socket);
  spdlog::info("event=connect session={} client={} port={} role={}{}", session_id, ip, remote.port(),
               config::role_name(role), admission.admitted() ? "" : " refused=too_many_connections");
  bool implicit_tls = role == config::ListenerRole::kSubmissions;
  // RFC 8314 3.3: TLS first. A client over the limits is not worth a
  // handshake: it finds the connection closed and tries again later.
  if (implicit_tls) {
    bool secured = admission.admitted() && co_await start_tls(stream, *settings, session, session_id);
    if (!secured) co_return;
  }
  if (!admission.admitted()) {
    // RFC 5321 3.1: a server may refuse with 421 at connect.
    session.refuse("4.7.0", config.hostname + " Too many connections, try again later");
    co_await send(stream, session, limits.command_timeout, session_id);
    co_return;
  }
  session.start();
  while (true) {
    // (Not inside the condition: GCC 12 miscompiles some co_awaits there.)
    bool sent = co_await send(stream, session, limits.command_timeout, session_id);
    if (!sent || session.closed()) break;
    if (session.wants_tls()) {
      bool secured = co_await start_tls(stream, *settings, session, session_id);
      if (!secured) break;
      continue;
    }
    if (server.stopping()) {
      session.shut_down();
      continue;
    }
    auto n = co_await stream.read_some(shared_read_buffer(), session.in_data() ? limits.data_timeout : limits.command_timeout);
    if (server.stopping()) continue;  // the check above says 421; what arrived is not acted on
    if (n < 0) {
      session.timed_out();
      spdlog::info("event=timeout session={}", session_id);
      continue;
    }
    if (n == 0) break;
    session.receive(std::string_view(shared_read_buffer().data(), static_cast<std::size_t>(n)));
    while (session.awaiting_commit() || session.awaiting_auth() || session.awaiting_policy()) {
      if (session.awaiting_commit()) {
        session.committed(co_await host.commit());
      } else if (session.awaiting_policy()) {
        session.policy_decided(co_await host.decide(session.policy_stage(), session.policy_path()));
      } else {
        co_await authenticate(server, session, ip);
      }
    }
  }
  session.abort();
  stream.close();
  spdlog::info("event=disconnect session={}", session_id);
}

}  // namespace tern::net
