#include "app/router.h"

#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>
#include <map>

#include "base/text.h"

namespace tern::app {

Router::Router(delivery::Maildir& maildir, const policy::RecipientPolicy& policy,
               boost::asio::io_context& outbound, delivery::RemoteDelivery& remote)
    : maildir_(maildir), policy_(policy), outbound_(outbound), remote_(remote) {}

std::vector<queue::RecipientOutcome> Router::deliver(const queue::QueuedMessage& message,
                                                     const std::vector<std::size_t>& pending,
                                                     queue::DeliveryBatch& batch) {
  std::vector<queue::RecipientOutcome> outcomes(pending.size());
  std::map<std::string, std::vector<std::size_t>> remote;  // domain → positions in `pending`
  for (std::size_t k = 0; k < pending.size(); ++k) {
    const auto& rcpt = message.envelope.recipients[pending[k]].mailbox;
    if (rcpt.domain.empty() || policy_.is_local_domain(rcpt.domain)) {
      outcomes[k] = deliver_local(message, pending[k], batch);
    } else {
      remote[to_lower(rcpt.domain)].push_back(k);
    }
  }
  for (const auto& [domain, positions] : remote) {
    std::vector<std::size_t> indexes;
    for (auto k : positions) indexes.push_back(pending[k]);
    auto results = deliver_remote(message, indexes, domain);
    for (std::size_t j = 0; j < positions.size(); ++j) outcomes[positions[j]] = std::move(results[j]);
  }
  return outcomes;
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

std::vector<queue::RecipientOutcome> Router::deliver_remote(const queue::QueuedMessage& m,
                                                            const std::vector<std::size_t>& indexes,
                                                            const std::string& domain) {
  const auto& envelope = m.envelope;
  delivery::RemoteMessage message;
  message.message.reverse_path = envelope.reverse_path;
  for (auto index : indexes) message.message.recipients.push_back(envelope.recipients[index]);
  struct stat st {};
  ::fstat(m.fd, &st);
  message.message.size = static_cast<std::uint64_t>(st.st_size) - m.offset;
  message.message.body = envelope.params.body;
  message.message.smtputf8 = envelope.params.smtputf8;
  message.message.ret = envelope.params.ret;
  message.message.envid = envelope.params.envid;
  message.fd = m.fd;
  message.offset = m.offset;
  auto outcome =
      boost::asio::co_spawn(outbound_, remote_.deliver(std::move(message), domain), boost::asio::use_future).get();
  std::vector<queue::RecipientOutcome> out;
  for (const auto& r : outcome.results) {
    if (r.delivered()) {
      out.push_back({fmt::format("smtp:{}", outcome.connected_to), outcome.remote_mta});
    } else {
      auto detail = outcome.connected_to.empty() ? r.text
                                                 : fmt::format("{} said: {} {}", outcome.connected_to, r.code, r.text);
      out.push_back({Error{r.code, r.status(), r.text, detail}, outcome.remote_mta});
    }
  }
  out.resize(indexes.size(), {Error{451, "4.3.0", "Local error in processing", "no remote outcome"}, ""});
  return out;
}

}  // namespace tern::app
