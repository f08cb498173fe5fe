#include "app/serve.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <sys/resource.h>

#include <csignal>
#include <spdlog/spdlog.h>

#include <chrono>
#include <future>
#include <iostream>
#include <thread>

#include "base/log.h"
#include "app/pickup.h"
#include "app/reload.h"
#include "app/systemd.h"
#include "auth/user_db.h"
#include "delivery/lmtp.h"
#include "delivery/lmtp_probe.h"
#include "delivery/maildir.h"
#include "delivery/maildir_agent.h"
#include "delivery/remote.h"
#include "delivery/router.h"
#include "delivery/smtp_agent.h"
#include "dns/resolver.h"
#include "net/server.h"
#include "net/tls_context.h"
#include "policy/aliases_file.h"
#include "policy/local_recipients.h"
#include "policy/recipient_policy.h"
#include "queue/data_dir_lock.h"
#include "queue/fs_check.h"
#include "control/access.h"
#include "control/server.h"
#include "http/http_server.h"
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

// Logged and returned as the exit status when the start fails.
int start_failed(std::string_view detail) {
  spdlog::critical("event=start_failed detail={}", log_value(detail));
  std::cerr << "tern: " << detail << "\n";
  return 1;
}

// Each connection and open queue file costs a descriptor; the soft limit is
// often 1024 while the hard one is far higher. Take what is allowed.
void raise_file_limit() {
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  auto soft = limit.rlim_cur;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) soft = limit.rlim_cur;
  }
  spdlog::info("event=file_limit soft={} hard={}", soft, limit.rlim_max);
}

delivery::RemoteConfig remote_config_of(const config::Config& config) {
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
  remote_config.max_waiting_per_destination = config.outbound.max_waiting_per_destination;
  for (const auto& listener : config.listeners) {
    boost::system::error_code not_an_address;  // check-config allows only addresses
    auto address = boost::asio::ip::make_address(listener.host, not_an_address);
    if (!not_an_address) remote_config.own_listeners.emplace_back(address, listener.port);
  }
  return remote_config;
}

// A reload, with systemd told (RELOADING=1, then READY=1 either way).
Result<std::string> reload_and_tell(Reloader& reloader, const SystemdNotifier& systemd) {
  systemd.reloading();
  auto result = reloader.reload();
  systemd.ready(result ? "reloaded" : "reload refused");
  return result;
}

// SIGTERM and SIGINT stop tern: open sessions are told 421 4.3.2 (RFC 5321
// 3.8), then the loop ends. SIGHUP reads the configuration again (reload.h).
void handle_signals(boost::asio::signal_set& signals, net::Server& server, boost::asio::io_context& io,
                    Reloader& reloader, const SystemdNotifier& systemd) {
  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    if (signal == SIGHUP) {
      spdlog::info("event=sighup");
      (void)reload_and_tell(reloader, systemd);
      return handle_signals(signals, server, io, reloader, systemd);
    }
    spdlog::info("event=stopping signal={}", signal);
    systemd.stopping();
    server.shut_down([&io] { io.stop(); });
  });
}

// WATCHDOG=1 while the network loop runs (systemd's WatchdogSec=): a loop
// that hangs stops sending it, and systemd restarts tern.
void keep_watchdog(boost::asio::steady_timer& timer, const SystemdNotifier& systemd) {
  auto interval = systemd.watchdog_interval();
  if (!interval) return;
  systemd.notify("WATCHDOG=1");
  timer.expires_after(*interval);
  timer.async_wait([&timer, &systemd](boost::system::error_code ec) {
    if (!ec) keep_watchdog(timer, systemd);
  });
}

}  // namespace

int serve(const config::Config& config, const std::string& config_path) {
  if (!setup_logging(config.log_level, config.log_format)) {
    std::cerr << "tern: unknown log_level " << config.log_level << " or log_format " << config.log_format << "\n";
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);
  raise_file_limit();
  // Who receives mail here: the users file changes while tern runs (it is
  // read again when it does); the rest is in the settings (net/settings.h),
  // made again on a reload.
  auth::UserStore users(config.auth.users_file);
  auto ticket_keys = std::make_shared<net::TicketKeys>();
  auto made = make_settings(config, users, ticket_keys, nullptr);
  if (!made) return start_failed(made.error().text);
  if (config.srs.secret_short()) {
    spdlog::warn("event=srs_secret_short detail=\"[srs] secret has {} characters; use {} or more\"",
                 config.srs.secret.size(), config::Srs::kAdvisedSecretSize);
  }
  net::CurrentSettings current(*made);
  // Password checks: one worker, so that hashing (slow on purpose) never
  // holds up the network thread, and a flood of AUTH attempts costs one
  // core at most.
  boost::asio::thread_pool password_worker(1);
  net::PasswordCheck password_check{password_worker.get_executor(), [&users](const proto::SaslCredentials& c) {
                                      auto verdict = users.verify(c.login, c.password);
                                      return verdict == auth::UserStore::Verdict::kOk ? smtp::server::AuthVerdict::kOk
                                             : verdict == auth::UserStore::Verdict::kUnavailable
                                                 ? smtp::server::AuthVerdict::kUnavailable
                                                 : smtp::server::AuthVerdict::kBadCredentials;
                                    }};
  // Nothing touches the queue before the lock is ours (data_dir_lock.h).
  auto lock = queue::DataDirLock::acquire(config.data_dir);
  if (!lock) return start_failed(lock.error().detail);
  auto fs_check = queue::check_data_dir(config.data_dir);
  if (!fs_check.refusal.empty()) return start_failed(fs_check.refusal);
  for (const auto& warning : fs_check.warnings) spdlog::error("event=data_dir_unsafe detail={}", log_value(warning));
  queue::Spool spool(config.data_dir + "/queue");
  Outbound outbound;
  auto resolver = dns::Resolver::create(outbound.io().get_executor(), {config.dns.servers});
  if (!resolver) return start_failed(resolver.error().text);
  delivery::RemoteConfig remote_config = remote_config_of(config);
  delivery::RemoteDelivery remote(outbound.io().get_executor(), **resolver, remote_config);
  delivery::Maildir maildir(config.data_dir + "/mail", config.hostname);
  delivery::MaildirAgent maildir_agent(maildir);
  delivery::SmtpAgent smtp_agent(remote, [&current] { return current.get()->config.srs; });
  delivery::LmtpDelivery lmtp(outbound.io().get_executor(),
                              {.session = remote_config,
                               .max_connections = config.outbound.max_connections_per_destination,
                               .max_waiting = config.outbound.max_waiting_per_destination});
  delivery::Router router(
      [&current] {
        auto settings = current.get();
        return std::shared_ptr<const policy::LocalRecipients>(settings, settings->local.get());
      },
      {maildir_agent, lmtp, smtp_agent});
  queue::RetryPolicy retry{config.queue.retry_interval, config.queue.max_retry_interval,
                          config.queue.max_lifetime, config.queue.delay_warning};
  queue::Scheduler scheduler(
      spool,
      [&router](queue::Delivery& delivery, queue::DeliveryBatch& batch) { router.deliver(delivery, batch); },
      retry, config.hostname);

  // The listeners first: a port that is taken stops the start before the
  // queue is opened (and its tmp/ emptied).
  boost::asio::io_context io(1);
  delivery::RecipientProbe probe({.helo_name = config.hostname});
  net::VerifyRecipient verify = [&probe](const config::MailStore& store, const proto::Mailbox& recipient) {
    return probe.verify(store, recipient);
  };
  // SPF, DKIM and DMARC ask DNS from the network thread: a resolver (and
  // cache) of its own there.
  auto inbound_dns = dns::Resolver::create(io.get_executor(), {config.dns.servers});
  if (!inbound_dns) return start_failed(inbound_dns.error().text);
  net::Server server(io, {spool, scheduler, password_check, verify, inbound_dns->get()}, current.get());
  Reloader reloader(config, config_path, users, ticket_keys, server, current);
  // Signals are taken before anything listens: whoever sees the port open
  // may stop tern at once.
  boost::asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  SystemdNotifier systemd;
  handle_signals(signals, server, io, reloader, systemd);
  if (auto listening = server.listen(); !listening) return start_failed(listening.error().text);
  control::ServerQueue queue_access(scheduler, config.data_dir + "/queue");
  // /metrics and the dashboard, when [http] address is set.
  std::unique_ptr<http::HttpServer> http_server;
  if (!config.http.address.empty()) {
    http_server = std::make_unique<http::HttpServer>(
        config.http,
        [&queue_access](std::string_view request) {
          return control::handle_request(request, queue_access, std::time(nullptr));
        },
        [&scheduler] { return metrics::render(metrics::metrics(), scheduler.queue_gauges()); });
    if (auto serving = http_server->start(); !serving) return start_failed(serving.error().text);
  }
  auto recovered = spool.open();
  if (!recovered) return start_failed(recovered.error().detail);
  scheduler.start(kDeliveryWorkers);
  for (const auto& id : *recovered) scheduler.enqueue(id);
  spdlog::info("event=recovered count={}", recovered->size());
  scheduler.index_in_background(std::move(*recovered));
  // tern queue, on a thread of its own (control/server.h).
  control::Server control(config.data_dir + "/control.sock", [&](std::string_view request) {
    if (!control::is_command(request, "reload")) return control::handle_request(request, queue_access, std::time(nullptr));
    // On the network thread, as SIGHUP's; the control thread waits.
    std::promise<Result<std::string>> done;
    boost::asio::post(io, [&] { done.set_value(reload_and_tell(reloader, systemd)); });
    return control::reload_reply(done.get_future().get());
  });
  if (auto controlled = control.start(); !controlled) {
    spdlog::error("event=control_disabled detail={}", log_value(controlled.error().text));
  }
  // Local submission (tern sendmail): maildrop/ into the queue, on this loop.
  Pickup pickup(io, spool, scheduler,
                {.data_dir = config.data_dir, .hostname = config.hostname,
                 .max_message_size = [&current] { return current.get()->config.limits.max_message_size; },
                 .expand = [&current](const auto& recipients) { return current.get()->local->expand_all(recipients); },
                 .signing_keys = [&current] { return current.get()->signing; }});
  if (auto picking = pickup.start(); !picking) {
    spdlog::error("event=pickup_disabled detail={}", log_value(picking.error().detail));
  }
  spdlog::info("event=started hostname={} data_dir={}", config.hostname, log_value(config.data_dir));
  systemd.ready("accepting mail");
  boost::asio::steady_timer watchdog(io);
  keep_watchdog(watchdog, systemd);

  io.run();
  pickup.stop();
  // Outbound connections end politely: idle ones say QUIT, busy ones may
  // finish their transaction (up to kOutboundGrace); then the rest stop
  // where they are. The scheduler records the deliveries that ended (it may
  // queue bounces, so the spool still runs); commits already handed to the
  // spool finish; everything else stays in the queue for the next start.
  remote.close();
  lmtp.close();
  for (auto waited = std::chrono::milliseconds(0);
       remote.open_connections() + lmtp.open_connections() > 0 && waited < kOutboundGrace;
       waited += std::chrono::milliseconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  outbound.stop();
  password_worker.join();
  if (http_server) http_server->stop();
  control.stop();
  scheduler.stop();
  spool.stop();
  spdlog::info("event=stopped");
  spdlog::shutdown();  // writes out the last log lines
  return 0;
}

}  // namespace tern::app
