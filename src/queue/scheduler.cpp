#include "queue/scheduler.h"

#include <spdlog/spdlog.h>

#include "base/log.h"

namespace tern::queue {
namespace {

constexpr std::size_t kBatch = 32;

}  // namespace

// One message's outcomes within a batch; logged once the batch is durable.
struct Scheduler::Attempt {
  std::string id;
  std::vector<std::string> delivered;  // "rcpt=... path=..."
  std::vector<std::string> failed;     // permanent: "rcpt=... reply=... detail=..."
  bool deferred = false;
};

Scheduler::Scheduler(Spool& spool, DeliverFn deliver, std::chrono::seconds retry_interval, FileSystem& fs)
    : spool_(spool), deliver_(std::move(deliver)), retry_interval_(retry_interval), fs_(fs) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::start(std::size_t workers) {
  for (std::size_t i = 0; i < workers; ++i) workers_.emplace_back([this] { run(); });
}

void Scheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
  workers_.clear();
}

void Scheduler::enqueue(std::string id, bool fresh) {
  {
    std::lock_guard lock(mutex_);
    ready_.push_back({std::move(id), fresh});
  }
  wake_.notify_one();
}

// Waits for ready messages, moving deferred ones to ready when due.
bool Scheduler::next_batch(std::vector<Ready>& batch) {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    while (!deferred_.empty() && deferred_.begin()->first <= now) {
      ready_.push_back({std::move(deferred_.begin()->second), false});
      deferred_.erase(deferred_.begin());
    }
    if (!ready_.empty()) {
      while (!ready_.empty() && batch.size() < kBatch) {
        batch.push_back(std::move(ready_.front()));
        ready_.pop_front();
      }
      return true;
    }
    if (deferred_.empty()) {
      wake_.wait(lock);
    } else {
      wake_.wait_until(lock, deferred_.begin()->first);
    }
  }
  return false;
}

void Scheduler::run() {
  std::vector<Ready> batch;
  while (next_batch(batch)) {
    deliver_batch(batch);
    batch.clear();
  }
}

void Scheduler::deliver_batch(const std::vector<Ready>& batch) {
  DeliveryBatch durability(fs_, &spool_.syncer());
  std::vector<Attempt> attempts;
  attempts.reserve(batch.size());
  for (const auto& ready : batch) attempt(ready, durability, attempts);
  auto durable = durability.commit();
  for (auto& a : attempts) finish(a, durable);
}

void Scheduler::attempt(const Ready& ready, DeliveryBatch& durability, std::vector<Attempt>& attempts) {
  auto message = load_queued(ready.id, spool_.active_path(ready.id));
  if (!message) {
    // Kept in the queue for the administrator; nothing we can deliver.
    spdlog::error("event=queue_file_error queue_id={} detail={}", ready.id, log_value(message.error().detail));
    return;
  }
  message->maybe_delivered = !ready.fresh;
  Attempt& a = attempts.emplace_back();
  a.id = ready.id;
  const auto& recipients = message->envelope.recipients;
  for (std::size_t i = 0; i < recipients.size(); ++i) {
    auto rcpt = log_value(recipients[i].mailbox.to_string());
    auto outcome = deliver_(*message, i, durability);
    if (outcome) {
      a.delivered.push_back(fmt::format("rcpt={} path={}", rcpt, log_value(*outcome)));
    } else if (outcome.error().permanent()) {
      a.failed.push_back(fmt::format("rcpt={} reply={} detail={}", rcpt, outcome.error().code,
                                     log_value(outcome.error().detail)));
    } else {
      a.deferred = true;
      spdlog::warn("event=deferred queue_id={} rcpt={} reply={} detail={}", a.id, rcpt, outcome.error().code,
                   log_value(outcome.error().detail));
    }
  }
}

// Logs the outcomes, then removes the message or defers it. Nothing counts
// as delivered until the batch's directories are fsync'd.
void Scheduler::finish(Attempt& a, const Result<void>& durable) {
  if (!durable) {
    spdlog::warn("event=deferred queue_id={} detail={}", a.id, log_value(durable.error().detail));
    a.deferred = true;
  } else {
    for (const auto& d : a.delivered) spdlog::info("event=delivered queue_id={} {}", a.id, d);
  }
  for (const auto& f : a.failed) spdlog::warn("event=failed queue_id={} {}", a.id, f);
  if (!a.deferred) {
    spool_.remove(a.id);
    return;
  }
  std::lock_guard lock(mutex_);
  deferred_.emplace(std::chrono::steady_clock::now() + retry_interval_, a.id);
}

}  // namespace tern::queue
