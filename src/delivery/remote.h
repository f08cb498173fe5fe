#pragma once
// Remote delivery over SMTP: jobs (one message, the recipients of one
// domain) wait in a queue per destination (the domain, or the smarthost)
// and go out over connections to the destination's hosts, found through
// its MX records (RFC 5321 5.1). A connection carries one job after
// another while the destination has any; each destination has at most
// [outbound] max_connections_per_destination, all of them together
// [outbound] max_connections. Everything runs on one event loop.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "base/result.h"
#include "delivery/remote_connection.h"
#include "dns/resolver.h"
#include "queue/delivery.h"

namespace tern::delivery {

struct RemoteJob {
  RemoteMessage message;  // its queue file stays open until `done` is destroyed
  std::string domain;     // of the recipients
  // Called once, on the event loop: one outcome per recipient, in order.
  // Not tried at all (the destination had [outbound]
  // max_waiting_per_destination messages waiting): 451 4.4.5 with
  // not_attempted.
  std::function<void(std::vector<queue::RecipientOutcome>)> done;
  bool retried = false;   // put back once after a reused connection closed
};

class RemoteDelivery {
 public:
  RemoteDelivery(boost::asio::any_io_executor executor, dns::Resolver& resolver, RemoteConfig config);

  // From any thread.
  void submit(RemoteJob job);
  // From any thread, when tern stops: no new job or connection is started;
  // idle connections say QUIT now, busy ones after their transaction.
  // Jobs not started stay queued (their `done` is never called).
  void close();
  // Connections open; from any thread (to wait for close() to take effect).
  std::size_t open_connections() const { return open_connections_.load(); }

 private:
  struct Destination {
    std::deque<RemoteJob> jobs;
    std::size_t connections = 0;
    std::vector<boost::asio::steady_timer*> idle;  // connections waiting for a job
    bool waiting = false;                          // in waiting_ for a free connection slot
  };

  void enqueue(RemoteJob job);
  void open_connection(const std::string& key);
  void connection_closed(const std::string& key);
  boost::asio::awaitable<void> connection(std::string key);
  boost::asio::awaitable<void> deliver_jobs(Destination& destination);
  boost::asio::awaitable<bool> first_job(Destination& destination, RemoteConnection& connection);
  boost::asio::awaitable<bool> next_job(Destination& destination, RemoteConnection& connection);
  boost::asio::awaitable<bool> wait_for_job(Destination& destination);
  boost::asio::awaitable<Result<std::vector<Target>>> targets(const std::string& domain);
  boost::asio::awaitable<dns::AddressAnswer> addresses(const Target& target);
  std::string destination_of(const std::string& domain) const;

  boost::asio::any_io_executor executor_;
  dns::Resolver& resolver_;
  RemoteConfig config_;
  std::mt19937 random_;
  TlsClient tls_;
  std::map<std::string, Destination> destinations_;
  std::deque<std::string> waiting_;  // destinations with jobs and no connection slot
  std::size_t connections_ = 0;
  std::atomic<std::size_t> open_connections_{0};  // connections_, for other threads
  bool closing_ = false;
};

}  // namespace tern::delivery
