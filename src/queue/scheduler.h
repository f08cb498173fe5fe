#pragma once
// The queue runner: takes messages that are durable in active/, delivers the
// recipients that have no final outcome yet, and keeps what happened in the
// message's delivery state (delivery_state.h). Temporary failures are retried
// on the retry schedule (retry.h) until [queue] max_lifetime, then they fail;
// failed recipients get a bounce and deferred ones one delay warning
// (bouncer.h, RFC 3464), as they asked (RFC 3461 NOTIFY). A message leaves
// the queue when every recipient has its final outcome.
//
// Workers take messages in batches and make a batch's deliveries durable
// together (DeliveryBatch), as the spool's group commit does for receipt.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "queue/bouncer.h"
#include "queue/queued_message.h"
#include "queue/retry.h"
#include "queue/spool.h"

namespace tern::queue {

// The outcome of one recipient's delivery: where it went (for the log), or
// the reply that refused it (4xx: try again, 5xx: failed).
struct RecipientOutcome {
  Result<std::string> result = std::string();
  std::string remote_mta;  // the server that answered, for DSNs; empty for local delivery
};

// Delivers the `pending` recipients of a message (indexes into its envelope);
// returns one outcome per pending recipient, in the same order.
using DeliverFn = std::function<std::vector<RecipientOutcome>(
    const QueuedMessage&, const std::vector<std::size_t>& pending, DeliveryBatch&)>;

class Scheduler {
 public:
  Scheduler(Spool& spool, DeliverFn deliver, RetryPolicy retry, std::string hostname,
            FileSystem& fs = posix_fs());
  ~Scheduler();

  void start(std::size_t workers);
  void stop();  // finishes the batches being delivered, leaves the rest queued
  // `fresh`: accepted by this process and never tried (see QueuedMessage).
  void enqueue(std::string id, bool fresh = false);

 private:
  struct Ready {
    std::string id;
    bool fresh;
  };
  struct Attempt;

  void run();
  bool next_batch(std::vector<Ready>& batch);
  void deliver_batch(const std::vector<Ready>& batch);
  void attempt(const Ready& ready, DeliveryBatch& durability, std::vector<Attempt>& attempts);
  // Returns true when it recorded something in the message's state file.
  bool finish(Attempt& attempt, bool durable);
  void defer(const std::string& id, TimePoint when);

  Spool& spool_;
  DeliverFn deliver_;
  RetryPolicy retry_;
  FileSystem& fs_;
  Bouncer bouncer_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Ready> ready_;
  std::multimap<TimePoint, std::string> deferred_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace tern::queue
