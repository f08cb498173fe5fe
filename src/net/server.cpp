#include "net/server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "net/connection.h"

namespace tern::net {

namespace asio = boost::asio;
using asio::ip::tcp;

Server::Server(asio::io_context& io, ServerContext context) : io_(io), context_(context) {}

Result<void> Server::listen() {
  for (const auto& listener : context_.config.listeners) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(listener.host, ec);
    if (ec) return Error{0, "", fmt::format("listener {}: not an IP address", listener.address), ""};
    auto acceptor = std::make_unique<tcp::acceptor>(io_);
    tcp::endpoint endpoint(address, listener.port);
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && address.is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Error{0, "", fmt::format("listener {}: {}", listener.address, ec.message()), ""};
    spdlog::info("event=listen address={}", listener.address);
    accept_loop(*acceptor);
    acceptors_.push_back(std::move(acceptor));
  }
  return {};
}

void Server::close() {
  for (auto& acceptor : acceptors_) {
    boost::system::error_code ignored;
    acceptor->close(ignored);
  }
}

void Server::accept_loop(tcp::acceptor& acceptor) {
  acceptor.async_accept([this, &acceptor](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      asio::co_spawn(io_, serve_connection(*this, std::move(socket)), asio::detached);
    } else {
      spdlog::warn("event=accept_error detail={}", ec.message());
    }
    accept_loop(acceptor);
  });
}

bool Server::admit(const std::string& ip) {
  const auto& limits = context_.config.limits;
  if (connections_ >= limits.max_connections) return false;
  auto& count = per_ip_[ip];
  if (count >= limits.max_connections_per_ip) {
    if (count == 0) per_ip_.erase(ip);
    return false;
  }
  ++count;
  ++connections_;
  return true;
}

void Server::release(const std::string& ip) {
  --connections_;
  auto it = per_ip_.find(ip);
  if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
}

}  // namespace tern::net
