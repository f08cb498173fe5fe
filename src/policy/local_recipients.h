#pragma once
// Who receives mail here, and where it goes: the local domains ([local]
// and each [domain."x"], whose settings override [local]), their mailboxes
// (the users lists, the users file of `tern user add`, accept_any_user),
// the aliases file, subaddressing (RFC 5233: alice+tag is alice) and the
// role addresses postmaster@ and abuse@ (RFC 5321 4.5.1, RFC 2142).
//
// It answers at three moments. At RCPT: does this recipient exist (550
// 5.1.1 at once rather than a bounce later)? When the message is queued:
// what are its final recipients (aliases expanded, each remembering the
// address it came from)? At delivery: which mail store takes a final
// recipient, and into which mailbox?
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "policy/aliases.h"
#include "proto/envelope.h"

namespace tern::policy {

class LocalRecipients {
 public:
  // What changes while tern runs; each may be null (no aliases, no users
  // file).
  struct Sources {
    std::function<std::shared_ptr<const Aliases>()> aliases;
    std::function<bool(std::string_view address)> is_user;
  };

  LocalRecipients(const config::Local& local, Sources sources);

  // [local] domains and every [domain."x"].
  bool is_local_domain(std::string_view domain) const;
  // A local domain, or one that an "@domain" alias takes whole.
  bool serves(std::string_view domain) const;

  enum class Verdict {
    kExists,
    kUnknown,   // 550 5.1.1
    kAskStore,  // verify_recipients = "lmtp": the store knows
  };
  // At RCPT, for a recipient at a served domain (or <Postmaster>).
  Verdict check(const proto::Mailbox& recipient) const;

  // When the message is queued: the final recipients of `recipient`. One
  // that no alias touches comes back unchanged. Expanded ones keep its
  // NOTIFY, get its address as ORCPT (RFC 3461 4.2, unless the client gave
  // one) and as `alias` (for Delivered-To on forwarded copies). 554 5.4.6
  // for an alias loop.
  Result<std::vector<proto::Recipient>> expand(const proto::Recipient& recipient) const;
  // Every recipient of a message, each final address once (the first
  // wins: sales@ and alice@ both leading to alice get one copy).
  Result<std::vector<proto::Recipient>> expand_all(const std::vector<proto::Recipient>& recipients) const;

  // At delivery: the store of a local final recipient and its mailbox (the
  // local part lower-cased and unquoted, without subaddress); none for a
  // domain that is not local.
  struct Route {
    const config::MailStore* store = nullptr;
    proto::Mailbox mailbox;
    bool verify_at_store = false;  // the domain's verify_recipients
  };
  std::optional<Route> route(const proto::Mailbox& recipient) const;

  // The stores that verify recipients at RCPT, by domain.
  const config::MailStore* verifying_store(std::string_view domain) const;

 private:
  struct Domain {
    std::set<std::string> users;
    bool accept_any_user = false;
    config::MailStore store;
    bool verify = false;
  };

  const Domain* domain(std::string_view name) const;
  Aliases::Lookup lookup() const;
  std::shared_ptr<const Aliases> aliases() const;
  bool is_mailbox(std::string_view address) const;
  std::string redirect(std::string_view address) const;
  // "local@domain", lower-cased and unquoted; <Postmaster> is the
  // postmaster of the first local domain.
  std::string address_of(const proto::Mailbox& mailbox) const;

  std::map<std::string, Domain, std::less<>> domains_;
  std::string primary_domain_;
  std::string delimiter_;
  std::string postmaster_;
  Sources sources_;
};

}  // namespace tern::policy
