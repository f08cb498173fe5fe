#pragma once
// The queue runner: takes messages that are durable in active/, delivers each
// recipient through the delivery function, and removes the message once every
// recipient has an outcome. A temporary failure defers the whole message to
// a later attempt (deliveries are idempotent, see delivery/maildir.h).
//
// Workers take messages in batches and make a batch's deliveries durable
// together (DeliveryBatch), as the spool's group commit does for receipt.
//
// Issue 4 grows this into the full scheduler: per-recipient state, backoff
// up to [queue] max_lifetime, bounces (RFC 3464).
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
#include "queue/queued_message.h"
#include "queue/spool.h"

namespace tern::queue {

// Delivers one recipient; on success returns where it went (for the log).
using DeliverFn =
    std::function<Result<std::string>(const QueuedMessage&, std::size_t recipient_index, DeliveryBatch&)>;

class Scheduler {
 public:
  Scheduler(Spool& spool, DeliverFn deliver, std::chrono::seconds retry_interval,
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
  void finish(Attempt& attempt, const Result<void>& durable);

  Spool& spool_;
  DeliverFn deliver_;
  std::chrono::seconds retry_interval_;
  FileSystem& fs_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Ready> ready_;
  std::multimap<std::chrono::steady_clock::time_point, std::string> deferred_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace tern::queue
