#include "delivery/remote.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "base/log.h"
#include "base/text.h"

namespace tern::delivery {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using smtp::client::Next;
using smtp::client::RecipientResult;

constexpr auto kUseAwaitable = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadBuffer = 4096;
constexpr std::size_t kBodyPiece = 64 * 1024;

void fail_all(RemoteOutcome& outcome, std::size_t count, const Error& error) {
  outcome.results.assign(count, RecipientResult{error.code, error.enhanced, error.text, {}});
}

// RFC 5321 5.1: on a connection that failed, a refusing greeting (like
// Postfix's smtp_skip_5xx_greeting) or a 4xx to EHLO, the next host may do
// better. Never once the message content was sent: it may have arrived.
bool worth_next_host(const std::vector<RecipientResult>& results, bool content_sent) {
  if (content_sent || results.empty()) return false;
  for (const auto& r : results) {
    bool setup_failed = r.in_reply_to.empty() || r.in_reply_to == "greeting";
    if (!setup_failed || !(r.temporary() || r.in_reply_to == "greeting")) return false;
  }
  return true;
}

// An address literal domain (RFC 5321 4.1.3), "[192.0.2.1]" or
// "[IPv6:2001:db8::1]": the address itself, no DNS.
std::optional<std::string> literal_address(const std::string& domain) {
  if (domain.size() < 3 || domain.front() != '[' || domain.back() != ']') return std::nullopt;
  auto inner = domain.substr(1, domain.size() - 2);
  if (istarts_with(inner, "IPv6:")) inner = inner.substr(5);
  return inner;
}

}  // namespace

RemoteDelivery::RemoteDelivery(asio::any_io_executor executor, dns::Resolver& resolver, RemoteConfig config)
    : executor_(std::move(executor)),
      resolver_(resolver),
      config_(std::move(config)),
      random_(std::random_device{}()),
      tls_context_(asio::ssl::context::tls_client) {
  tls_context_.set_verify_mode(asio::ssl::verify_none);
  tls_context_.set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                           asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
}

// The hosts to try, in order: the smarthost, or the domain's MX hosts
// (implicit MX: the domain itself). On a routing failure the outcome gets
// it for every recipient.
asio::awaitable<Result<std::vector<RemoteDelivery::Target>>> RemoteDelivery::targets(
    const std::string& domain) {
  if (!config_.smarthost.empty()) {
    auto colon = config_.smarthost.rfind(':');
    auto host = config_.smarthost.substr(0, colon);
    auto port = colon == std::string::npos ? std::nullopt : parse_decimal(config_.smarthost.substr(colon + 1));
    if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
    co_return Result<std::vector<Target>>(
        std::vector<Target>{{host, static_cast<std::uint16_t>(port ? *port : config_.port)}});
  }
  if (auto literal = literal_address(domain)) {
    co_return Result<std::vector<Target>>(std::vector<Target>{{*literal, config_.port}});
  }
  auto answer = co_await resolver_.mx(domain);
  auto route = dns::route_from_mx(domain, answer, random_);
  if (!route) co_return route.error();
  std::vector<Target> targets;
  for (auto& host : route->hosts) targets.push_back({std::move(host), config_.port});
  co_return Result<std::vector<Target>>(std::move(targets));
}

asio::awaitable<RemoteOutcome> RemoteDelivery::deliver(RemoteMessage message, std::string domain) {
  RemoteOutcome outcome;
  auto count = message.message.recipients.size();
  auto targets_found = co_await targets(domain);
  if (!targets_found) {
    fail_all(outcome, count, targets_found.error());
    co_return outcome;
  }
  Error last{451, "4.4.1", "No answer from host", fmt::format("no host of {} could be reached", domain)};
  for (const auto& target : *targets_found) {
    if (co_await try_host(target, message, outcome)) co_return outcome;
    if (!outcome.results.empty()) {
      const auto& r = outcome.results.front();
      last = Error{r.code, r.enhanced, r.text, ""};
    }
  }
  fail_all(outcome, count, last);
  co_return outcome;
}

namespace {

std::chrono::seconds timeout_for(std::string_view awaiting, const RemoteConfig& c) {
  if (awaiting == "DATA") return c.data_start_timeout;
  if (awaiting == "end of data") return c.end_of_data_timeout;
  return c.command_timeout;
}

// Connects to the first address that answers.
asio::awaitable<std::optional<tcp::socket>> connect(const std::vector<asio::ip::address>& addresses,
                                                    std::uint16_t port, std::chrono::seconds timeout,
                                                    std::string& connected_to) {
  auto executor = co_await asio::this_coro::executor;
  for (const auto& address : addresses) {
    tcp::socket socket(executor);
    asio::steady_timer timer(executor, timeout);
    auto result = co_await (socket.async_connect({address, port}, kUseAwaitable) || timer.async_wait(kUseAwaitable));
    if (result.index() == 0 && !std::get<0>(std::get<0>(result))) {
      connected_to = address.to_string();
      co_return socket;
    }
  }
  co_return std::nullopt;
}

using Progress = RemoteDelivery::Progress;

// Runs the client session over `stream` (plain TCP, then perhaps TLS) until
// it is done or wants TLS.
template <class Stream>
asio::awaitable<void> converse(Stream& socket, smtp::client::Session& session, const RemoteMessage& m,
                               const RemoteConfig& config, Progress& progress) {
  std::vector<char> buffer(kReadBuffer);
  std::string piece;
  auto& sent = progress.sent;
  progress.start_tls = false;
  while (true) {
    switch (session.next()) {
      case Next::kWrite: {
        // RFC 5321 4.5.3.2.5: a server that stops reading (a data block
        // not taken in 3 minutes) is given up.
        auto output = session.take_output();
        asio::steady_timer timer(socket.get_executor(), config.data_block_timeout);
        auto result = co_await (asio::async_write(socket, asio::buffer(output), kUseAwaitable) ||
                                timer.async_wait(kUseAwaitable));
        if (result.index() == 1) {
          session.timed_out();
        } else if (std::get<0>(std::get<0>(result))) {
          session.connection_lost();
        }
        break;
      }
      case Next::kRead: {
        asio::steady_timer timer(socket.get_executor(), timeout_for(session.awaiting(), config));
        auto result = co_await (socket.async_read_some(asio::buffer(buffer), kUseAwaitable) ||
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
        piece.resize(kBodyPiece);
        auto n = ::pread(m.fd, piece.data(), piece.size(), static_cast<off_t>(m.offset + sent));
        if (n < 0) {
          session.connection_lost();  // cannot read our own queue file: try again later
          break;
        }
        sent += static_cast<std::uint64_t>(n);
        piece.resize(static_cast<std::size_t>(n));
        session.send_body(piece, n == 0 || sent >= m.message.size);
        break;
      }
      case Next::kDowngrade:
        // Not converted to quoted-printable (yet): the sender gets 5.6.3.
        session.reject_8bit();
        break;
      case Next::kStartTls:
        progress.start_tls = true;
        co_return;
      case Next::kReady:
        session.quit();
        break;
      case Next::kDone:
        co_return;
    }
  }
}

}  // namespace

// The TLS handshake after STARTTLS, then the rest of the session over TLS.
// No certificate check: opportunistic TLS protects against passive
// listeners only (RFC 7435); DANE and MTA-STS come later.
asio::awaitable<void> RemoteDelivery::continue_over_tls(tcp::socket& socket, smtp::client::Session& session,
                                                        const RemoteMessage& message, const Target& target,
                                                        Progress& progress) {
  asio::ssl::stream<tcp::socket&> tls(socket, tls_context_);
  SSL_set_tlsext_host_name(tls.native_handle(), target.host.c_str());  // SNI
  asio::steady_timer timer(socket.get_executor(), config_.command_timeout);
  auto result = co_await (tls.async_handshake(asio::ssl::stream_base::client, kUseAwaitable) ||
                          timer.async_wait(kUseAwaitable));
  bool ok = result.index() == 0 && !std::get<0>(std::get<0>(result));
  if (!ok) {
    // Try this host in plaintext next time, and say so.
    tls_failed_.insert(target.host);
    spdlog::warn("event=tls_failed host={} detail={}", target.host,
                 log_value(result.index() == 1 ? "handshake timeout" : std::get<0>(std::get<0>(result)).message()));
    session.connection_lost();
    co_return;
  }
  spdlog::info("event=tls host={} protocol={} cipher={}", target.host, SSL_get_version(tls.native_handle()),
               SSL_get_cipher_name(tls.native_handle()));
  session.tls_established();
  co_await converse(tls, session, message, config_, progress);
}

// One host: its addresses, one connection, the transaction. Returns true when
// the results are final for this delivery attempt.
asio::awaitable<bool> RemoteDelivery::try_host(const Target& target, const RemoteMessage& message,
                                               RemoteOutcome& outcome) {
  std::vector<asio::ip::address> addresses;
  boost::system::error_code ec;
  auto literal = asio::ip::make_address(target.host, ec);
  const bool host_is_address = !ec;
  if (host_is_address) {
    addresses.push_back(literal);
  } else {
    auto answer = co_await resolver_.addresses(target.host);
    addresses = answer.addresses;
  }
  std::string address;
  auto socket = co_await connect(addresses, target.port, config_.connect_timeout, address);
  if (!socket) {
    outcome.results.clear();
    spdlog::info("event=connect_failed host={} port={} addresses={}", target.host, target.port, addresses.size());
    co_return false;
  }
  socket->set_option(tcp::no_delay(true), ec);
  // Opportunistic STARTTLS, unless this host failed its handshake before:
  // then plaintext, as the issue and Postfix do (smtp_tls_security_level=may).
  bool try_tls = !tls_failed_.count(target.host);
  smtp::client::Session session({config_.helo_name, try_tls});
  session.send_message(message.message);
  Progress progress;
  co_await converse(*socket, session, message, config_, progress);
  if (progress.start_tls) co_await continue_over_tls(*socket, session, message, target, progress);
  bool content_sent = progress.sent > 0;
  outcome.results = session.results();
  // RFC 3464 2.3.5 Remote-MTA: the host's name, or the address in brackets
  // when there is no name (a smarthost given as an IP address).
  outcome.remote_mta = host_is_address ? fmt::format("[{}]", address) : target.host;
  outcome.connected_to = fmt::format("{}[{}]", target.host, address);
  co_return !worth_next_host(outcome.results, content_sent);
}

}  // namespace tern::delivery
