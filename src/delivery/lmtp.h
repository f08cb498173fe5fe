#pragma once
// The LMTP delivery agent (RFC 2033): hands mail to a mail store such as
// Dovecot over "lmtp:unix:/path" or "lmtp:host:port". One transaction per
// message with all its recipients for that store; one reply per recipient
// after the data, each that recipient's outcome alone (552 5.2.2 mailbox
// full fails it, 452 4.2.2 defers it). Connections are kept open for the
// next message (as for remote SMTP), at most max_connections per store. A
// store that is down or refuses the connection: every recipient deferred.
// Runs on the outbound event loop.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "delivery/agent.h"
#include "delivery/remote_connection.h"

namespace tern::delivery {

// Connects `socket` to the store: its Unix socket, or each address of
// host:port in turn. Returns "" or the error of the last try.
boost::asio::awaitable<std::string> connect_store(boost::asio::generic::stream_protocol::socket& socket,
                                                  const config::MailStore& where, std::chrono::seconds timeout);

struct LmtpConfig {
  RemoteConfig session;  // helo_name and the timeouts
  std::size_t max_connections = 20;  // per store
  // Messages waiting for a connection to one store; more are deferred at
  // once and tried again shortly (as remote SMTP's max_waiting_per_destination).
  std::size_t max_waiting = 200;
  std::chrono::milliseconds idle_time{2000};
};

class LmtpDelivery : public Agent {
 public:
  LmtpDelivery(boost::asio::any_io_executor executor, LmtpConfig config);

  bool in_batch() const override { return false; }
  // From any thread; the outcomes come on the event loop.
  void deliver(Job job, queue::DeliveryBatch& batch, Done done) override;
  // As RemoteDelivery::close(): no new transaction; jobs not started stay queued.
  void close();
  std::size_t open_connections() const { return open_connections_.load(); }

 private:
  struct Pending {
    RemoteMessage message;
    std::vector<std::size_t> positions;  // of message.recipients in `outcomes`
    std::vector<Outcome> outcomes;       // for every job recipient; loops filled in already
    Done done;
    bool retried = false;  // put back once after a kept connection closed
  };
  struct Store {
    config::MailStore where;
    std::deque<Pending> jobs;
    std::size_t connections = 0;
    std::vector<boost::asio::steady_timer*> idle;
  };

  void enqueue(config::MailStore where, Pending pending);
  boost::asio::awaitable<void> connection(Store& store);
  boost::asio::awaitable<bool> wait_for_job(Store& store);
  // Gives the job its outcomes; `not_attempted`: it was never tried (no
  // attempt counted, tried again shortly).
  void finish(Pending& pending, const std::vector<smtp::client::RecipientResult>& results, const Store& store,
              bool not_attempted = false);

  boost::asio::any_io_executor executor_;
  LmtpConfig config_;
  std::map<std::string, Store> stores_;  // by MailStore::text
  std::atomic<std::size_t> open_connections_{0};
  bool closing_ = false;
};

}  // namespace tern::delivery
