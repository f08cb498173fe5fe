#pragma once
// One delivery attempt of one queued message: the recipients still pending,
// and an outcome for each of them once it is known.
//
// Outcomes come two ways. Local delivery sets them during the scheduler's
// call (set()); they count once the worker's batch is durable. Remote
// delivery works on the outbound event loop and sets them later, from
// another thread, through a Part. The attempt is over when the call has
// returned and every Part is done; then the scheduler records it.
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/metrics.h"
#include "base/result.h"
#include "queue/delivery_state.h"
#include "queue/dsn.h"
#include "queue/queued_message.h"

namespace tern::queue {

// The outcome of one recipient's delivery: where it went (for the log), or
// the reply that refused it (4xx: try again, 5xx: failed).
struct RecipientOutcome {
  Result<std::string> result = std::string();
  std::string remote_mta;  // the server that answered, for DSNs; empty for local delivery
  // What a success notification says of a delivered recipient (RFC 3464
  // 2.3.3): delivered into its mailbox, or relayed to a server without DSN.
  // None when that server took the NOTIFY request on (RFC 3461 4.1).
  std::optional<DsnAction> success = DsnAction::kDelivered;
  // Not tried: its destination had too many messages waiting already. The
  // recipient is tried again shortly, and it costs no attempt.
  bool not_attempted = false;
  // The failure is tern's own verdict on the session (a mail loop, TLS
  // missing), not a reply of the server: DSNs must not say "host said".
  bool own_words = false;
  // Which agent gave it (delivery/router.cpp), for the metrics.
  metrics::Kind kind = metrics::Kind::kSmtp;
};

class Delivery : public std::enable_shared_from_this<Delivery> {
 public:
  // Called once, when the attempt is over (on whichever thread ended it).
  using Finished = std::function<void(std::shared_ptr<Delivery>)>;

  Delivery(QueuedMessage message, DeliveryState state, Finished finished);

  const QueuedMessage& message() const { return message_; }
  DeliveryState& state() { return state_; }
  // Recipient indexes into the envelope; outcome k belongs to pending()[k].
  const std::vector<std::size_t>& pending() const { return pending_; }
  const std::vector<RecipientOutcome>& outcomes() const { return outcomes_; }

  // During the scheduler's call: the outcome of pending()[k], durable with
  // the worker's batch.
  void set(std::size_t k, RecipientOutcome outcome);

  // An asynchronous part of the attempt. Copies share it; done() once.
  class Part {
   public:
    explicit Part(std::shared_ptr<Delivery> delivery) : delivery_(std::move(delivery)) {}
    const QueuedMessage& message() const { return delivery_->message(); }
    // An outcome that is durable already (a remote server's 250).
    void set(std::size_t k, RecipientOutcome outcome) { delivery_->outcomes_[k] = std::move(outcome); }
    void done() { delivery_->release(); }

   private:
    std::shared_ptr<Delivery> delivery_;
  };
  Part part();

  // After the call, once the batch's sync is known: local outcomes that are
  // not durable become temporary failures. Then the call's own share ends.
  void batch_committed(bool durable);

 private:
  void release();

  QueuedMessage message_;
  DeliveryState state_;
  std::vector<std::size_t> pending_;
  std::vector<RecipientOutcome> outcomes_;
  std::vector<bool> in_batch_;  // outcomes set by set(): durable only with the batch
  std::atomic<int> outstanding_{1};  // the scheduler's call, plus one per Part
  Finished finished_;
};

}  // namespace tern::queue
