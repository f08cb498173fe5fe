#pragma once
// One interface for every way tern delivers a message: into a Maildir, to
// a mail store over LMTP, to another server over SMTP. The router picks an
// agent per recipient (router.h); the queue sees only outcomes, one per
// recipient, and never which agent ran.
#include <functional>
#include <string>
#include <vector>

#include "config/config.h"
#include "proto/address.h"
#include "queue/delivery.h"
#include "queue/queued_message.h"

namespace tern::delivery {

using Outcome = queue::RecipientOutcome;

// Recipients of one message for one destination of one agent.
struct Job {
  // Valid until the agent calls `done` (the Delivery it belongs to lives
  // that long, its queue file open).
  const queue::QueuedMessage* message = nullptr;
  std::vector<std::size_t> recipients;  // indexes into message->envelope.recipients
  // Local agents: each recipient's mailbox (subaddress removed).
  std::vector<proto::Mailbox> mailboxes;
  // SMTP: the domain; LMTP: the store.
  std::string domain;
  const config::MailStore* store = nullptr;
  // A forward made by an alias: the address it is for, which the copy
  // carries in Delivered-To.
  std::string forwarded_for;
};

class Agent {
 public:
  // One outcome per job recipient, in order; called exactly once.
  using Done = std::function<void(std::vector<Outcome>)>;

  virtual ~Agent() = default;
  // True: `done` is called during deliver(), and the outcomes are durable
  // only with `batch` (Maildir). False: it may be called later, from any
  // thread, and a success is durable already (the other side said 250).
  virtual bool in_batch() const = 0;
  virtual void deliver(Job job, queue::DeliveryBatch& batch, Done done) = 0;
};

}  // namespace tern::delivery
