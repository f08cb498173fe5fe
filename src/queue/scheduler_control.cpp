// The scheduler's side of `tern queue` (scheduler.h, "What `tern queue`
// asks"). The control thread calls these while workers deliver: what is in
// memory changes under the scheduler's mutex; what must survive a restart
// (hold, release) is a state record, synced before the answer.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/log.h"
#include "base/text.h"
#include "queue/delivery_state.h"
#include "queue/scheduler.h"

namespace tern::queue {
namespace {

std::string time_now(const Clock& clock) {
  return std::to_string(std::chrono::system_clock::to_time_t(clock.now()));
}

// `domain` itself, or (with `subdomains`) any name below it.
bool in_domain(std::string_view name, std::string_view domain, bool subdomains) {
  if (iequals(name, domain)) return true;
  return subdomains && name.size() > domain.size() + 1 && name[name.size() - domain.size() - 1] == '.' &&
         iequals(name.substr(name.size() - domain.size()), domain);
}

}  // namespace

bool Scheduler::queued(const std::string& id) const {
  return valid_queue_id(id) && fs_.file_size(spool_.active_path(id)).has_value();
}

// queued(), or the error said in `acted`.
bool Scheduler::queued(const std::string& id, Acted& acted) const {
  if (queued(id)) return true;
  acted.errors.push_back(id + ": no such message in the queue");
  return false;
}

// Takes `ids` out of deferred_ (into `deferred`, when given) and, with
// `ready`, out of ready_ too. Called with mutex_ held.
void Scheduler::take_out(const std::set<std::string>& ids, std::set<std::string>* deferred, bool ready) {
  for (auto it = deferred_.begin(); it != deferred_.end();) {
    if (!ids.count(it->second)) {
      ++it;
      continue;
    }
    if (deferred) deferred->insert(it->second);
    deferred_domains_.erase(it->second);
    it = deferred_.erase(it);
  }
  if (ready) std::erase_if(ready_, [&](const Ready& r) { return ids.count(r.id) > 0; });
}

// A released message is tried now, once: out of held_ or deferred_ into
// ready_, or marked there. One in flight is left to its attempt (which,
// having read "held" before the release was written, finds it in
// released_: attempt()).
void Scheduler::ready_now(const std::string& id) {
  std::lock_guard lock(mutex_);
  held_.erase(id);
  take_out({id}, nullptr, false);
  for (auto& ready : ready_) {
    if (ready.id == id) {
      ready.now = true;
      return;
    }
  }
  if (!in_flight_.count(id)) ready_.push_back({id, false, true});
}

bool Scheduler::state_says_held(const std::string& id) {
  auto text = state_text(id);
  return text && parse_state(*text, 0).held;
}

bool Scheduler::take_request(const std::string& id, std::set<std::string>& requests) {
  std::lock_guard lock(mutex_);
  return requests.erase(id) > 0;
}

// One record, durable before the caller answers.
Result<void> Scheduler::record_now(const std::string& id, const std::string& record) {
  Round round;
  if (!write_state(id, state_record(record), {}, round)) return Error{451, "4.3.0", "", "the state file cannot be written"};
  return spool_.syncer().sync();
}

// `tern queue bounce`: every pending recipient fails, in tern's own words.
void Scheduler::cancel(Delivery& delivery) {
  for (std::size_t k = 0; k < delivery.pending().size(); ++k) {
    RecipientOutcome outcome;
    outcome.result = Error{550, "5.0.0", "Delivery cancelled by the administrator", "tern queue bounce"};
    outcome.own_words = true;
    delivery.set(k, std::move(outcome));
  }
}

// `tern queue delete`: out of the queue, no DSN. The DSNs it held for
// records already written are released (their recipients failed before).
void Scheduler::drop(const std::string& id, Round& round) {
  spool_.remove(id);
  forget(id, {}, round);
  index_.erase(id);
  spdlog::info("event=removed queue_id={} by=admin", id);
}

// ETRN (RFC 1985).
std::size_t Scheduler::flush_domain(std::string_view domain, bool subdomains) {
  std::size_t count = 0;
  {
    std::lock_guard lock(mutex_);
    for (auto it = deferred_.begin(); it != deferred_.end();) {
      auto known = deferred_domains_.find(it->second);
      bool match = known == deferred_domains_.end();
      for (std::size_t i = 0; !match && i < known->second.size(); ++i) {
        match = in_domain(known->second[i], domain, subdomains);
      }
      if (!match) {
        ++it;
        continue;
      }
      if (known != deferred_domains_.end()) deferred_domains_.erase(known);
      ready_.push_back({std::move(it->second), false, true});
      it = deferred_.erase(it);
      ++count;
    }
  }
  if (count > 0) wake_.notify_all();
  return count;
}

Acted Scheduler::flush(const std::vector<std::string>& ids) {
  Acted acted;
  std::set<std::string> wanted, deferred;
  for (const auto& id : ids) {
    if (queued(id, acted)) wanted.insert(id);
  }
  {
    std::lock_guard lock(mutex_);
    for (auto it = wanted.begin(); it != wanted.end();) {
      if (held_.count(*it)) {
        acted.errors.push_back(*it + ": held (release it)");
        it = wanted.erase(it);
      } else {
        ++it;
      }
    }
    take_out(wanted, &deferred, false);
    for (const auto& id : deferred) ready_.push_back({id, false, true});
    // Those due already (recovered at a start, not read yet) are tried
    // whatever their state file says.
    for (auto& ready : ready_) {
      if (wanted.count(ready.id)) ready.now = true;
    }
  }
  // Those not deferred were due or in flight already: tried now too.
  acted.done.assign(wanted.begin(), wanted.end());
  wake_.notify_all();
  return acted;
}

Acted Scheduler::hold(const std::vector<std::string>& ids) {
  Acted acted;
  for (const auto& id : ids) {
    if (!queued(id, acted)) continue;
    {
      std::lock_guard lock(mutex_);
      if (held_.count(id)) {
        acted.done.push_back(id);
        continue;
      }
      held_.insert(id);  // no worker starts it from now on
      take_out({id}, nullptr, true);
    }
    index_.set_state(id, "held", 0);
    if (auto recorded = record_now(id, "held " + time_now(clock_)); !recorded) {
      acted.errors.push_back(id + ": held until the next start only: " + recorded.error().detail);
      continue;
    }
    spdlog::info("event=held queue_id={}", id);
    acted.done.push_back(id);
  }
  return acted;
}

Acted Scheduler::release(const std::vector<std::string>& ids) {
  Acted acted;
  for (const auto& id : ids) {
    bool held;
    {
      std::lock_guard lock(mutex_);
      held = held_.count(id) > 0;
    }
    // Just after a start, a held message may not have been read yet: its
    // state file says.
    if (!held && queued(id)) held = state_says_held(id);
    if (!held) {
      acted.errors.push_back(id + (queued(id) ? ": not held" : ": no such message in the queue"));
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      released_.insert(id);  // before the record: an attempt reading "held" now learns of it
    }
    if (auto recorded = record_now(id, "released " + time_now(clock_)); !recorded) {
      acted.errors.push_back(id + ": " + recorded.error().detail);
      continue;
    }
    ready_now(id);
    index_.set_state(id, "active", 0);
    spdlog::info("event=released queue_id={}", id);
    acted.done.push_back(id);
  }
  wake_.notify_all();
  return acted;
}

Acted Scheduler::remove(const std::vector<std::string>& ids) {
  Acted acted;
  Round round;
  bool removed = false;
  for (const auto& id : ids) {
    if (!queued(id, acted)) continue;
    {
      std::lock_guard lock(mutex_);
      held_.erase(id);
      to_bounce_.erase(id);
      if (in_flight_.count(id)) {
        to_remove_.insert(id);  // finish() drops it
        acted.done.push_back(id);
        continue;
      }
      take_out({id}, nullptr, true);
    }
    drop(id, round);
    removed = true;
    acted.done.push_back(id);
  }
  if (removed && spool_.syncer().sync()) release_dsns(round.held);
  return acted;
}

Acted Scheduler::bounce(const std::vector<std::string>& ids) {
  Acted acted;
  for (const auto& id : ids) {
    if (!queued(id, acted)) continue;
    {
      std::lock_guard lock(mutex_);
      to_bounce_.insert(id);
      held_.erase(id);  // bouncing ends a hold
      take_out({id}, nullptr, true);
      // In flight: finish() sends it back at once (defer()).
      if (!in_flight_.count(id)) ready_.push_back({id, false, true});
    }
    spdlog::info("event=bounce_requested queue_id={}", id);
    acted.done.push_back(id);
  }
  wake_.notify_all();
  return acted;
}

metrics::QueueGauges Scheduler::queue_gauges() const {
  auto oldest = index_.oldest_arrival();
  auto now = std::chrono::system_clock::to_time_t(clock_.now());
  return {index_.size(), oldest ? std::max<std::int64_t>(0, now - *oldest) : 0};
}

void Scheduler::index_in_background(std::vector<std::string> ids) {
  indexer_ = std::thread([this, ids = std::move(ids)] {
    for (const auto& id : ids) {
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
      }
      if (index_.find(id)) continue;
      auto now = std::chrono::system_clock::to_time_t(clock_.now());
      if (auto info = read_message_info(fs_, spool_.dir(), id, now)) index_.put_if_absent(std::move(*info));
    }
  });
}

}  // namespace tern::queue
