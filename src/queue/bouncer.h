#pragma once
// Sends delivery status notifications (dsn.h) as new queued messages: the
// bounce or delay warning is written to the spool and made durable like any
// received message, then handed to the scheduler. Runs on a scheduler
// worker thread, which commits the DSN itself (Spool::commit_now).
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "queue/dsn.h"
#include "queue/queued_message.h"
#include "queue/spool.h"

namespace tern::queue {

class Bouncer {
 public:
  using Enqueue = std::function<void(std::string id)>;

  Bouncer(Spool& spool, std::string hostname, Enqueue enqueue, Rng& rng = system_rng());

  // The notification of `kind` for these outcomes, if any recipient asked for
  // one (RFC 3461 4.1) and the sender is not <> (never bounce a bounce: that
  // is logged instead). Ok once it is durably queued or when none is due;
  // an error means the caller must keep the recipients and try again.
  Result<void> notify(const QueuedMessage& message, DsnKind kind, std::vector<DsnRecipient> outcomes,
                      std::time_t now);

 private:
  Spool& spool_;
  std::string hostname_;
  Enqueue enqueue_;
  Rng& rng_;
};

}  // namespace tern::queue
