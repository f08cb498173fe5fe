// What the scheduler tells `tern queue` of each message as it goes
// (queue_index.h): the description in the index, the last replies (also
// as state records, for a restart) and the latest failures.
#include <map>

#include "queue/delivery_state.h"
#include "queue/retry.h"
#include "queue/scheduler.h"

namespace tern::queue {

// The last reply of each deferred or failed recipient, one record per
// distinct reply; the state in memory says the same (for the index).
std::string Scheduler::reply_records(Delivery& a, const Outcomes& o, std::time_t now_t) {
  std::map<std::string, std::vector<std::size_t>> by_reply;
  for (const auto& [index, text] : o.replies) {
    by_reply[text].push_back(index);
    if (index < a.state().replies.size()) a.state().replies[index] = {now_t, text};
  }
  std::string lines;
  for (const auto& [text, indexes] : by_reply) lines += reply_record(now_t, indexes, text);
  return lines;
}

void Scheduler::note_recent(const Delivery& a, const Outcomes& o, std::time_t now_t) {
  std::map<std::size_t, std::string> replies(o.replies.begin(), o.replies.end());
  const auto& recipients = a.message().envelope.recipients;
  auto note = [&](const DsnRecipient& d, const char* outcome) {
    index_.note({now_t, a.message().id, recipients[d.index].mailbox.to_string(), outcome, replies[d.index]});
  };
  for (const auto& d : o.deferred) note(d, "deferred");
  for (const auto& d : o.failed) note(d, d.status == kExpiredStatus ? "expired" : "failed");
}

void Scheduler::index_attempt(Delivery& a) {
  const auto& message = a.message();
  index_.put(describe(message.id, message.envelope, message.size, a.state(), "active"));
}

}  // namespace tern::queue
