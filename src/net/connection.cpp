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
#include "net/spool_host.h"
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
  SpoolHost host(context, settings, session_id, ip, role);
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
    auto timeout = session.in_data() ? limits.data_timeout : limits.command_timeout;  // (no ?: in a co_await: GCC 12)
    auto n = co_await stream.read_some(shared_read_buffer(), timeout);
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
        auto verdict = co_await host.decide(session);
        session.policy_decided(verdict);
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
