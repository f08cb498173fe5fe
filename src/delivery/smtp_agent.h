#pragma once
// The SMTP delivery agent: a job (the recipients of one domain) goes to the
// outbound event loop (remote.h), which delivers it to the domain's MX
// hosts or the smarthost; the outcomes come back from there. A copy that
// an alias forwards carries "Delivered-To: <alias>" so that it is known
// when it comes back (loop_check.h), and, with [srs] on, a reverse-path
// rewritten at tern's SRS domain (SPF at the next hop checks tern).
#include <functional>

#include "config/config.h"
#include "delivery/agent.h"
#include "delivery/remote.h"

namespace tern::delivery {

class SmtpAgent : public Agent {
 public:
  // `srs`: the current [srs] settings (a reload may change them).
  explicit SmtpAgent(RemoteDelivery& remote, std::function<config::Srs()> srs = {})
      : remote_(remote), srs_(std::move(srs)) {}
  bool in_batch() const override { return false; }
  void deliver(Job job, queue::DeliveryBatch& batch, Done done) override;

 private:
  proto::Path forward_path(const proto::Path& reverse_path) const;

  RemoteDelivery& remote_;
  std::function<config::Srs()> srs_;
};

}  // namespace tern::delivery
