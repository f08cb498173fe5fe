#include "app/serve.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <spdlog/spdlog.h>

#include <iostream>

#include "base/log.h"
#include "delivery/maildir.h"
#include "net/server.h"
#include "policy/recipient_policy.h"
#include "queue/scheduler.h"
#include "queue/spool.h"

namespace tern::app {
namespace {

// Delivery workers; each makes its batches durable with one sync (merged
// with the spool's, see queue/syncer.h). Measured here with 20 senders: 2
// workers 1,750 msgs/s accepted, 1 worker 1,600, 4 workers (with 4
// committers) 1,170.
constexpr std::size_t kDeliveryWorkers = 2;

// Every recipient the server accepts is local (issue 3): into its Maildir.
queue::DeliverFn local_delivery(delivery::Maildir& maildir, const policy::RecipientPolicy& policy) {
  return [&maildir, &policy](const queue::QueuedMessage& m, std::size_t index, queue::DeliveryBatch& batch) {
    const auto& envelope = m.envelope;
    delivery::MaildirMessage message{m.id,
                                     index,
                                     envelope.reverse_path.null ? "" : envelope.reverse_path.mailbox.to_string(),
                                     m.fd,
                                     m.offset,
                                     envelope.params.body == proto::Body::kBinaryMime,
                                     m.maybe_delivered};
    return maildir.deliver(message, policy.resolve(envelope.recipients[index].mailbox), batch);
  };
}

}  // namespace

int serve(const config::Config& config) {
  if (!setup_logging(config.log_level)) {
    std::cerr << "tern: unknown log_level " << config.log_level << "\n";
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);
  policy::RecipientPolicy policy(config.local);
  queue::Spool spool(config.data_dir + "/queue");
  auto recovered = spool.open();
  if (!recovered) {
    spdlog::critical("event=start_failed detail={}", log_value(recovered.error().detail));
    return 1;
  }
  delivery::Maildir maildir(config.data_dir + "/mail", config.hostname);
  queue::Scheduler scheduler(spool, local_delivery(maildir, policy), config.queue.retry_interval);
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
  // Commits already handed to the spool finish; deliveries in progress end;
  // everything else stays in the queue for the next start.
  spool.stop();
  scheduler.stop();
  spdlog::info("event=stopped");
  spdlog::shutdown();  // writes out the last log lines
  return 0;
}

}  // namespace tern::app
