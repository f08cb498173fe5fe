#pragma once
// The queue runner: takes messages that are durable in active/, delivers each
// recipient through the delivery function, and removes the message once every
// recipient has an outcome. A temporary failure defers the whole message to
// a later attempt (deliveries are idempotent, see delivery/maildir.h).
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
#include "proto/envelope.h"
#include "queue/spool.h"

namespace tern::queue {

struct QueuedMessage {
  std::string id;
  std::string path;         // the queue file
  std::size_t offset = 0;   // where the message starts in it
  proto::Envelope envelope;
};

// Reads the envelope at the head of a queue file.
Result<QueuedMessage> load_queued(const std::string& id, const std::string& path);

// Delivers one recipient; on success returns where it went (for the log).
using DeliverFn = std::function<Result<std::string>(const QueuedMessage&, std::size_t recipient_index)>;

class Scheduler {
 public:
  Scheduler(Spool& spool, DeliverFn deliver, std::chrono::seconds retry_interval);
  ~Scheduler();

  void start(std::size_t workers);
  void stop();  // finishes the messages being delivered, leaves the rest queued
  void enqueue(std::string id);

 private:
  void run();
  void deliver(const std::string& id);
  bool next(std::string& id);

  Spool& spool_;
  DeliverFn deliver_;
  std::chrono::seconds retry_interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> ready_;
  std::multimap<std::chrono::steady_clock::time_point, std::string> deferred_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace tern::queue
