#include "delivery/smtp_agent.h"

#include <fmt/format.h>

#include <spdlog/spdlog.h>

#include <ctime>

#include "base/log.h"
#include "delivery/loop_check.h"
#include "srs/srs.h"

namespace tern::delivery {

// The reverse-path of a forwarded copy: SRS0/SRS1 at the SRS domain. The
// null reverse-path stays null; an address SRS cannot encode within the 64
// octets of a local part (RFC 5321 4.5.3.1.1: the bounce could not come
// back through tern's own parser) is sent unchanged.
proto::Path SmtpAgent::forward_path(const proto::Path& reverse_path) const {
  if (!srs_ || reverse_path.null) return reverse_path;
  auto settings = srs_();
  if (!settings.enabled()) return reverse_path;
  auto sender = reverse_path.mailbox.to_string();
  auto rewritten = srs::forward({settings.secret, settings.domain, settings.max_age}, sender, std::time(nullptr));
  auto at = rewritten.rfind('@');
  if (rewritten == sender || at == std::string::npos) return reverse_path;
  if (at > proto::kMaxLocalPart) {
    spdlog::warn("event=srs_not_rewritten sender={} reason=local_part_too_long", log_value(sender));
    return reverse_path;
  }
  proto::Path out = reverse_path;
  out.mailbox.local_part = rewritten.substr(0, at);
  out.mailbox.domain = rewritten.substr(at + 1);
  return out;
}

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
  message.message.reverse_path = job.forwarded_for.empty() ? envelope.reverse_path : forward_path(envelope.reverse_path);
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
