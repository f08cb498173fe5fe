#pragma once
// The SMTP listeners: accepts connections, enforces the connection limits
// (421 4.7.0 at connect when over), and runs one coroutine per connection
// that drives a pure smtp::server::Session (see connection.cpp).
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "policy/recipient_policy.h"
#include "queue/scheduler.h"
#include "queue/spool.h"

namespace tern::net {

// What every connection shares. Lives as long as the Server.
struct ServerContext {
  const config::Config& config;
  const policy::RecipientPolicy& policy;
  queue::Spool& spool;
  queue::Scheduler& scheduler;
};

class Server {
 public:
  Server(boost::asio::io_context& io, ServerContext context);

  // Binds every [[listener]]; errors name the address.
  Result<void> listen();
  // Stops accepting; connections in progress finish on their own.
  void close();

  // Connection accounting, for the limits (single-threaded: the io_context
  // runs on one thread).
  bool admit(const std::string& ip);
  void release(const std::string& ip);

  const ServerContext& context() const { return context_; }

 private:
  void accept_loop(boost::asio::ip::tcp::acceptor& acceptor);

  boost::asio::io_context& io_;
  ServerContext context_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::size_t connections_ = 0;
  std::map<std::string, std::size_t> per_ip_;
};

}  // namespace tern::net
