#include "net/server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/metrics.h"
#include "base/log.h"
#include "net/connection.h"

namespace tern::net {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// After accept() failed for want of descriptors or memory, the connection is
// still in the backlog: trying again at once would spin.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
constexpr auto kAcceptLogInterval = std::chrono::seconds(10);
// At stop, how long sessions get to take their 421 and close.
constexpr auto kShutdownGrace = std::chrono::seconds(3);

// Logs what ended a connection's coroutine by an exception (a bug): the
// connection's slot was given back on the way out (see connection.cpp).
void log_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::error("event=internal_error where=connection detail={}", log_value(x.what()));
  } catch (...) {
    spdlog::error("event=internal_error where=connection detail=unknown");
  }
}

}  // namespace

// AUTH failures from one address are remembered this long after the last.
constexpr auto kAuthFailureMemory = std::chrono::hours(1);
constexpr std::size_t kMaxAuthFailureEntries = 100000;
constexpr unsigned kMaxAuthDelayDoublings = 5;

Server::Server(asio::io_context& io, ServerContext context, SettingsPtr settings)
    : io_(io), context_(context), timer_(io), settings_(std::move(settings)) {}

std::chrono::milliseconds Server::auth_failure_delay(const std::string& ip) {
  auto now = std::chrono::steady_clock::now();
  if (auth_failures_.size() >= kMaxAuthFailureEntries) {
    std::erase_if(auth_failures_, [&](const auto& entry) { return now - entry.second.last > kAuthFailureMemory; });
    if (auth_failures_.size() >= kMaxAuthFailureEntries) auth_failures_.clear();
  }
  auto& failures = auth_failures_[ip];
  if (now - failures.last > kAuthFailureMemory) failures.count = 0;
  failures.last = now;
  auto doublings = std::min(failures.count++, kMaxAuthDelayDoublings);
  return std::chrono::duration_cast<std::chrono::milliseconds>(settings_->config.auth.failure_delay) * (1u << doublings);
}

Result<std::unique_ptr<Server::Listening>> Server::bind(const config::Listener& listener) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(listener.host, ec);
  if (ec) return Error{0, "", fmt::format("listener {}: not an IP address", listener.address), ""};
  auto listening = std::make_unique<Listening>(io_, listener);
  auto& acceptor = listening->acceptor;
  tcp::endpoint endpoint(address, listener.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && address.is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error{0, "", fmt::format("listener {}: {}", listener.address, ec.message()), ""};
  return listening;
}

Result<void> Server::listen() {
  for (const auto& listener : settings_->config.listeners) {
    auto listening = bind(listener);
    if (!listening) return listening.error();
    spdlog::info("event=listen address={} role={}{}", listener.address, config::role_name(listener.role),
                 settings_->tls ? " tls=yes" : "");
    accept_loop(**listening);
    listening_.push_back(std::move(listening.value()));
  }
  return {};
}

namespace {

bool same_socket(const config::Listener& a, const config::Listener& b) { return a.host == b.host && a.port == b.port; }

}  // namespace

Result<void> Server::reload(SettingsPtr settings) {
  if (stopping_) return Error{0, "", "stopping", ""};
  std::vector<std::unique_ptr<Listening>> added;
  for (const auto& listener : settings->config.listeners) {
    bool known = std::any_of(listening_.begin(), listening_.end(),
                             [&](const auto& l) { return same_socket(l->listener, listener); });
    if (known) continue;
    auto listening = bind(listener);
    if (!listening) return listening.error();  // `added` closes what it bound
    added.push_back(std::move(listening.value()));
  }
  // Gone: closed (their open sessions go on); kept: the new role.
  std::vector<std::unique_ptr<Listening>> kept;
  for (auto& l : listening_) {
    auto found = std::find_if(settings->config.listeners.begin(), settings->config.listeners.end(),
                              [&](const auto& listener) { return same_socket(l->listener, listener); });
    if (found != settings->config.listeners.end()) {
      l->listener = *found;
      kept.push_back(std::move(l));
      continue;
    }
    spdlog::info("event=unlisten address={}", l->listener.address);
    boost::system::error_code ignored;
    l->acceptor.close(ignored);
    l->backoff.cancel();
    closed_.push_back(std::move(l));  // an accept handler for it may still be queued
  }
  listening_ = std::move(kept);
  settings_ = std::move(settings);
  for (auto& listening : added) {
    spdlog::info("event=listen address={} role={}{}", listening->listener.address,
                 config::role_name(listening->listener.role), settings_->tls ? " tls=yes" : "");
    accept_loop(*listening);
    listening_.push_back(std::move(listening));
  }
  return {};
}

void Server::shut_down(std::function<void()> done) {
  stopping_ = true;
  for (auto& listening : listening_) {
    boost::system::error_code ignored;
    listening->acceptor.close(ignored);
    listening->backoff.cancel();
  }
  // Wakes the sessions waiting for input; they see stopping() and say 421.
  for (auto* socket : sockets_) {
    boost::system::error_code ignored;
    socket->cancel(ignored);
  }
  wait_for_connections(std::chrono::steady_clock::now() + kShutdownGrace, std::move(done));
}

void Server::wait_for_connections(std::chrono::steady_clock::time_point deadline, std::function<void()> done) {
  if (connections_ == 0 || std::chrono::steady_clock::now() >= deadline) return done();
  timer_.expires_after(std::chrono::milliseconds(10));
  timer_.async_wait([this, deadline, done = std::move(done)](boost::system::error_code) mutable {
    wait_for_connections(deadline, std::move(done));
  });
}

void Server::accept_loop(Listening& listening) {
  listening.acceptor.async_accept([this, &listening](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !listening.acceptor.is_open() || stopping_) return;
    if (ec) return accept_failed(listening, ec);
    asio::co_spawn(io_, serve_connection(*this, std::move(socket), listening.listener.role), log_exception);
    accept_loop(listening);
  });
}

void Server::accept_failed(Listening& listening, const boost::system::error_code& ec) {
  auto now = std::chrono::steady_clock::now();
  if (now - accept_error_logged_ >= kAcceptLogInterval) {
    spdlog::warn("event=accept_error detail={} not_logged={}", log_value(ec.message()), accept_errors_unlogged_);
    accept_error_logged_ = now;
    accept_errors_unlogged_ = 0;
  } else {
    ++accept_errors_unlogged_;
  }
  // EMFILE, ENFILE, ENOBUFS, ENOMEM: the connection waits in the backlog
  // until descriptors are free again. Other errors (a connection reset
  // before it was accepted) concern one connection: go on at once.
  bool exhausted = ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space ||
                   ec == asio::error::no_memory;
  if (!exhausted) return accept_loop(listening);
  listening.backoff.expires_after(kAcceptBackoff);
  listening.backoff.async_wait([this, &listening](boost::system::error_code waited) {
    if (!waited && listening.acceptor.is_open() && !stopping_) accept_loop(listening);
  });
}

bool Server::admit(const std::string& ip, tcp::socket& socket) {
  const auto& limits = settings_->config.limits;
  auto& counted = metrics::metrics();
  counted.connections.add();
  if (connections_ >= limits.max_connections) {
    counted.connections_refused[static_cast<std::size_t>(metrics::Refusal::kMaxConnections)].add();
    return false;
  }
  auto& count = per_ip_[ip];
  if (count >= limits.max_connections_per_ip) {
    if (count == 0) per_ip_.erase(ip);
    counted.connections_refused[static_cast<std::size_t>(metrics::Refusal::kMaxConnectionsPerIp)].add();
    return false;
  }
  ++count;
  ++connections_;
  counted.connections_open.add(1);
  sockets_.insert(&socket);
  return true;
}

void Server::release(const std::string& ip, tcp::socket& socket) {
  sockets_.erase(&socket);
  --connections_;
  metrics::metrics().connections_open.add(-1);
  auto it = per_ip_.find(ip);
  if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
}

}  // namespace tern::net
