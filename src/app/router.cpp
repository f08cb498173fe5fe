#include "app/router.h"

#include <sys/stat.h>

#include <fmt/format.h>
#include <map>

#include "base/text.h"

namespace tern::app {

Router::Router(delivery::Maildir& maildir, const policy::RecipientPolicy& policy, delivery::RemoteDelivery& remote)
    : maildir_(maildir), policy_(policy), remote_(remote) {}

void Router::deliver(queue::Delivery& delivery, queue::DeliveryBatch& batch) {
  const auto& message = delivery.message();
  const auto& pending = delivery.pending();
  std::map<std::string, std::vector<std::size_t>> remote;  // domain → positions in `pending`
  // Recipients that are one mailbox (Alice@ and alice@, local parts being
  // case-insensitive here) get one copy, as Postfix's local(8) does.
  std::map<std::string, queue::RecipientOutcome> mailboxes;  // mailbox directory → outcome
  for (std::size_t k = 0; k < pending.size(); ++k) {
    const auto& rcpt = message.envelope.recipients[pending[k]].mailbox;
    if (rcpt.domain.empty() || policy_.is_local_domain(rcpt.domain)) {
      auto dir = maildir_.mailbox_dir(policy_.resolve(rcpt));
      auto known = mailboxes.find(dir);
      if (known == mailboxes.end()) known = mailboxes.emplace(dir, deliver_local(message, pending[k], batch)).first;
      delivery.set(k, known->second);
    } else {
      remote[to_lower(rcpt.domain)].push_back(k);
    }
  }
  for (const auto& [domain, positions] : remote) deliver_remote(delivery, positions, domain);
}

queue::RecipientOutcome Router::deliver_local(const queue::QueuedMessage& m, std::size_t index,
                                              queue::DeliveryBatch& batch) {
  const auto& envelope = m.envelope;
  delivery::MaildirMessage message{m.id,
                                   index,
                                   envelope.reverse_path.null ? "" : envelope.reverse_path.mailbox.to_string(),
                                   m.fd,
                                   m.offset,
                                   envelope.params.body == proto::Body::kBinaryMime,
                                   m.maybe_delivered};
  return {maildir_.deliver(message, policy_.resolve(envelope.recipients[index].mailbox), batch), ""};
}

namespace {

// The remote results as the queue records them.
queue::RecipientOutcome outcome_of(const smtp::client::RecipientResult& r, const delivery::RemoteOutcome& outcome) {
  if (r.delivered()) {
    // RFC 3461 4.1: a server without DSN cannot notify of success; we say
    // "relayed" for it. A server with DSN took NOTIFY on.
    std::optional<queue::DsnAction> success;
    if (!outcome.dsn_passed_on) success = queue::DsnAction::kRelayed;
    return {fmt::format("smtp:{}", outcome.connected_to), outcome.remote_mta, success};
  }
  // Whose words: the server's reply, or what tern made of the session.
  auto detail = outcome.connected_to.empty() ? r.text
                : r.in_reply_to.empty()      ? fmt::format("{}: {}", outcome.connected_to, r.text)
                                             : fmt::format("{} said: {} {}", outcome.connected_to, r.code, r.text);
  queue::RecipientOutcome failed{Error{r.code, r.status(), r.text, detail}, outcome.remote_mta};
  failed.not_attempted = outcome.not_attempted;
  failed.own_words = r.in_reply_to.empty();
  return failed;
}

}  // namespace

void Router::deliver_remote(queue::Delivery& delivery, const std::vector<std::size_t>& positions,
                            const std::string& domain) {
  const auto& m = delivery.message();
  const auto& envelope = m.envelope;
  delivery::RemoteJob job;
  auto& message = job.message;
  message.message.reverse_path = envelope.reverse_path;
  for (auto k : positions) message.message.recipients.push_back(envelope.recipients[delivery.pending()[k]]);
  message.message.size = m.size;
  message.message.body = envelope.params.body;
  message.message.smtputf8 = envelope.params.smtputf8;
  message.message.ret = envelope.params.ret;
  message.message.envid = envelope.params.envid;
  message.fd = m.fd;
  message.offset = m.offset;
  job.domain = domain;
  job.done = [part = delivery.part(), positions](delivery::RemoteOutcome outcome) mutable {
    for (std::size_t j = 0; j < positions.size() && j < outcome.results.size(); ++j) {
      part.set(positions[j], outcome_of(outcome.results[j], outcome));
    }
    part.done();
  };
  remote_.submit(std::move(job));
}

}  // namespace tern::app
