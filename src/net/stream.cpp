#include "net/stream.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace tern::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

constexpr auto kUseAwaitable = asio::as_tuple(asio::use_awaitable);

std::string openssl_reason() {
  auto code = ERR_peek_last_error();
  std::string reason = code ? ERR_reason_error_string(code) ? ERR_reason_error_string(code) : "unknown" : "";
  ERR_clear_error();
  return reason.empty() ? "connection closed during the handshake" : reason;
}

}  // namespace

Stream::~Stream() {
  alarm_->socket = nullptr;
  if (ssl_) SSL_free(ssl_);
}

Stream::Stream(tcp::socket& socket)
    : socket_(socket), timer_(socket.get_executor()), alarm_(std::make_shared<Alarm>(Alarm{&socket, 0, false})) {}

// Waits until the socket is ready for what OpenSSL (or the plain read or
// write) wants, or the deadline passes (false). The deadline is the
// stream's one timer, which cancels the wait when it fires: an idle
// connection holds one socket wait and one timer wait, nothing more
// (awaitable_operators' || would hold a parallel group and two coroutine
// frames). A timer that fires just as the socket becomes ready is told
// apart by the wait's generation; the alarm outlives the stream for a
// timer handler that runs after it.
asio::awaitable<bool> Stream::wait(Want want, std::chrono::steady_clock::time_point deadline) {
  if (want == Want::kError) co_return false;
  auto generation = ++alarm_->generation;
  alarm_->fired = false;
  timer_.expires_at(deadline);
  timer_.async_wait([alarm = alarm_, generation](boost::system::error_code ec) {
    if (ec || generation != alarm->generation || !alarm->socket) return;
    alarm->fired = true;
    boost::system::error_code ignored;
    alarm->socket->cancel(ignored);
  });
  auto type = want == Want::kRead ? tcp::socket::wait_read : tcp::socket::wait_write;
  auto [ec] = co_await socket_.async_wait(type, kUseAwaitable);
  ++alarm_->generation;  // a timer handler already queued does nothing now
  bool fired = alarm_->fired;
  timer_.cancel();
  co_return !ec && !fired;
}

// What a failed SSL_read/SSL_write/SSL_do_handshake waits for. The error
// queue is per thread and shared by every connection on it: cleared here.
Stream::Want Stream::after_ssl_failure(int result) {
  int error = SSL_get_error(ssl_, result);
  if (error == SSL_ERROR_WANT_READ) return Want::kRead;
  if (error == SSL_ERROR_WANT_WRITE) return Want::kWrite;
  ERR_clear_error();
  return Want::kError;
}

asio::awaitable<long> Stream::read_some(std::span<char> buffer, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // Nothing is read (nor any buffer held) until input is there; TLS may
  // have a decrypted record already.
  bool ready = ssl_ && SSL_has_pending(ssl_);
  Want want = Want::kRead;
  while (true) {
    if (!ready) ready = co_await wait(want, deadline);
    if (!ready) co_return std::chrono::steady_clock::now() >= deadline ? -1 : 0;
    ready = false;
    if (!ssl_) {
      boost::system::error_code ec;
      auto n = socket_.read_some(asio::buffer(buffer.data(), buffer.size()), ec);
      if (ec == asio::error::would_block) {
        want = Want::kRead;  // woken, yet nothing to read
        continue;
      }
      co_return ec ? 0 : static_cast<long>(n);
    }
    ERR_clear_error();
    int n = SSL_read(ssl_, buffer.data(), static_cast<int>(buffer.size()));
    if (n > 0) co_return n;
    want = after_ssl_failure(n);
    if (want == Want::kError) co_return 0;  // close_notify, a reset or a TLS alert
  }
}

asio::awaitable<Stream::Written> Stream::write(std::string_view data, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!data.empty()) {
    // Replies almost always fit in the socket's buffer: written at once,
    // with no timer to set up (the socket is non-blocking).
    Want want = Want::kWrite;
    if (!ssl_) {
      boost::system::error_code ec;
      auto n = socket_.write_some(asio::buffer(data), ec);
      if (ec && ec != asio::error::would_block) co_return Written::kFailed;
      if (!ec) data.remove_prefix(n);
    } else {
      ERR_clear_error();
      int n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
      if (n > 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
      } else {
        want = after_ssl_failure(n);
      }
    }
    if (data.empty()) break;
    auto ready = co_await wait(want, deadline);
    if (!ready) co_return std::chrono::steady_clock::now() >= deadline ? Written::kTimedOut : Written::kFailed;
  }
  co_return Written::kAll;
}

asio::awaitable<std::optional<std::string>> Stream::accept_tls(SSL_CTX* context, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  ERR_clear_error();
  ssl_ = SSL_new(context);
  if (!ssl_ || SSL_set_fd(ssl_, socket_.native_handle()) != 1) co_return openssl_reason();
  SSL_set_accept_state(ssl_);
  while (true) {
    ERR_clear_error();
    int result = SSL_do_handshake(ssl_);
    if (result == 1) co_return std::nullopt;
    int error = SSL_get_error(ssl_, result);
    Want want = error == SSL_ERROR_WANT_READ ? Want::kRead : error == SSL_ERROR_WANT_WRITE ? Want::kWrite : Want::kError;
    if (want == Want::kError) co_return openssl_reason();
    auto ready = co_await wait(want, deadline);
    if (!ready) co_return std::string(std::chrono::steady_clock::now() >= deadline ? "timeout" : "connection lost");
  }
}

smtp::server::TlsInfo Stream::tls_info() const {
  smtp::server::TlsInfo info;
  if (!ssl_) return info;
  info.version = SSL_get_version(ssl_);
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl_);
  info.cipher = cipher ? SSL_CIPHER_get_name(cipher) : "unknown";
  if (cipher) SSL_CIPHER_get_bits(cipher, &info.bits);
  return info;
}

bool Stream::resumed() const { return ssl_ && SSL_session_reused(ssl_) == 1; }

void Stream::close() {
  if (ssl_ && SSL_is_init_finished(ssl_)) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // one try: the peer may be gone already
    ERR_clear_error();
  }
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace tern::net
