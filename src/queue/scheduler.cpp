#include "queue/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/ids.h"
#include "base/log.h"
#include "base/text.h"
#include "queue/delivery_state.h"

namespace tern::queue {
namespace {

constexpr std::size_t kBatch = 32;
// Messages being delivered at once. Each holds its queue file open while
// its remote deliveries wait for a connection ([outbound] limits).
constexpr std::size_t kMaxActive = 2000;
// A message whose destination had too many messages waiting comes back
// after this.
constexpr auto kParkedRetry = std::chrono::seconds(1);

std::string describe(const Error& e) { return fmt::format("{} {} {}", e.code, e.enhanced, e.text); }

}  // namespace

Scheduler::Scheduler(Spool& spool, DeliverFn deliver, RetryPolicy retry, std::string hostname, Rng& rng)
    : spool_(spool),
      deliver_(std::move(deliver)),
      retry_(retry),
      fs_(spool.fs()),
      clock_(spool.clock()),
      bouncer_(spool, std::move(hostname), rng) {}

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
  if (indexer_.joinable()) indexer_.join();
  // Records a failed write left in memory: one last try, synced by the
  // spool's stop. Their held DSNs are decided at the next start.
  std::lock_guard lock(mutex_);
  for (auto& [id, unwritten] : unwritten_) {
    (void)append_state(fs_, spool_.state_path(id), unwritten.lines);
  }
  unwritten_.clear();
}

void Scheduler::enqueue(std::string id, bool fresh) {
  {
    std::lock_guard lock(mutex_);
    ready_.push_back({std::move(id), fresh});
  }
  wake_.notify_one();
}

// A held message waits for its release instead; one to bounce goes now.
void Scheduler::defer(const std::string& id, TimePoint when, std::vector<std::string> domains) {
  {
    std::lock_guard lock(mutex_);
    if (held_.count(id)) {
      index_.set_state(id, "held", 0);
      return;
    }
    if (to_bounce_.count(id)) {
      ready_.push_back({id, false, true});
    } else {
      deferred_.emplace(when, id);
      if (!domains.empty()) deferred_domains_[id] = std::move(domains);
    }
  }
  index_.set_state(id, "deferred", std::chrono::system_clock::to_time_t(when));
  wake_.notify_one();
}

// Takes work, if there is any: finished deliveries to record, or ready
// messages (moving deferred ones to ready when due) while fewer than
// kMaxActive are active. Called with mutex_ held.
bool Scheduler::take_work(std::vector<Ready>& batch, std::vector<DeliveryPtr>& finished) {
  if (!finished_.empty()) {
    while (!finished_.empty() && finished.size() < kBatch) {
      finished.push_back(std::move(finished_.front()));
      finished_.pop_front();
    }
    return true;
  }
  auto now = clock_.now();
  while (!deferred_.empty() && deferred_.begin()->first <= now) {
    deferred_domains_.erase(deferred_.begin()->second);
    ready_.push_back({std::move(deferred_.begin()->second), false});
    deferred_.erase(deferred_.begin());
  }
  if (ready_.empty() || active_ >= kMaxActive) return false;
  while (!ready_.empty() && batch.size() < kBatch && active_ < kMaxActive) {
    in_flight_.insert(ready_.front().id);
    batch.push_back(std::move(ready_.front()));
    ready_.pop_front();
    ++active_;
  }
  return true;
}

// Waits for work (take_work); false when stopping.
bool Scheduler::next_work(std::vector<Ready>& batch, std::vector<DeliveryPtr>& finished) {
  std::unique_lock lock(mutex_);
  while (true) {
    if (!finished_.empty() || !stopping_) {
      if (take_work(batch, finished)) return true;
    }
    if (stopping_) return false;
    if (deferred_.empty()) {
      wake_.wait(lock);
    } else {
      // A copy: wait_until keeps a reference while the lock is released,
      // and another worker may erase that entry meanwhile.
      const TimePoint due = deferred_.begin()->first;
      wake_.wait_until(lock, due);
    }
  }
}

void Scheduler::run() {
  std::vector<Ready> batch;
  std::vector<DeliveryPtr> finished;
  while (next_work(batch, finished)) work(batch, finished);
}

bool Scheduler::step() {
  std::vector<Ready> batch;
  std::vector<DeliveryPtr> finished;
  {
    std::lock_guard lock(mutex_);
    if (!take_work(batch, finished)) return false;
  }
  work(batch, finished);
  return true;
}

std::optional<TimePoint> Scheduler::next_due() {
  std::lock_guard lock(mutex_);
  if (deferred_.empty()) return std::nullopt;
  return deferred_.begin()->first;
}

void Scheduler::work(std::vector<Ready>& batch, std::vector<DeliveryPtr>& finished) {
  if (!finished.empty()) record(finished);
  if (!batch.empty()) deliver_batch(batch);
  batch.clear();
  finished.clear();
}

void Scheduler::deliver_batch(const std::vector<Ready>& batch) {
  DeliveryBatch durability(fs_, &spool_.syncer());
  std::vector<DeliveryPtr> started;
  started.reserve(batch.size());
  for (const auto& ready : batch) {
    if (auto delivery = attempt(ready, durability)) started.push_back(std::move(delivery));
  }
  auto durable = durability.commit();
  if (!durable) spdlog::warn("event=delivery_sync_failed detail={}", log_value(durable.error().detail));
  // Deliveries with nothing left outstanding come back at once, through
  // on_finished(), and are recorded by the next worker.
  for (auto& delivery : started) delivery->batch_committed(durable.ok());
}

// Starts one message's delivery; null when it is not due or unreadable.
Scheduler::DeliveryPtr Scheduler::attempt(const Ready& ready, DeliveryBatch& durability) {
  auto not_started = [&] {
    std::lock_guard lock(mutex_);
    in_flight_.erase(ready.id);
    --active_;
  };
  {
    std::lock_guard lock(mutex_);
    if (held_.count(ready.id)) {
      in_flight_.erase(ready.id);
      --active_;
      return nullptr;
    }
  }
  // After a restart, a message keeps the schedule it had. Its state file
  // alone tells (the queue file is not opened for a message not yet due:
  // at a restart that is most of them).
  std::string records;  // a fresh message has none
  if (!ready.fresh) {
    auto text = state_text(ready.id);
    if (!text) {
      not_started();
      unreadable_state(ready.id, text.error());
      return nullptr;
    }
    records = std::move(text.value());
    auto recorded = parse_state(records, 0);
    bool held = recorded.held;
    {
      // Held before a restart, it waits for its release again; unless it
      // was released since this read (tern queue release).
      std::lock_guard lock(mutex_);
      if (released_.erase(ready.id) > 0) held = false;
      if (held) held_.insert(ready.id);
    }
    if (held) {
      index_.set_state(ready.id, "held", 0);
      not_started();
      return nullptr;
    }
    auto due = ready.now ? std::nullopt : believable_due(recorded.next_attempt);
    if (due) {
      defer(ready.id, *due);
      not_started();
      return nullptr;
    }
  }
  auto message = load_queued(fs_, ready.id, spool_.active_path(ready.id));
  if (!message) {
    not_started();
    unloadable(ready.id, message.error());
    return nullptr;
  }
  message->maybe_delivered = !ready.fresh;
  auto recipients = message->envelope.recipients.size();
  auto delivery = std::make_shared<Delivery>(std::move(message.value()), parse_state(records, recipients),
                                             [this](DeliveryPtr d) { on_finished(std::move(d)); });
  index_attempt(*delivery);
  bool cancelled;
  {
    // A bounce asked for: this attempt does it (one asked while an attempt
    // was in flight comes here when that one is over: defer()).
    std::lock_guard lock(mutex_);
    cancelled = to_bounce_.erase(ready.id) > 0;
  }
  if (cancelled) {
    cancel(*delivery);
  } else if (!delivery->pending().empty()) {
    deliver_(*delivery, durability);
  }
  return delivery;
}

// The state file's records, with those that could not be written to it yet.
Result<std::string> Scheduler::state_text(const std::string& id) {
  auto text = read_file(fs_, spool_.state_path(id));
  if (!text && !file_missing(text.error())) return text.error();
  std::string all = text ? std::move(text.value()) : std::string();
  {
    std::lock_guard lock(mutex_);
    if (auto found = unwritten_.find(id); found != unwritten_.end()) all += std::string(kAppendStart) + found->second.lines;
  }
  return all;
}

// A state file that cannot be read now: taken for "never tried", it would
// have every recipient delivered again. The message waits instead.
void Scheduler::unreadable_state(const std::string& id, const Error& error) {
  spdlog::error("event=state_file_error queue_id={} detail={} retry_in={}s", id, log_value(error.detail),
                retry_.retry_interval.count());
  defer(id, clock_.now() + retry_.retry_interval);
}

// Appends records to the state file. When that fails (a disk error), they
// are kept in memory and written with the next ones: until then this
// process reads them as if they were written, and does not repeat what they
// record. What was written goes into `round` (to be written again should
// the sync that follows fail), with the DSNs it names (released once that
// sync succeeds).
bool Scheduler::write_state(const std::string& id, std::string lines, std::vector<std::string> dsns, Round& round) {
  {
    std::lock_guard lock(mutex_);
    if (auto found = unwritten_.find(id); found != unwritten_.end()) {
      lines = found->second.lines + lines;
      dsns.insert(dsns.begin(), found->second.dsns.begin(), found->second.dsns.end());
      unwritten_.erase(found);
    }
  }
  if (auto appended = append_state(fs_, spool_.state_path(id), lines); !appended) {
    spdlog::warn("event=state_write_failed queue_id={} detail={}", id, log_value(appended.error().detail));
    std::lock_guard lock(mutex_);
    unwritten_[id] = {std::move(lines), std::move(dsns)};
    return false;
  }
  round.written.emplace_back(id, std::move(lines));
  for (auto& dsn : dsns) round.held.emplace_back(std::move(dsn), id);
  return true;
}

// The message has left the queue: nothing of it is kept, and the DSNs it
// held are released (Spool::recover_held would release them too).
void Scheduler::forget(const std::string& id, std::vector<std::string> dsns, Round& round) {
  {
    std::lock_guard lock(mutex_);
    if (auto found = unwritten_.find(id); found != unwritten_.end()) {
      dsns.insert(dsns.end(), found->second.dsns.begin(), found->second.dsns.end());
      unwritten_.erase(found);
    }
  }
  for (auto& dsn : dsns) round.held.emplace_back(std::move(dsn), id);
}

// The next attempt a state file asks for, when it is still to come. A time
// further away than the longest retry interval was not written by this
// schedule (a damaged state file, or a clock that was far ahead): the
// message is tried now rather than left waiting for ever.
std::optional<TimePoint> Scheduler::believable_due(std::time_t next_attempt) const {
  auto now_t = std::chrono::system_clock::to_time_t(clock_.now());
  if (next_attempt <= now_t) return std::nullopt;
  if (next_attempt - now_t > retry_.max_retry_interval.count()) {
    spdlog::warn("event=state_file_error detail={}", log_value(fmt::format("next attempt {} too far ahead", next_attempt)));
    return std::nullopt;
  }
  return std::chrono::system_clock::from_time_t(next_attempt);
}

// A queue file that could not be loaded. One that can never be a message is
// set aside in corrupt/ (never deleted); one that cannot be read now (out of
// descriptors, an I/O error) is tried again on the retry schedule rather
// than forgotten until the next start; one that is gone is forgotten.
void Scheduler::unloadable(const std::string& id, const Error& error) {
  if (queue_file_missing(error)) {
    // Removed behind tern's back (by hand): nothing left to try.
    spdlog::warn("event=queue_file_missing queue_id={}", id);
    fs_.unlink(spool_.state_path(id));
    return;
  }
  if (queue_file_corrupt(error)) {
    ++corrupt_files_;
    auto set_aside = spool_.set_aside(id);
    spdlog::error("event=queue_file_corrupt queue_id={} detail={} moved_to={}", id, log_value(error.detail),
                  set_aside ? "corrupt/" + id : log_value("nowhere: " + set_aside.error().detail));
    if (set_aside) return;
  } else {
    spdlog::error("event=queue_file_error queue_id={} detail={} retry_in={}s", id, log_value(error.detail),
                  retry_.retry_interval.count());
  }
  defer(id, clock_.now() + retry_.retry_interval);
}

// Only recipients that were not tried are left: the message comes back
// soon, without an attempt recorded (no step on the retry schedule). What
// else happened is recorded.
bool Scheduler::park(const std::string& id, std::string lines, std::vector<std::string> dsns, Round& round) {
  bool recorded = !lines.empty() && write_state(id, std::move(lines), std::move(dsns), round);
  defer(id, clock_.now() + kParkedRetry);
  return recorded;
}

void Scheduler::on_finished(DeliveryPtr delivery) {
  {
    std::lock_guard lock(mutex_);
    finished_.push_back(std::move(delivery));
  }
  wake_.notify_one();
}

void Scheduler::record(const std::vector<DeliveryPtr>& finished) {
  auto& syncer = spool_.syncer();
  auto failures = syncer.failures();
  bool recorded = false;
  Round round;
  for (const auto& delivery : finished) recorded |= finish(*delivery, round);
  {
    std::lock_guard lock(mutex_);
    active_ -= finished.size();
    for (const auto& delivery : finished) in_flight_.erase(delivery->message().id);
  }
  wake_.notify_one();  // room for more ready messages
  // A recipient recorded as done is never tried again, even after a crash:
  // make the records durable (one sync for all). A sync that failed (here
  // or on another thread) may have dropped them: write them again, then
  // sync, a few times (records may repeat: reading them is idempotent).
  bool durable = !recorded;
  for (int tries = 0; recorded && tries < 3 && !durable; ++tries) {
    auto synced = syncer.sync();
    durable = synced && syncer.failures() == failures;
    if (durable) break;
    failures = syncer.failures();
    spdlog::warn("event=state_sync_failed records={} detail={}", round.written.size(),
                 log_value(synced ? "another sync failed meanwhile" : synced.error().detail));
    round = write_again(std::move(round));
  }
  if (durable) {
    release_dsns(round.held);
    return;
  }
  // The DSNs stay held until their records are written (or the next start
  // decides, Spool::recover_held).
  std::lock_guard lock(mutex_);
  for (auto& [dsn, parent] : round.held) unwritten_[parent].dsns.push_back(std::move(dsn));
}

// The records of a round whose sync failed, written again; the DSNs they
// name stay with them (held until they are written).
Scheduler::Round Scheduler::write_again(Round round) {
  Round again;
  for (auto& written : round.written) {
    const auto& id = written.first;
    std::vector<std::string> dsns;
    std::erase_if(round.held, [&](auto& held) {
      if (held.second != id) return false;
      dsns.push_back(std::move(held.first));
      return true;
    });
    write_state(id, std::move(written.second), std::move(dsns), again);
  }
  // DSNs of messages that left the queue have no record to wait for.
  again.held.insert(again.held.end(), round.held.begin(), round.held.end());
  return again;
}

// The DSNs of this round, recorded by their messages, join the queue.
void Scheduler::release_dsns(const std::vector<std::pair<std::string, std::string>>& held) {
  for (const auto& [dsn, parent] : held) {
    if (auto released = spool_.release(dsn, parent); !released) {
      spdlog::error("event=dsn_release_failed queue_id={} dsn_queue_id={} detail={}", parent, dsn,
                    log_value(released.error().detail));
      continue;  // held until the next start
    }
    enqueue(dsn, true);
  }
}

// Sends the DSNs this attempt calls for (held until its records are
// durable: bouncer.h; their ids go to `dsns`) and returns the records that
// say so. Failed
// recipients whose bounce cannot be queued go back to `deferred`.
std::string Scheduler::notify(Delivery& a, Outcomes& o, std::vector<std::string>& dsns, std::time_t now_t) {
  const auto& message = a.message();
  std::string lines;
  auto held = [&](const std::optional<std::string>& dsn) {
    if (dsn) dsns.push_back(*dsn);
  };
  if (!o.failed.empty()) {
    if (auto sent = bouncer_.notify(message, DsnKind::kFailure, o.failed, now_t); sent) {
      std::string indexes;
      for (const auto& f : o.failed) {
        a.state().done[f.index] = true;
        a.state().failed[f.index] = true;
        indexes += fmt::format(" {}", f.index);
        if (!*sent) lines += state_record(fmt::format("done {}", f.index));
      }
      if (*sent) lines += state_record(fmt::format("bounced {}{}", **sent, indexes));
      held(*sent);
    } else {
      // The sender must hear of it: keep the recipients and try again.
      spdlog::error("event=dsn_failed queue_id={} detail={}", message.id, log_value(sent.error().detail));
      o.deferred.insert(o.deferred.end(), o.failed.begin(), o.failed.end());
    }
  }
  // RFC 3461 4.1 NOTIFY=SUCCESS. Not retried: the recipient has its mail.
  if (!o.succeeded.empty()) {
    auto sent = bouncer_.notify(message, DsnKind::kSuccess, o.succeeded, now_t);
    if (!sent) spdlog::error("event=dsn_failed queue_id={} detail={}", message.id, log_value(sent.error().detail));
    if (sent && *sent) lines += state_record("notified " + **sent);
    if (sent) held(*sent);
  }
  // As for expiry (finish()): a released message's time counts from its release.
  auto arrived_at = std::max(queue_id_time(message.id), a.state().released_at);
  auto arrival = arrived_at ? std::chrono::system_clock::from_time_t(arrived_at) : clock_.now();
  if (!o.deferred.empty() && delay_warning_due(retry_, arrival, clock_.now(), a.state().delay_warned)) {
    for (auto& d : o.deferred) d.will_retry_until = std::chrono::system_clock::to_time_t(retry_until(retry_, arrival));
    if (auto sent = bouncer_.notify(message, DsnKind::kDelay, o.deferred, now_t)) {
      lines += state_record(*sent ? "warned " + **sent : "warned");
      held(*sent);
    }
  }
  return lines;
}

// Sorts the outcomes of an attempt: delivered (done), failed, deferred,
// and which delivered ones asked for a success DSN.
Scheduler::Outcomes Scheduler::sort_outcomes(Delivery& a, std::time_t now_t) {
  const auto& id = a.message().id;
  const auto& recipients = a.message().envelope.recipients;
  Outcomes o;
  for (std::size_t k = 0; k < a.pending().size(); ++k) {
    auto index = a.pending()[k];
    auto rcpt = log_value(recipients[index].mailbox.to_string());
    const auto& outcome = a.outcomes()[k];
    if (outcome.not_attempted) {
      spdlog::debug("event=parked queue_id={} rcpt={} detail={}", id, rcpt, log_value(outcome.result.error().text));
      o.parked = true;
      continue;
    }
    auto kind = static_cast<std::size_t>(outcome.kind);
    if (outcome.result) {
      spdlog::info("event=delivered queue_id={} rcpt={} path={}", id, rcpt, log_value(*outcome.result));
      metrics::metrics().delivered[kind].add();
      if (auto arrival = queue_id_time(id)) {
        metrics::metrics().delivery_latency.observe(static_cast<double>(std::max<std::time_t>(0, now_t - arrival)));
      }
      o.done.push_back(index);
      if (outcome.success && wants_dsn(recipients[index], DsnKind::kSuccess)) {
        o.succeeded.push_back({index, *outcome.success, "2.0.0", outcome.remote_mta, "", "smtp", now_t, 0});
      }
      continue;
    }
    const auto& error = outcome.result.error();
    // RFC 3464 2.3.6: "smtp" for a server's reply; tern's own words get a
    // type of their own.
    DsnRecipient d{index, error.permanent() ? DsnAction::kFailed : DsnAction::kDelayed, error.enhanced,
                   outcome.remote_mta, outcome.own_words ? error.text : describe(error),
                   outcome.own_words ? "x-tern" : "smtp", now_t, 0};
    spdlog::warn("event={} queue_id={} rcpt={} reply={} status={} detail={}", error.permanent() ? "failed" : "deferred",
                 id, rcpt, error.code, log_value(d.status.empty() ? "-" : d.status),
                 log_value(error.detail.empty() ? error.text : error.detail));
    (error.permanent() ? o.failed : o.deferred).push_back(std::move(d));
    (error.permanent() ? metrics::metrics().bounced : metrics::metrics().deferred)[kind].add();
    o.kinds.emplace(index, outcome.kind);
    o.replies.emplace_back(index, describe(error));
  }
  return o;
}

// Sorts the outcomes, sends the DSNs that are due, records it all, then
// removes or re-schedules the message. True when something was recorded.
bool Scheduler::finish(Delivery& a, Round& round) {
  const auto& id = a.message().id;
  auto now = clock_.now();
  auto now_t = std::chrono::system_clock::to_time_t(now);
  auto o = sort_outcomes(a, now_t);
  if (take_request(id, to_remove_)) {
    drop(id, round);
    return true;
  }
  // Its lifetime counts from its arrival, or from its release when it was
  // held (tern queue release).
  auto arrived_at = std::max(queue_id_time(id), a.state().released_at);
  auto arrival = arrived_at ? std::chrono::system_clock::from_time_t(arrived_at) : now;
  if (!o.deferred.empty() && expired(retry_, arrival, now)) {
    for (auto& d : o.deferred) {
      spdlog::warn("event=expired queue_id={} rcpt={}",
                   id, log_value(a.message().envelope.recipients[d.index].mailbox.to_string()));
      metrics::metrics().expired[static_cast<std::size_t>(o.kinds[d.index])].add();
      expire(d);
      o.failed.push_back(std::move(d));
    }
    o.deferred.clear();
  }
  note_recent(a, o, now_t);
  std::string lines;
  for (auto index : o.done) {
    a.state().done[index] = true;
    lines += state_record(fmt::format("done {}", index));
  }
  std::vector<std::string> dsns;
  lines += notify(a, o, dsns, now_t);
  if (a.state().pending().empty()) {
    // Gone from the queue; the caller's sync makes that durable (until it
    // is, a crash would bring the message back and repeat its last
    // deliveries).
    spool_.remove(id);
    forget(id, std::move(dsns), round);
    index_.erase(id);
    return true;
  }
  lines += reply_records(a, o, now_t);
  if (o.deferred.empty() && o.parked) return park(id, std::move(lines), std::move(dsns), round);
  auto next = next_attempt(retry_, arrival, now, a.state().attempts + 1);
  lines += state_record(fmt::format("attempt {}", std::chrono::system_clock::to_time_t(next)));
  write_state(id, std::move(lines), std::move(dsns), round);
  ++a.state().attempts;
  index_attempt(a);
  std::vector<std::string> domains;
  for (auto index : a.state().pending()) {
    auto domain = to_lower(a.message().envelope.recipients[index].mailbox.domain);
    if (std::find(domains.begin(), domains.end(), domain) == domains.end()) domains.push_back(domain);
  }
  defer(id, next, std::move(domains));
  return true;
}

}  // namespace tern::queue
