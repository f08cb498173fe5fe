#pragma once
// The Maildir delivery agent: each recipient of a job into its mailbox
// (maildir.h), on the scheduler's worker thread, durable with the worker's
// batch. Recipients that are one mailbox (alice@ and Alice+tag@) get one
// copy, as Postfix's local(8) does.
#include "delivery/agent.h"
#include "delivery/maildir.h"

namespace tern::delivery {

class MaildirAgent : public Agent {
 public:
  explicit MaildirAgent(Maildir& maildir) : maildir_(maildir) {}
  bool in_batch() const override { return true; }
  void deliver(Job job, queue::DeliveryBatch& batch, Done done) override;

 private:
  Maildir& maildir_;
};

}  // namespace tern::delivery
