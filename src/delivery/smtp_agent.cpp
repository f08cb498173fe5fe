#include "delivery/smtp_agent.h"

#include <fmt/format.h>

#include "delivery/loop_check.h"

namespace tern::delivery {

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
  message.prefix += m.added_headers;
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
  remote.done = std::move(done);
  remote_.submit(std::move(remote));
}

}  // namespace tern::delivery
