#include "control/server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <variant>

#include "base/log.h"

namespace tern::control {
namespace asio = boost::asio;
using asio::local::stream_protocol;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr std::size_t kMaxRequest = 64 * 1024;
// A client that says nothing, or does not read its answer, for this long
// is dropped.
constexpr auto kIdle = std::chrono::seconds(30);
constexpr auto kWrite = std::chrono::seconds(60);

}  // namespace

Server::Server(std::string path, Handler handler) : path_(std::move(path)), handler_(std::move(handler)), io_(1), acceptor_(io_) {}

Server::~Server() { stop(); }

Result<void> Server::start() {
  ::unlink(path_.c_str());
  boost::system::error_code ec;
  acceptor_.open(stream_protocol(), ec);
  if (!ec) acceptor_.bind(stream_protocol::endpoint(path_), ec);
  // Bound with the umask's mode (022: no one else may connect); then the
  // group the administrator runs `tern queue` as may.
  if (!ec && ::chmod(path_.c_str(), 0660) != 0) ec.assign(errno, boost::system::system_category());
  if (!ec) acceptor_.listen(16, ec);
  if (ec) return Error{0, "", "control socket " + path_ + ": " + ec.message(), ""};
  asio::co_spawn(io_, accept(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
  return {};
}

void Server::stop() {
  if (!thread_.joinable()) return;
  io_.stop();
  thread_.join();
  ::unlink(path_.c_str());
}

asio::awaitable<void> Server::accept() {
  while (true) {
    boost::system::error_code ec;
    auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors, most likely: wait a little rather than spin.
      spdlog::warn("event=control_accept_failed detail={}", log_value(ec.message()));
      asio::steady_timer pause(io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> Server::serve(stream_protocol::socket socket) {
  std::string buffer;
  asio::steady_timer timer(io_);
  while (true) {
    boost::system::error_code ec;
    timer.expires_after(kIdle);
    auto read = co_await (asio::async_read_until(socket, asio::dynamic_buffer(buffer, kMaxRequest), '\n',
                                                 asio::redirect_error(asio::use_awaitable, ec)) ||
                          timer.async_wait(asio::use_awaitable));
    if (read.index() == 1) co_return;  // idle too long
    if (ec == asio::error::not_found) {
      // No line end within kMaxRequest: an answer, then the door.
      std::string refusal = "{\"ok\":false,\"error\":\"request longer than 65536 octets\"}\n";
      co_await asio::async_write(socket, asio::buffer(refusal), asio::redirect_error(asio::use_awaitable, ec));
      co_return;
    }
    if (ec) co_return;  // the client went away
    auto length = std::get<0>(read);
    std::string_view line(buffer.data(), length - 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto answer = handler_(line) + "\n";
    buffer.erase(0, length);
    timer.expires_after(kWrite);
    auto written = co_await (asio::async_write(socket, asio::buffer(answer), asio::redirect_error(asio::use_awaitable, ec)) ||
                             timer.async_wait(asio::use_awaitable));
    if (written.index() == 1 || ec) co_return;
  }
}

}  // namespace tern::control
