#include "delivery/router.h"

#include <map>
#include <tuple>

#include "base/text.h"

namespace tern::delivery {

void Router::deliver(queue::Delivery& delivery, queue::DeliveryBatch& batch) {
  const auto& message = delivery.message();
  const auto& pending = delivery.pending();
  auto local = local_();
  struct Group {
    Agent* agent = nullptr;
    metrics::Kind kind = metrics::Kind::kSmtp;
    Job job;
    std::vector<std::size_t> positions;  // in pending()
  };
  // Keyed by agent kind, destination and forwarding alias.
  std::map<std::tuple<int, std::string, std::string>, Group> groups;
  for (std::size_t k = 0; k < pending.size(); ++k) {
    const auto& recipient = message.envelope.recipients[pending[k]];
    auto route = local->route(recipient.mailbox);
    Group* group = nullptr;
    if (route && route->store->lmtp()) {
      group = &groups[{1, route->store->text, ""}];
      group->agent = &agents_.lmtp;
      group->kind = metrics::Kind::kLmtp;
      group->job.store = route->store;
    } else if (route && local->check(recipient.mailbox) == policy::LocalRecipients::Verdict::kUnknown) {
      // Not checked at RCPT (tern sendmail, a user removed since): no
      // Maildir is made for a name that is not a user (RFC 3463 X.1.1).
      queue::RecipientOutcome unknown{Error{550, "5.1.1", "Recipient address rejected: User unknown",
                                            "no such user: " + recipient.mailbox.to_string()}, ""};
      unknown.kind = metrics::Kind::kMaildir;
      delivery.set(k, std::move(unknown));
      continue;
    } else if (route) {
      group = &groups[{0, "", ""}];
      group->agent = &agents_.maildir;
      group->kind = metrics::Kind::kMaildir;
    } else {
      auto domain = to_lower(recipient.mailbox.domain);
      auto alias = to_lower(recipient.alias);
      group = &groups[{2, domain, alias}];
      group->agent = &agents_.smtp;
      group->job.domain = domain;
      group->job.forwarded_for = alias;
    }
    group->job.message = &message;
    group->job.recipients.push_back(pending[k]);
    group->job.mailboxes.push_back(route ? route->mailbox : recipient.mailbox);
    group->positions.push_back(k);
  }
  for (auto& [key, group] : groups) {
    if (group.agent->in_batch()) {
      group.agent->deliver(std::move(group.job), batch,
                           [&delivery, positions = group.positions, kind = group.kind, local](auto outcomes) {
                             for (std::size_t j = 0; j < positions.size() && j < outcomes.size(); ++j) {
                               outcomes[j].kind = kind;
                               delivery.set(positions[j], std::move(outcomes[j]));
                             }
                           });
      continue;
    }
    group.agent->deliver(std::move(group.job), batch,
                         [part = delivery.part(), positions = group.positions, kind = group.kind, local](auto outcomes) mutable {
                           for (std::size_t j = 0; j < positions.size() && j < outcomes.size(); ++j) {
                             outcomes[j].kind = kind;
                             part.set(positions[j], std::move(outcomes[j]));
                           }
                           part.done();
                         });
  }
}

}  // namespace tern::delivery
