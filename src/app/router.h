#pragma once
// Routing: each pending recipient of a queued message goes to its local
// Maildir (a local domain, or <Postmaster>) or, for any other domain, to
// remote SMTP delivery (a smarthost or the domain's MX hosts), one
// transaction per domain. Local deliveries happen on the scheduler's worker
// thread; remote ones are handed to the outbound event loop, and their
// outcomes come back later (queue::Delivery::Part).
#include "delivery/maildir.h"
#include "delivery/remote.h"
#include "policy/recipient_policy.h"
#include "queue/scheduler.h"

namespace tern::app {

class Router {
 public:
  Router(delivery::Maildir& maildir, const policy::RecipientPolicy& policy, delivery::RemoteDelivery& remote);

  void deliver(queue::Delivery& delivery, queue::DeliveryBatch& batch);

 private:
  queue::RecipientOutcome deliver_local(const queue::QueuedMessage& message, std::size_t index,
                                        queue::DeliveryBatch& batch);
  void deliver_remote(queue::Delivery& delivery, const std::vector<std::size_t>& positions,
                      const std::string& domain);

  delivery::Maildir& maildir_;
  const policy::RecipientPolicy& policy_;
  delivery::RemoteDelivery& remote_;
};

}  // namespace tern::app
