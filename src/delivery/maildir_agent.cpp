#include "delivery/maildir_agent.h"

#include <map>

#include "base/text.h"
#include "delivery/loop_check.h"

namespace tern::delivery {

void MaildirAgent::deliver(Job job, queue::DeliveryBatch& batch, Done done) {
  const auto& m = *job.message;
  const auto& envelope = m.envelope;
  auto seen = delivered_to(m);
  std::vector<Outcome> outcomes;
  std::map<std::string, Outcome> mailboxes;  // mailbox directory → its outcome
  for (std::size_t j = 0; j < job.recipients.size(); ++j) {
    auto index = job.recipients[j];
    auto address = to_lower(envelope.recipients[index].mailbox.to_string());
    if (!seen) {
      outcomes.push_back({seen.error(), ""});
      continue;
    }
    if (seen->count(address)) {
      outcomes.push_back({loop_detected(address), ""});
      continue;
    }
    auto dir = maildir_.mailbox_dir(job.mailboxes[j]);
    auto known = mailboxes.find(dir);
    if (known == mailboxes.end()) {
      MaildirMessage message{.queue_id = m.id,
                             .recipient_index = index,
                             .return_path = envelope.reverse_path.null ? "" : envelope.reverse_path.mailbox.to_string(),
                             .fd = m.fd,
                             .offset = m.offset,
                             .binary = envelope.params.body == proto::Body::kBinaryMime,
                             .maybe_delivered = m.maybe_delivered,
                             .delivered_to = address,
                             .size = m.size,
                             .added_headers = m.added_headers};
      known = mailboxes.emplace(dir, Outcome{maildir_.deliver(message, job.mailboxes[j], batch), ""}).first;
    }
    outcomes.push_back(known->second);
  }
  done(std::move(outcomes));
}

}  // namespace tern::delivery
