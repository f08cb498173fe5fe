#pragma once
// The queue runner: takes messages that are durable in active/, delivers the
// recipients that have no final outcome yet, and keeps what happened in the
// message's delivery state (delivery_state.h). Temporary failures are retried
// on the retry schedule (retry.h) until [queue] max_lifetime, then they fail;
// failed recipients get a bounce and deferred ones one delay warning
// (bouncer.h, RFC 3464), as they asked (RFC 3461 NOTIFY). A message leaves
// the queue when every recipient has its final outcome.
//
// Workers take messages in batches and make a batch's local deliveries
// durable together (DeliveryBatch), as the spool's group commit does for
// receipt. Remote deliveries run on their own event loop: a worker starts
// them and goes on; when one is over, a worker records it. At most
// kMaxActive messages are being delivered at once, each holding its queue
// file open.
#include <atomic>
#include <chrono>
#include <ctime>
#include <optional>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.h"
#include "queue/bouncer.h"
#include "queue/delivery.h"
#include "queue/queue_index.h"
#include "queue/queued_message.h"
#include "queue/retry.h"
#include "queue/spool.h"

namespace tern::queue {

// Starts the delivery of the pending recipients (Delivery::pending()):
// local ones before it returns, with `batch`; others later, in Parts.
using DeliverFn = std::function<void(Delivery&, DeliveryBatch& batch)>;

class Scheduler {
 public:
  // The file system and the clock are the spool's.
  Scheduler(Spool& spool, DeliverFn deliver, RetryPolicy retry, std::string hostname, Rng& rng = system_rng());
  ~Scheduler();

  // With no worker thread (the simulator), step() does their work.
  void start(std::size_t workers);
  // One round of a worker, without waiting: records finished deliveries,
  // or starts a batch of the messages that are due. False: nothing to do.
  bool step();
  // When the earliest deferred message is due; none when none is deferred.
  std::optional<TimePoint> next_due();
  // Finishes the batches being delivered and records the deliveries that
  // are over; the rest stays queued. Stop the remote deliveries first.
  void stop();
  // `fresh`: accepted by this process and never tried (see QueuedMessage).
  void enqueue(std::string id, bool fresh = false);
  // ETRN (RFC 1985): the deferred messages with a pending recipient in
  // `domain` (or, with `subdomains`, below it) are tried now. Messages
  // whose domains are not known yet (recovered at start, not tried since)
  // are tried too. Returns how many.
  std::size_t flush_domain(std::string_view domain, bool subdomains);
  // Queue files moved to corrupt/ since the start (for metrics).
  std::size_t corrupt_files() const { return corrupt_files_.load(); }

  // What `tern queue` asks (control/, scheduler_control.cpp). Each acts on
  // the queued messages named and says, per id, what it did or why not.
  // Tried now (not held ones).
  Acted flush(const std::vector<std::string>& ids);
  // Neither delivered nor expired until released; durable (a "held" record).
  Acted hold(const std::vector<std::string>& ids);
  // Held ones go back to delivery, now; their lifetime counts from here.
  Acted release(const std::vector<std::string>& ids);
  // Out of the queue, no DSN; one being delivered goes when that is over.
  Acted remove(const std::vector<std::string>& ids);
  // Every recipient not yet done fails now, 5.0.0, with a DSN as asked.
  Acted bounce(const std::vector<std::string>& ids);
  // Every queued message, as the scheduler last saw it.
  const QueueIndex& index() const { return index_; }
  metrics::QueueGauges queue_gauges() const;
  // Describes the messages found at the start in the background (those not
  // described by an attempt meanwhile).
  void index_in_background(std::vector<std::string> ids);

 private:
  // One round of recording: the state records appended (queue id, lines),
  // to write again should the sync fail; the DSNs held (DSN id, message id)
  // until the records are durable.
  struct Round {
    std::vector<std::pair<std::string, std::string>> written;
    std::vector<std::pair<std::string, std::string>> held;
  };
  // The outcomes of an attempt, sorted.
  struct Outcomes {
    std::vector<std::size_t> done;
    std::vector<DsnRecipient> failed, deferred, succeeded;
    bool parked = false;  // some recipients were not tried (RecipientOutcome::not_attempted)
    std::vector<std::pair<std::size_t, std::string>> replies;  // of deferred and failed ones
    std::map<std::size_t, metrics::Kind> kinds;                 // of deferred and failed ones
  };
  struct Ready {
    std::string id;
    bool fresh;
    bool now = false;  // flushed: tried now, whatever its schedule says
  };
  using DeliveryPtr = std::shared_ptr<Delivery>;

  void run();
  bool next_work(std::vector<Ready>& batch, std::vector<DeliveryPtr>& finished);
  bool take_work(std::vector<Ready>& batch, std::vector<DeliveryPtr>& finished);
  void work(std::vector<Ready>& batch, std::vector<DeliveryPtr>& finished);
  void deliver_batch(const std::vector<Ready>& batch);
  DeliveryPtr attempt(const Ready& ready, DeliveryBatch& durability);
  void on_finished(DeliveryPtr delivery);
  // Records each finished delivery; one sync for all of them.
  void record(const std::vector<DeliveryPtr>& finished);
  // Returns true when it recorded something in the message's state file.
  bool finish(Delivery& delivery, Round& round);
  Outcomes sort_outcomes(Delivery& delivery, std::time_t now_t);
  std::string notify(Delivery& delivery, Outcomes& outcomes, std::vector<std::string>& dsns, std::time_t now_t);
  Round write_again(Round round);
  void release_dsns(const std::vector<std::pair<std::string, std::string>>& held);
  bool park(const std::string& id, std::string lines, std::vector<std::string> dsns, Round& round);
  Result<std::string> state_text(const std::string& id);
  void unreadable_state(const std::string& id, const Error& error);
  bool write_state(const std::string& id, std::string lines, std::vector<std::string> dsns, Round& round);
  void forget(const std::string& id, std::vector<std::string> dsns, Round& round);
  // `domains`: of its pending recipients, for flush_domain(); empty when
  // not known (a message recovered at start and not tried since).
  void defer(const std::string& id, TimePoint when, std::vector<std::string> domains = {});
  std::optional<TimePoint> believable_due(std::time_t next_attempt) const;
  void unloadable(const std::string& id, const Error& error);
  std::string reply_records(Delivery& delivery, const Outcomes& outcomes, std::time_t now_t);
  void index_attempt(Delivery& delivery);
  void note_recent(const Delivery& delivery, const Outcomes& outcomes, std::time_t now_t);
  // scheduler_control.cpp
  bool queued(const std::string& id) const;
  bool queued(const std::string& id, Acted& acted) const;
  void take_out(const std::set<std::string>& ids, std::set<std::string>* deferred, bool ready);
  bool take_request(const std::string& id, std::set<std::string>& requests);
  bool state_says_held(const std::string& id);
  void ready_now(const std::string& id);
  Result<void> record_now(const std::string& id, const std::string& record);
  void cancel(Delivery& delivery);
  void drop(const std::string& id, Round& round);

  Spool& spool_;
  DeliverFn deliver_;
  RetryPolicy retry_;
  FileSystem& fs_;
  const Clock& clock_;
  Bouncer bouncer_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Ready> ready_;
  std::deque<DeliveryPtr> finished_;  // over, not yet recorded
  std::size_t active_ = 0;            // taken from ready_, not yet recorded
  std::multimap<TimePoint, std::string> deferred_;
  std::map<std::string, std::vector<std::string>> deferred_domains_;  // by queue id, for flush_domain()
  // State records a disk error kept from their file, by queue id, and the
  // DSNs held until they are written.
  struct Unwritten {
    std::string lines;
    std::vector<std::string> dsns;
  };
  std::map<std::string, Unwritten> unwritten_;
  // Taken from ready_, not yet recorded (or given up).
  std::set<std::string> in_flight_;
  // `tern queue hold`: out of deferred_ and ready_ until released.
  std::set<std::string> held_;
  // Released by tern queue since an attempt last read their state.
  std::set<std::string> released_;
  // Asked for while the message was in flight (or due): applied at its
  // next attempt or when the one in flight is over.
  std::set<std::string> to_bounce_, to_remove_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
  std::thread indexer_;
  std::atomic<std::size_t> corrupt_files_{0};
  QueueIndex index_;
};

}  // namespace tern::queue
