#pragma once
// Runs a pure smtp::client::Session (SMTP or LMTP) over an Asio stream
// (TCP, TLS or a Unix socket): writes its output, feeds it the server's
// bytes and the message content, each step bounded by the RFC 5321 4.5.3.2
// timeouts. Shared by remote SMTP and LMTP connections.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <unistd.h>

#include <string>
#include <vector>

#include "delivery/remote_connection.h"
#include "smtp/client/session.h"

namespace tern::delivery {

inline std::chrono::seconds timeout_for(std::string_view awaiting, const RemoteConfig& c) {
  if (awaiting == "DATA") return c.data_start_timeout;
  if (awaiting == "end of data") return c.end_of_data_timeout;
  return c.command_timeout;
}

// Runs the client session over `stream` until it is ready for another
// message, done, or wants TLS. `sent` counts the message octets given to
// the session (the prefix, then the queue file from m->offset).
template <class Stream>
boost::asio::awaitable<void> converse(Stream& stream, smtp::client::Session& session, const RemoteMessage* m,
                                      const RemoteConfig& config, std::uint64_t& sent) {
  namespace asio = boost::asio;
  using namespace asio::experimental::awaitable_operators;
  using smtp::client::Next;
  constexpr auto kUseAwaitable = asio::as_tuple(asio::use_awaitable);
  constexpr std::size_t kReadBuffer = 4096;
  constexpr std::size_t kBodyPiece = 64 * 1024;
  std::vector<char> buffer(kReadBuffer);
  std::string piece;
  while (true) {
    switch (session.next()) {
      case Next::kWrite: {
        // RFC 5321 4.5.3.2.5: a server that stops reading (a data block
        // not taken in 3 minutes) is given up.
        auto output = session.take_output();
        asio::steady_timer timer(stream.get_executor(), config.data_block_timeout);
        auto result = co_await (asio::async_write(stream, asio::buffer(output), kUseAwaitable) ||
                                timer.async_wait(kUseAwaitable));
        if (result.index() == 1) {
          session.timed_out();
        } else if (std::get<0>(std::get<0>(result))) {
          session.connection_lost();
        }
        break;
      }
      case Next::kRead: {
        asio::steady_timer timer(stream.get_executor(), timeout_for(session.awaiting(), config));
        auto result = co_await (stream.async_read_some(asio::buffer(buffer), kUseAwaitable) ||
                                timer.async_wait(kUseAwaitable));
        if (result.index() == 1) {
          session.timed_out();
        } else if (auto [ec, n] = std::get<0>(result); ec) {
          session.connection_lost();
        } else {
          session.receive(std::string_view(buffer.data(), n));
        }
        break;
      }
      case Next::kSendBody: {
        if (m && sent < m->prefix.size()) {  // header fields tern adds in front
          sent = m->prefix.size();
          session.send_body(m->prefix, sent >= m->message.size);
          break;
        }
        // The queue file holds more after the message (the header fields
        // added at reception, sent in the prefix): never read past it.
        piece.resize(m ? std::min<std::uint64_t>(kBodyPiece, m->message.size - sent) : kBodyPiece);
        auto at = m ? m->offset + (sent - m->prefix.size()) : 0;
        auto n = m ? ::pread(m->fd, piece.data(), piece.size(), static_cast<off_t>(at)) : -1;
        if (n < 0) {
          session.connection_lost();  // cannot read our own queue file: try again later
          break;
        }
        sent += static_cast<std::uint64_t>(n);
        piece.resize(static_cast<std::size_t>(n));
        session.send_body(piece, n == 0 || sent >= m->message.size);
        break;
      }
      case Next::kDowngrade:
        // RFC 6152 3 lets the client choose: tern returns the message (5.6.3)
        // rather than rewrite a signed body into quoted-printable.
        session.reject_8bit();
        break;
      case Next::kStartTls:
      case Next::kReady:
      case Next::kDone:
        co_return;
    }
  }
}

}  // namespace tern::delivery
