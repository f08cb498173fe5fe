#pragma once
// Which forward-paths this server takes mail for (RFC 5321 3.6, 4.5.1):
// the local domains and their users, and postmaster always; other domains
// only from clients in [relay] networks (never an open relay).
#include <set>
#include <string>

#include "base/result.h"
#include "config/config.h"
#include "policy/networks.h"
#include "proto/address.h"

namespace tern::policy {

class RecipientPolicy {
 public:
  RecipientPolicy(const config::Local& local, Networks relay_networks);

  // 250 or 550 5.1.1 (no such user) or 554 5.7.1 (relay access denied).
  // `client_ip` is the SMTP client's address as text; an `authenticated`
  // client (SMTP AUTH) may relay as one in the relay networks may.
  Result<void> check(const proto::Path& recipient, const std::string& client_ip, bool authenticated = false) const;

  // The mailbox a local recipient is delivered to: "<Postmaster>" (no
  // domain, RFC 5321 4.1.1.3) goes to postmaster at the first local domain.
  proto::Mailbox resolve(const proto::Mailbox& recipient) const;

  bool is_local_domain(std::string_view domain) const;

 private:
  std::set<std::string> domains_;
  std::string primary_domain_;
  std::set<std::string> users_;
  bool accept_any_user_;
  Networks relay_networks_;
};

}  // namespace tern::policy
