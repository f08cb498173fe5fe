#include "net/connection.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <ctime>
#include <span>
#include <vector>

#include "base/ids.h"
#include "base/log.h"
#include "net/server.h"
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
  SpoolHost(const ServerContext& context, std::string session_id, std::string client_ip)
      : context_(context), session_id_(std::move(session_id)), client_ip_(std::move(client_ip)) {}

  Result<void> check_recipient(const proto::Path& recipient, std::string_view login) override {
    return context_.policy.check(recipient, client_ip_, !login.empty());
  }

  Result<std::string> begin_message(const proto::Envelope& envelope) override {
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
  std::string session_id_;
  std::string client_ip_;
  std::unique_ptr<queue::SpoolWriter> writer_;
};

// Waits for input with the session's current timeout (RFC 5321 4.5.3.2),
// then reads it into the shared buffer. Returns the byte count, 0 at end of
// stream or error, -1 on timeout. The bytes are valid until the next co_await.
asio::awaitable<long> read_some(tcp::socket& socket, std::chrono::seconds timeout) {
  asio::steady_timer timer(socket.get_executor(), timeout);
  while (true) {
    auto result = co_await (socket.async_wait(tcp::socket::wait_read, kUseAwaitable) ||
                            timer.async_wait(kUseAwaitable));
    if (result.index() == 1) co_return -1;
    if (std::get<0>(std::get<0>(result))) co_return 0;
    boost::system::error_code ec;
    auto buffer = shared_read_buffer();
    auto n = socket.read_some(asio::buffer(buffer.data(), buffer.size()), ec);
    if (ec == asio::error::would_block) continue;  // woken, yet nothing to read
    if (ec) co_return 0;
    co_return static_cast<long>(n);
  }
}

// Writes the session's replies. A client that does not read them holds its
// connection (and a place under the per-IP limit) only as long as
// `timeout`: every write is bounded, as every read is.
asio::awaitable<bool> send(tcp::socket& socket, smtp::server::Session& session, std::chrono::seconds timeout,
                           const std::string& session_id) {
  auto output = session.take_output();
  if (output.empty()) co_return true;
  // Replies almost always fit in the socket's buffer: written at once, with
  // no timer to set up (the socket is non-blocking).
  boost::system::error_code ec;
  auto n = socket.write_some(asio::buffer(output), ec);
  if (ec && ec != asio::error::would_block) co_return false;
  if (!ec && n == output.size()) co_return true;
  if (ec) n = 0;
  asio::steady_timer timer(socket.get_executor(), timeout);
  auto result = co_await (asio::async_write(socket, asio::buffer(output.data() + n, output.size() - n), kUseAwaitable) ||
                          timer.async_wait(kUseAwaitable));
  if (result.index() == 1) {
    spdlog::info("event=timeout session={} during=write", session_id);
    co_return false;
  }
  auto write_error = std::get<0>(std::get<0>(result));
  co_return !write_error;
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

smtp::server::SessionLimits session_limits(const config::Limits& l) {
  return {.max_message_size = l.max_message_size,
          .max_recipients = l.max_recipients,
          .max_command_line_length = l.max_command_line_length,
          .max_line_length = l.max_line_length,
          .max_errors = l.max_errors,
          .max_received_headers = l.max_received_headers,
          .max_recipient_overshoot = l.max_recipient_overshoot,
          .max_junk_commands = l.max_junk_commands};
}

}  // namespace

asio::awaitable<void> serve_connection(Server& server, tcp::socket socket) {
  const auto& context = server.context();
  const auto& limits = context.config.limits;
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec) co_return;
  // Replies go out as soon as they are ready (each is one write already).
  socket.set_option(tcp::no_delay(true), ec);
  socket.non_blocking(true, ec);  // read_some after the wait must never block the thread
  auto ip = remote.address().is_v6() && remote.address().to_v6().is_v4_mapped()
                ? asio::ip::make_address_v4(asio::ip::v4_mapped, remote.address().to_v6()).to_string()
                : remote.address().to_string();
  auto session_id = make_session_id();
  SpoolHost host(context, session_id, ip);
  smtp::server::Session session(host, session_limits(limits), context.config.hostname, session_id, ip);

  Admission admission(server, ip, socket);
  spdlog::info("event=connect session={} client={} port={}{}", session_id, ip, remote.port(),
               admission.admitted() ? "" : " refused=too_many_connections");
  if (!admission.admitted()) {
    // RFC 5321 3.1: a server may refuse with 421 at connect.
    session.refuse("4.7.0", context.config.hostname + " Too many connections, try again later");
    co_await send(socket, session, limits.command_timeout, session_id);
    co_return;
  }
  session.start();
  while (true) {
    // (Not inside the condition: GCC 12 miscompiles some co_awaits there.)
    bool sent = co_await send(socket, session, limits.command_timeout, session_id);
    if (!sent || session.closed()) break;
    if (server.stopping()) {
      session.shut_down();
      continue;
    }
    auto n = co_await read_some(socket, session.in_data() ? limits.data_timeout : limits.command_timeout);
    if (server.stopping()) continue;  // the check above says 421; what arrived is not acted on
    if (n < 0) {
      session.timed_out();
      spdlog::info("event=timeout session={}", session_id);
      continue;
    }
    if (n == 0) break;
    session.receive(std::string_view(shared_read_buffer().data(), static_cast<std::size_t>(n)));
    while (session.awaiting_commit()) session.committed(co_await host.commit());
  }
  session.abort();
  socket.shutdown(tcp::socket::shutdown_both, ec);
  spdlog::info("event=disconnect session={}", session_id);
}

}  // namespace tern::net
