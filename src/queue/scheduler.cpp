#include "queue/scheduler.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "base/log.h"
#include "queue/envelope_file.h"

namespace tern::queue {
namespace {

constexpr std::size_t kMaxEnvelope = 1 << 20;

}  // namespace

Result<QueuedMessage> load_queued(const std::string& id, const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{451, "4.3.0", "Queue file unreadable", "open " + path};
  std::string head;
  std::size_t block = 16 * 1024;
  while (head.find("\n\n") == std::string::npos && head.size() < kMaxEnvelope) {
    std::string buffer(block, '\0');
    auto n = ::pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(head.size()));
    if (n <= 0) break;
    head.append(buffer, 0, static_cast<std::size_t>(n));
  }
  ::close(fd);
  auto parsed = parse_envelope(head);
  if (!parsed) return parsed.error();
  return QueuedMessage{id, path, parsed->header_size, std::move(parsed->envelope)};
}

Scheduler::Scheduler(Spool& spool, DeliverFn deliver, std::chrono::seconds retry_interval)
    : spool_(spool), deliver_(std::move(deliver)), retry_interval_(retry_interval) {}

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

void Scheduler::enqueue(std::string id) {
  {
    std::lock_guard lock(mutex_);
    ready_.push_back(std::move(id));
  }
  wake_.notify_one();
}

// Waits for a ready message, moving deferred ones to ready when due.
bool Scheduler::next(std::string& id) {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    while (!deferred_.empty() && deferred_.begin()->first <= now) {
      ready_.push_back(std::move(deferred_.begin()->second));
      deferred_.erase(deferred_.begin());
    }
    if (!ready_.empty()) {
      id = std::move(ready_.front());
      ready_.pop_front();
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
  std::string id;
  while (next(id)) deliver(id);
}

void Scheduler::deliver(const std::string& id) {
  auto message = load_queued(id, spool_.active_path(id));
  if (!message) {
    // Kept in the queue for the administrator; nothing we can deliver.
    spdlog::error("event=queue_file_error queue_id={} detail={}", id, log_value(message.error().detail));
    return;
  }
  bool deferred = false;
  const auto& recipients = message->envelope.recipients;
  for (std::size_t i = 0; i < recipients.size(); ++i) {
    auto rcpt = log_value(recipients[i].mailbox.to_string());
    auto outcome = deliver_(*message, i);
    if (outcome) {
      spdlog::info("event=delivered queue_id={} rcpt={} path={}", id, rcpt, log_value(*outcome));
    } else if (outcome.error().permanent()) {
      spdlog::warn("event=failed queue_id={} rcpt={} reply={} detail={}", id, rcpt, outcome.error().code,
                   log_value(outcome.error().detail));
    } else {
      deferred = true;
      spdlog::warn("event=deferred queue_id={} rcpt={} reply={} detail={}", id, rcpt, outcome.error().code,
                   log_value(outcome.error().detail));
    }
  }
  if (!deferred) {
    spool_.remove(id);
    return;
  }
  std::lock_guard lock(mutex_);
  deferred_.emplace(std::chrono::steady_clock::now() + retry_interval_, id);
}

}  // namespace tern::queue
