#include "app/serve.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <spdlog/spdlog.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "base/log.h"
#include "app/router.h"
#include "delivery/maildir.h"
#include "delivery/remote.h"
#include "dns/resolver.h"
#include "net/server.h"
#include "policy/recipient_policy.h"
#include "queue/scheduler.h"
#include "queue/spool.h"

namespace tern::app {
namespace {

// Delivery workers; each makes its batches of local deliveries durable with
// one sync (merged with the spool's, see queue/syncer.h), and records
// finished deliveries. Remote SMTP does not hold them up: it runs on the
// outbound event loop. Measured here with 20 senders: 2 workers 1,750
// msgs/s accepted, 1 worker 1,600, 4 workers (with 4 committers) 1,170.
constexpr std::size_t kDeliveryWorkers = 2;
// At stop, how long outbound connections may take to finish and say QUIT.
constexpr auto kOutboundGrace = std::chrono::seconds(2);

// The outbound event loop: remote deliveries and DNS, on a thread of its own.
// Coroutines still suspended when it stops are destroyed with the
// io_context, after the RemoteDelivery and Resolver they used: their
// destructors must not touch those (they do not: sockets, timers, jobs).
class Outbound {
 public:
  Outbound() : work_(boost::asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~Outbound() { stop(); }
  void stop() {
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  boost::asio::io_context& io() { return io_; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace

int serve(const config::Config& config) {
  if (!setup_logging(config.log_level)) {
    std::cerr << "tern: unknown log_level " << config.log_level << "\n";
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);
  auto networks = policy::Networks::parse(config.relay.networks);
  if (!networks) {
    spdlog::critical("event=start_failed detail={}", log_value(networks.error().text));
    return 1;
  }
  policy::RecipientPolicy policy(config.local, std::move(networks.value()));
  queue::Spool spool(config.data_dir + "/queue");
  auto recovered = spool.open();
  if (!recovered) {
    spdlog::critical("event=start_failed detail={}", log_value(recovered.error().detail));
    return 1;
  }
  Outbound outbound;
  auto resolver = dns::Resolver::create(outbound.io().get_executor(), {config.dns.servers});
  if (!resolver) {
    spdlog::critical("event=start_failed detail={}", log_value(resolver.error().text));
    return 1;
  }
  delivery::RemoteConfig remote_config;
  remote_config.helo_name = config.hostname;
  remote_config.port = config.outbound.port;
  remote_config.smarthost = config.relay.smarthost;
  remote_config.tls = config.relay.smarthost_tls == "required"   ? delivery::RemoteConfig::Tls::kRequired
                      : config.relay.smarthost_tls == "implicit" ? delivery::RemoteConfig::Tls::kImplicit
                                                                 : delivery::RemoteConfig::Tls::kMay;
  remote_config.auth_username = config.relay.smarthost_username;
  remote_config.auth_password = config.relay.smarthost_password;
  remote_config.connect_timeout = config.outbound.connect_timeout;
  remote_config.command_timeout = config.outbound.command_timeout;
  remote_config.end_of_data_timeout = config.outbound.data_timeout;
  remote_config.max_connections = config.outbound.max_connections;
  remote_config.max_connections_per_destination = config.outbound.max_connections_per_destination;
  delivery::RemoteDelivery remote(outbound.io().get_executor(), **resolver, remote_config);
  delivery::Maildir maildir(config.data_dir + "/mail", config.hostname);
  Router router(maildir, policy, remote);
  queue::RetryPolicy retry{config.queue.retry_interval, config.queue.max_retry_interval,
                          config.queue.max_lifetime, config.queue.delay_warning};
  queue::Scheduler scheduler(
      spool,
      [&router](queue::Delivery& delivery, queue::DeliveryBatch& batch) { router.deliver(delivery, batch); },
      retry, config.hostname);
  scheduler.start(kDeliveryWorkers);
  for (auto& id : *recovered) scheduler.enqueue(std::move(id));
  spdlog::info("event=recovered count={}", recovered->size());

  boost::asio::io_context io(1);
  net::Server server(io, {config, policy, spool, scheduler});
  if (auto listening = server.listen(); !listening) {
    spdlog::critical("event=start_failed detail={}", log_value(listening.error().text));
    scheduler.stop();
    return 1;
  }
  spdlog::info("event=started hostname={} data_dir={}", config.hostname, log_value(config.data_dir));

  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    spdlog::info("event=stopping signal={}", signal);
    server.close();
    io.stop();
  });
  io.run();
  // Outbound connections end politely: idle ones say QUIT, busy ones may
  // finish their transaction (up to kOutboundGrace); then the rest stop
  // where they are. The scheduler records the deliveries that ended (it may
  // queue bounces, so the spool still runs); commits already handed to the
  // spool finish; everything else stays in the queue for the next start.
  remote.close();
  for (auto waited = std::chrono::milliseconds(0); remote.open_connections() > 0 && waited < kOutboundGrace;
       waited += std::chrono::milliseconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  outbound.stop();
  scheduler.stop();
  spool.stop();
  spdlog::info("event=stopped");
  spdlog::shutdown();  // writes out the last log lines
  return 0;
}

}  // namespace tern::app
