#include "policy/sender_login.h"

#include "base/text.h"

namespace tern::policy {

SenderLogins::SenderLogins(std::map<std::string, std::vector<std::string>> extra, char delimiter)
    : extra_(std::move(extra)), delimiter_(delimiter) {}

// "Alice+tag@Example.TEST" -> "alice@example.test".
std::string SenderLogins::base_address(const proto::Mailbox& mailbox) const {
  auto local = to_lower(proto::unquote_local_part(mailbox.local_part));
  auto cut = local.find(delimiter_);
  if (cut != std::string::npos && cut > 0) local.resize(cut);
  return local + "@" + to_lower(mailbox.domain);
}

Result<void> SenderLogins::check(const proto::Path& reverse_path, std::string_view login) const {
  const auto& mailbox = reverse_path.mailbox;
  if (reverse_path.null) return {};  // <>: bounces and receipts
  auto address = base_address(mailbox);
  auto user = to_lower(login);
  if (address == user) return {};
  if (auto it = extra_.find(user); it != extra_.end()) {
    auto domain = "@" + to_lower(mailbox.domain);
    for (const auto& allowed : it->second) {
      if (allowed == address || allowed == domain) return {};
    }
  }
  return Error{553, "5.7.1", "Sender address rejected: not owned by user " + user,
               "login " + user + " may not send as " + mailbox.to_string()};
}

}  // namespace tern::policy
