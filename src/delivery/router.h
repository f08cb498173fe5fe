#pragma once
// Routing: each pending recipient of a queued message goes to the agent of
// its destination: a local domain's mail store (Maildir, or LMTP), or, for
// any other domain, remote SMTP (a smarthost or the domain's MX hosts).
// Recipients of one destination go in one job: one transaction per
// domain, per store, and per forwarding alias (its Delivered-To is the
// copy's own). The queue sees one outcome per recipient, whichever agent
// gave it.
#include <functional>
#include <memory>

#include "delivery/agent.h"
#include "policy/local_recipients.h"
#include "queue/delivery.h"

namespace tern::delivery {

class Router {
 public:
  struct Agents {
    Agent& maildir;
    Agent& lmtp;
    Agent& smtp;
  };
  // `local` gives the newest recipients (a reload changes domains and
  // aliases); what it returns is kept alive until the jobs made with it
  // are done (their stores point into it).
  using Local = std::function<std::shared_ptr<const policy::LocalRecipients>()>;
  Router(Local local, Agents agents) : local_(std::move(local)), agents_(agents) {}

  // The scheduler's call, on a worker thread.
  void deliver(queue::Delivery& delivery, queue::DeliveryBatch& batch);

 private:
  Local local_;
  Agents agents_;
};

}  // namespace tern::delivery
