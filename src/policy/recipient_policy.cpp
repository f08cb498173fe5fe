#include "policy/recipient_policy.h"

#include "base/text.h"

namespace tern::policy {

RecipientPolicy::RecipientPolicy(const LocalRecipients& local, Networks relay_networks)
    : local_(local), relay_networks_(std::move(relay_networks)) {}

Result<void> RecipientPolicy::check(const proto::Path& recipient, const std::string& client_ip,
                                    bool authenticated) const {
  const auto& mailbox = recipient.mailbox;
  if (!mailbox.domain.empty() && !local_.serves(mailbox.domain)) {
    // RFC 6409 / RFC 4954: an authenticated client may send anywhere.
    if (authenticated || relay_networks_.contains(client_ip)) return {};
    return Error{554, "5.7.1", "Relay access denied",
                 "not a local domain and client not in relay networks: " + mailbox.domain};
  }
  // RFC 5321 2.4: local parts are case-sensitive in principle; we match
  // them case-insensitively, as nearly every MTA does.
  if (local_.check(mailbox) != LocalRecipients::Verdict::kUnknown) return {};
  return Error{550, "5.1.1", "Recipient address rejected: User unknown", "no such user: " + mailbox.to_string()};
}

const config::MailStore* RecipientPolicy::store_to_ask(const proto::Path& recipient) const {
  const auto& mailbox = recipient.mailbox;
  // The domain first: for most RCPTs that answers it without the lookups.
  const auto* store = mailbox.domain.empty() ? nullptr : local_.verifying_store(mailbox.domain);
  if (!store || local_.check(mailbox) != LocalRecipients::Verdict::kAskStore) return nullptr;
  return store;
}

}  // namespace tern::policy
