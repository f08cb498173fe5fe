#pragma once
// Sends delivery status notifications (dsn.h) as new queued messages: the
// bounce or delay warning is written to the spool and made durable like any
// received message, but held out of the queue until the message it reports
// on has recorded it (delivery_state.h). Runs on a scheduler worker thread,
// which commits the DSN itself (Spool::commit_now).
#include <ctime>
#include <optional>
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
  Bouncer(Spool& spool, std::string hostname, Rng& rng = system_rng());

  // The notification of `kind` for these outcomes, if any recipient asked for
  // one (RFC 3461 4.1) and the sender is not <> (never bounce a bounce: that
  // is logged instead). Ok once it is durable, held for `message`
  // (Spool::commit_now): then the result is its queue id, for the caller to
  // record and release; none when no DSN was due. An error means the caller
  // must keep the recipients and try again.
  Result<std::optional<std::string>> notify(const QueuedMessage& message, DsnKind kind,
                                            std::vector<DsnRecipient> outcomes, std::time_t now);

 private:
  Spool& spool_;
  std::string hostname_;
  Rng& rng_;
};

}  // namespace tern::queue
