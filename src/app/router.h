#pragma once
// Routing: each pending recipient of a queued message goes to its local
// Maildir (a local domain, or <Postmaster>) or, for any other domain, to
// remote SMTP delivery (a smarthost or the domain's MX hosts), one
// transaction per domain. Remote deliveries run on the outbound event loop;
// the scheduler's worker thread waits for them.
#include <boost/asio/io_context.hpp>

#include "delivery/maildir.h"
#include "delivery/remote.h"
#include "policy/recipient_policy.h"
#include "queue/scheduler.h"

namespace tern::app {

class Router {
 public:
  Router(delivery::Maildir& maildir, const policy::RecipientPolicy& policy, boost::asio::io_context& outbound,
         delivery::RemoteDelivery& remote);

  std::vector<queue::RecipientOutcome> deliver(const queue::QueuedMessage& message,
                                               const std::vector<std::size_t>& pending,
                                               queue::DeliveryBatch& batch);

 private:
  queue::RecipientOutcome deliver_local(const queue::QueuedMessage& message, std::size_t index,
                                        queue::DeliveryBatch& batch);
  std::vector<queue::RecipientOutcome> deliver_remote(const queue::QueuedMessage& message,
                                                      const std::vector<std::size_t>& indexes,
                                                      const std::string& domain);

  delivery::Maildir& maildir_;
  const policy::RecipientPolicy& policy_;
  boost::asio::io_context& outbound_;
  delivery::RemoteDelivery& remote_;
};

}  // namespace tern::app
