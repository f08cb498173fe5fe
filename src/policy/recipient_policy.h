#pragma once
// Which forward-paths this server takes mail for (RFC 5321 3.6, 4.5.1):
// the local domains and their users, and postmaster always. Issue 4 adds
// relaying for [relay] networks; until then every other domain is refused.
#include <set>
#include <string>

#include "base/result.h"
#include "config/config.h"
#include "proto/address.h"

namespace tern::policy {

class RecipientPolicy {
 public:
  explicit RecipientPolicy(const config::Local& local);

  // 250 or 550 5.1.1 (no such user) or 554 5.7.1 (relay access denied).
  Result<void> check(const proto::Path& recipient) const;

  // The mailbox a local recipient is delivered to: "<Postmaster>" (no
  // domain, RFC 5321 4.1.1.3) goes to postmaster at the first local domain.
  proto::Mailbox resolve(const proto::Mailbox& recipient) const;

  bool is_local_domain(std::string_view domain) const;

 private:
  std::set<std::string> domains_;
  std::string primary_domain_;
  std::set<std::string> users_;
  bool accept_any_user_;
};

}  // namespace tern::policy
