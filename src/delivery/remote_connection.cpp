#include "delivery/remote_connection.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "base/log.h"
#include "delivery/converse.h"

namespace tern::delivery {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using smtp::client::Next;

constexpr auto kUseAwaitable = asio::as_tuple(asio::use_awaitable);

// An address and port that one of our listeners answers on: the mail would
// come back to us. A listener on the unspecified address (0.0.0.0, ::)
// answers on every local address; loopback ones are the certain case.
bool is_own_listener(const asio::ip::address& address, std::uint16_t port,
                     const std::vector<tcp::endpoint>& listeners) {
  for (const auto& own : listeners) {
    if (own.port() != port) continue;
    if (own.address() == address || (own.address().is_unspecified() && address.is_loopback())) return true;
  }
  return false;
}

}  // namespace

TlsClient::TlsClient() : context(asio::ssl::context::tls_client) {
  context.set_verify_mode(asio::ssl::verify_none);
  context.set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                      asio::ssl::context::no_tlsv1_1);
}

RemoteConnection::RemoteConnection(asio::any_io_executor executor, const RemoteConfig& config, TlsClient& tls)
    : executor_(executor), config_(config), tls_client_(tls), socket_(executor) {}

RemoteConnection::~RemoteConnection() = default;

asio::awaitable<bool> RemoteConnection::connect(const Target& target,
                                                const std::vector<asio::ip::address>& addresses) {
  tls_.reset();
  session_.reset();
  boost::system::error_code ignored;
  socket_.close(ignored);
  target_ = target;
  messages_ = 0;
  for (const auto& address : addresses) {
    if (is_own_listener(address, target.port, config_.own_listeners)) {
      spdlog::warn("event=mail_loop host={} address={} port={}", log_value(target.host), address.to_string(), target.port);
      looped_back_ = true;
      continue;
    }
    tcp::socket socket(executor_);
    asio::steady_timer timer(executor_, config_.connect_timeout);
    auto result = co_await (socket.async_connect({address, target.port}, kUseAwaitable) ||
                            timer.async_wait(kUseAwaitable));
    if (result.index() != 0 || std::get<0>(std::get<0>(result))) continue;
    socket_ = std::move(socket);
    socket_.set_option(tcp::no_delay(true), ignored);
    boost::system::error_code not_an_address;
    (void)asio::ip::make_address(target.host, not_an_address);
    remote_mta_ = not_an_address ? target.host : fmt::format("[{}]", address.to_string());
    connected_to_ = fmt::format("{}[{}]", target.host, address.to_string());
    const bool implicit = config_.tls == RemoteConfig::Tls::kImplicit;
    if (implicit) {
      bool secured = co_await handshake();  // not inside the condition: GCC 12 miscompiles that
      if (!secured) {
        tls_.reset();  // it refers to socket_, which the next address replaces
        continue;
      }
    }
    // Opportunistic STARTTLS, unless this host failed its handshake before:
    // then plaintext, as Postfix does at smtp_tls_security_level=may. The
    // session insists on TLS when it is required or for AUTH.
    session_.emplace(smtp::client::SessionOptions{
        .helo_name = config_.helo_name,
        .starttls = !tls_client_.failed_hosts.count(target.host),
        .require_tls = config_.tls == RemoteConfig::Tls::kRequired,
        .tls_on_connect = implicit,
        .auth_username = config_.auth_username,
        .auth_password = config_.auth_password,
    });
    co_return true;
  }
  spdlog::info("event=connect_failed host={} port={} addresses={}", target.host, target.port, addresses.size());
  co_return false;
}

bool RemoteConnection::ready() const { return session_ && session_->next() == Next::kReady; }

asio::awaitable<RemoteConnection::Transaction> RemoteConnection::send(const RemoteMessage& message) {
  session_->send_message(message.message);
  ++messages_;
  std::uint64_t sent = 0;
  while (true) {
    co_await converse(&message, sent);
    if (session_->next() != Next::kStartTls) break;
    co_await start_tls();
  }
  co_return Transaction{session_->results(), sent > 0};
}

asio::awaitable<void> RemoteConnection::quit() {
  if (!ready()) co_return;
  session_->quit();
  std::uint64_t sent = 0;
  co_await converse(nullptr, sent);
}

asio::awaitable<void> RemoteConnection::converse(const RemoteMessage* message, std::uint64_t& sent) {
  if (tls_) {
    co_await delivery::converse(*tls_, *session_, message, config_, sent);
  } else {
    co_await delivery::converse(socket_, *session_, message, config_, sent);
  }
}

// The TLS handshake after STARTTLS. No certificate check: opportunistic TLS
// protects against passive listeners only (RFC 7435); DANE and MTA-STS come
// later.
asio::awaitable<void> RemoteConnection::start_tls() {
  bool secured = co_await handshake();  // not inside the condition: GCC 12 miscompiles that
  if (secured) {
    session_->tls_established();
  } else {
    session_->connection_lost();
  }
}

// The TLS handshake on the connection, for STARTTLS or implicit TLS. A host
// whose handshake failed gets plaintext next time (unless TLS is required),
// and the log says so.
asio::awaitable<bool> RemoteConnection::handshake() {
  tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, tls_client_.context);
  SSL_set_tlsext_host_name(tls_->native_handle(), target_.host.c_str());  // SNI
  asio::steady_timer timer(executor_, config_.command_timeout);
  auto result = co_await (tls_->async_handshake(asio::ssl::stream_base::client, kUseAwaitable) ||
                          timer.async_wait(kUseAwaitable));
  if (result.index() == 1 || std::get<0>(std::get<0>(result))) {
    tls_client_.failed_hosts.insert(target_.host);
    spdlog::warn("event=tls_failed host={} detail={}", target_.host,
                 log_value(result.index() == 1 ? "handshake timeout" : std::get<0>(std::get<0>(result)).message()));
    co_return false;
  }
  spdlog::info("event=tls host={} protocol={} cipher={}", target_.host, SSL_get_version(tls_->native_handle()),
               SSL_get_cipher_name(tls_->native_handle()));
  co_return true;
}

}  // namespace tern::delivery
