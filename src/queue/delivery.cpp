#include "queue/delivery.h"

namespace tern::queue {

Delivery::Delivery(QueuedMessage message, DeliveryState state, Finished finished)
    : message_(std::move(message)),
      state_(std::move(state)),
      pending_(state_.pending()),
      outcomes_(pending_.size(), {Error{451, "4.3.0", "Local error in processing", "no outcome"}, ""}),
      in_batch_(pending_.size(), false),
      finished_(std::move(finished)) {}

void Delivery::set(std::size_t k, RecipientOutcome outcome) {
  outcomes_[k] = std::move(outcome);
  in_batch_[k] = true;
}

Delivery::Part Delivery::part() {
  outstanding_.fetch_add(1, std::memory_order_relaxed);
  return Part(shared_from_this());
}

void Delivery::batch_committed(bool durable) {
  for (std::size_t k = 0; k < outcomes_.size() && !durable; ++k) {
    if (in_batch_[k] && outcomes_[k].result) {
      outcomes_[k] = {Error{451, "4.3.0", "Local error in processing", "delivery not durable"}, ""};
    }
  }
  release();
}

// Parts write distinct outcomes before they release; the last release sees
// all of them (acquire/release on the counter).
void Delivery::release() {
  if (outstanding_.fetch_sub(1, std::memory_order_acq_rel) == 1) finished_(shared_from_this());
}

}  // namespace tern::queue
