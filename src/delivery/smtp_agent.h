#pragma once
// The SMTP delivery agent: a job (the recipients of one domain) goes to the
// outbound event loop (remote.h), which delivers it to the domain's MX
// hosts or the smarthost; the outcomes come back from there. A copy that
// an alias forwards carries "Delivered-To: <alias>" so that it is known
// when it comes back (loop_check.h).
#include "delivery/agent.h"
#include "delivery/remote.h"

namespace tern::delivery {

class SmtpAgent : public Agent {
 public:
  explicit SmtpAgent(RemoteDelivery& remote) : remote_(remote) {}
  bool in_batch() const override { return false; }
  void deliver(Job job, queue::DeliveryBatch& batch, Done done) override;

 private:
  RemoteDelivery& remote_;
};

}  // namespace tern::delivery
