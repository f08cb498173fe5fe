#include "delivery/smtp_agent.h"

#include <fmt/format.h>

#include "delivery/loop_check.h"

namespace tern::delivery {
namespace {

// The remote results as the queue records them.
Outcome outcome_of(const smtp::client::RecipientResult& r, const RemoteOutcome& outcome) {
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
  Outcome failed{Error{r.code, r.status(), r.text, detail}, outcome.remote_mta};
  failed.not_attempted = outcome.not_attempted;
  failed.own_words = r.in_reply_to.empty();
  return failed;
}

}  // namespace

void SmtpAgent::deliver(Job job, queue::DeliveryBatch&, Done done) {
  const auto& m = *job.message;
  const auto& envelope = m.envelope;
  RemoteJob remote;
  auto& message = remote.message;
  if (!job.forwarded_for.empty()) {
    auto seen = delivered_to(m);
    if (!seen || seen->count(job.forwarded_for)) {
      Outcome stop{seen ? loop_detected(job.forwarded_for) : seen.error(), ""};
      stop.own_words = true;
      return done(std::vector<Outcome>(job.recipients.size(), stop));
    }
    message.prefix = fmt::format("Delivered-To: {}\r\n", job.forwarded_for);
  }
  message.message.reverse_path = envelope.reverse_path;
  for (auto index : job.recipients) message.message.recipients.push_back(envelope.recipients[index]);
  message.message.size = m.size + message.prefix.size();
  message.message.body = envelope.params.body;
  message.message.smtputf8 = envelope.params.smtputf8;
  message.message.ret = envelope.params.ret;
  message.message.envid = envelope.params.envid;
  message.fd = m.fd;
  message.offset = m.offset;
  remote.domain = job.domain;
  remote.done = [done = std::move(done), count = job.recipients.size()](RemoteOutcome outcome) {
    std::vector<Outcome> outcomes;
    for (std::size_t j = 0; j < count; ++j) {
      outcomes.push_back(j < outcome.results.size() ? outcome_of(outcome.results[j], outcome)
                                                    : Outcome{Error{451, "4.3.0", "Local error in processing",
                                                                    "no result"}, ""});
    }
    done(std::move(outcomes));
  };
  remote_.submit(std::move(remote));
}

}  // namespace tern::delivery
