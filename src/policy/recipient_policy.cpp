#include "policy/recipient_policy.h"

#include "base/text.h"

namespace tern::policy {

RecipientPolicy::RecipientPolicy(const config::Local& local, Networks relay_networks)
    : domains_(local.domains.begin(), local.domains.end()),
      primary_domain_(local.domains.empty() ? "localhost" : local.domains.front()),
      users_(local.users.begin(), local.users.end()),
      accept_any_user_(local.accept_any_user),
      relay_networks_(std::move(relay_networks)) {}

bool RecipientPolicy::is_local_domain(std::string_view domain) const {
  return domains_.count(to_lower(domain)) > 0;
}

Result<void> RecipientPolicy::check(const proto::Path& recipient, const std::string& client_ip,
                                    bool authenticated) const {
  const auto& mailbox = recipient.mailbox;
  if (mailbox.domain.empty()) return {};  // <Postmaster>
  if (!is_local_domain(mailbox.domain)) {
    // RFC 6409 / RFC 4954: an authenticated client may send anywhere.
    if (authenticated || relay_networks_.contains(client_ip)) return {};
    return Error{554, "5.7.1", "Relay access denied",
                 "not a local domain and client not in relay networks: " + mailbox.domain};
  }
  // RFC 5321 2.4: local parts are case-sensitive in principle; we match
  // them case-insensitively, as nearly every MTA does.
  auto local = to_lower(proto::unquote_local_part(mailbox.local_part));
  // RFC 5321 4.5.1: postmaster must exist for every domain.
  if (accept_any_user_ || local == "postmaster" || users_.count(local)) return {};
  return Error{550, "5.1.1", "Recipient address rejected: User unknown", "no such user: " + mailbox.to_string()};
}

proto::Mailbox RecipientPolicy::resolve(const proto::Mailbox& recipient) const {
  if (recipient.domain.empty()) return {"postmaster", primary_domain_};
  return recipient;
}

}  // namespace tern::policy
