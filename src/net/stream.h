#pragma once
// A connection's byte stream: the TCP socket, or TLS over it after
// STARTTLS (RFC 3207) or from the first byte (RFC 8314). TLS runs on the
// socket's descriptor through OpenSSL directly, not asio::ssl::stream: that
// keeps two 17 KB buffers per connection for its whole life, where an
// OpenSSL SSL with SSL_MODE_RELEASE_BUFFERS holds none while idle.
// Every read, write and handshake is bounded by a timeout.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "smtp/server/session.h"

using SSL = struct ssl_st;
using SSL_CTX = struct ssl_ctx_st;

namespace tern::net {

class Stream {
 public:
  explicit Stream(boost::asio::ip::tcp::socket& socket);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Reads what is there into `buffer` once input arrives. Returns the byte
  // count, 0 at end of stream or error, -1 on timeout.
  boost::asio::awaitable<long> read_some(std::span<char> buffer, std::chrono::seconds timeout);
  enum class Written { kAll, kFailed, kTimedOut };
  // Writes all of `data`, or fails, or runs out of time.
  boost::asio::awaitable<Written> write(std::string_view data, std::chrono::seconds timeout);
  // The server side of the TLS handshake. Returns the reason on failure.
  boost::asio::awaitable<std::optional<std::string>> accept_tls(SSL_CTX* context, std::chrono::seconds timeout);

  bool tls() const { return ssl_ != nullptr; }
  smtp::server::TlsInfo tls_info() const;
  bool resumed() const;
  // Sends TLS close_notify if it can at once, then shuts the socket down.
  void close();

 private:
  enum class Want { kRead, kWrite, kError };
  Want after_ssl_failure(int result);
  boost::asio::awaitable<bool> wait(Want want, std::chrono::steady_clock::time_point deadline);

  struct Alarm {
    boost::asio::ip::tcp::socket* socket;  // null once the stream is gone
    std::uint64_t generation;
    bool fired;
  };

  boost::asio::ip::tcp::socket& socket_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<Alarm> alarm_;
  SSL* ssl_ = nullptr;
};

}  // namespace tern::net
