#pragma once
// Which forward-paths this server takes mail for (RFC 5321 3.6, 4.5.1):
// the recipients of its local domains (LocalRecipients), and other domains
// only from clients in [relay] networks or authenticated ones (never an
// open relay).
#include <string>

#include "base/result.h"
#include "policy/local_recipients.h"
#include "policy/networks.h"
#include "proto/address.h"

namespace tern::policy {

class RecipientPolicy {
 public:
  RecipientPolicy(const LocalRecipients& local, Networks relay_networks);

  // 250 or 550 5.1.1 (no such user) or 554 5.7.1 (relay access denied).
  // `client_ip` is the SMTP client's address as text; an `authenticated`
  // client (SMTP AUTH) may relay as one in the relay networks may. A
  // recipient whose store is to be asked (store_to_ask) passes here.
  Result<void> check(const proto::Path& recipient, const std::string& client_ip, bool authenticated = false) const;

  // The LMTP store to ask whether this recipient exists (verify_recipients),
  // when nothing tern knows answers it; null otherwise.
  const config::MailStore* store_to_ask(const proto::Path& recipient) const;

  const LocalRecipients& local() const { return local_; }
  // A client in [relay] networks (it may also ask for ETRN).
  bool in_relay_networks(const std::string& client_ip) const { return relay_networks_.contains(client_ip); }

 private:
  const LocalRecipients& local_;
  Networks relay_networks_;
};

}  // namespace tern::policy
