#pragma once
// Which envelope senders an authenticated login may use (RFC 6409 6.1: the
// submission server may check the sender against the authenticated
// identity; Postfix: reject_sender_login_mismatch): its own address, with
// any subaddress ("alice+tag@"), the null reverse-path, and the addresses
// or "@domain"s listed for it in [auth.senders].
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "proto/address.h"

namespace tern::policy {

class SenderLogins {
 public:
  // `extra`: login -> addresses or "@domain", all lower-case (config::Auth::senders).
  explicit SenderLogins(std::map<std::string, std::vector<std::string>> extra, char delimiter = '+');

  // {} or 553 5.7.1.
  Result<void> check(const proto::Path& reverse_path, std::string_view login) const;

 private:
  std::string base_address(const proto::Mailbox& mailbox) const;

  std::map<std::string, std::vector<std::string>> extra_;
  char delimiter_;
};

}  // namespace tern::policy
