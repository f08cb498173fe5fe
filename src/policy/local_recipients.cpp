#include "policy/local_recipients.h"

#include "base/text.h"

namespace tern::policy {
namespace {

// RFC 2142 5, RFC 5321 4.5.1: the role addresses every domain must have.
bool is_role(std::string_view local_part) { return local_part == "postmaster" || local_part == "abuse"; }

std::pair<std::string_view, std::string_view> split(std::string_view address) {
  auto at = address.rfind('@');
  return {address.substr(0, at), at == std::string_view::npos ? std::string_view() : address.substr(at + 1)};
}

proto::Mailbox mailbox_of(std::string_view address) {
  auto [local, domain] = split(address);
  return {std::string(local), std::string(domain)};
}

}  // namespace

LocalRecipients::LocalRecipients(const config::Local& local, Sources sources)
    : primary_domain_(local.domains.empty() ? "localhost" : local.domains.front()),
      delimiter_(local.recipient_delimiter),
      postmaster_(to_lower(local.postmaster.empty() ? "postmaster@" + primary_domain_ : local.postmaster)),
      sources_(std::move(sources)) {
  for (const auto& name : local.domains) {
    Domain d{{local.users.begin(), local.users.end()}, local.accept_any_user, local.delivery, false};
    if (auto it = local.domain.find(name); it != local.domain.end()) {
      const auto& over = it->second;
      if (over.users) d.users = {over.users->begin(), over.users->end()};
      if (over.accept_any_user) d.accept_any_user = *over.accept_any_user;
      if (over.delivery) d.store = *over.delivery;
      d.verify = over.verify_recipients;
    }
    domains_.emplace(name, std::move(d));
  }
}

const LocalRecipients::Domain* LocalRecipients::domain(std::string_view name) const {
  auto it = domains_.find(to_lower(name));
  return it == domains_.end() ? nullptr : &it->second;
}

bool LocalRecipients::is_local_domain(std::string_view name) const { return domain(name) != nullptr; }

bool LocalRecipients::serves(std::string_view name) const {
  if (is_local_domain(name)) return true;
  auto table = aliases();
  return table && table->has_catch_all(to_lower(name));
}

std::shared_ptr<const Aliases> LocalRecipients::aliases() const {
  return sources_.aliases ? sources_.aliases() : nullptr;
}

// A mailbox of its own: in the domain's users, the users file, or any
// local part with accept_any_user; with or without its subaddress.
bool LocalRecipients::is_mailbox(std::string_view address) const {
  auto [local, name] = split(address);
  const auto* d = domain(name);
  if (!d) return false;
  if (d->accept_any_user) return true;
  auto is = [&](std::string_view part) {
    return d->users.count(std::string(part)) > 0 ||
           (sources_.is_user && sources_.is_user(std::string(part) + "@" + std::string(name)));
  };
  if (is(local)) return true;
  auto base = strip_subaddress(local, delimiter_);
  return base && is(*base);
}

// postmaster@ and abuse@ of a served domain go to [local] postmaster,
// unless an alias says otherwise (the aliases look first).
std::string LocalRecipients::redirect(std::string_view address) const {
  auto [local, name] = split(address);
  if (!is_role(local) || !serves(name)) return {};
  return postmaster_;
}

Aliases::Lookup LocalRecipients::lookup() const {
  return {[this](std::string_view d) { return is_local_domain(d); },
          [this](std::string_view a) { return is_mailbox(a); },
          [this](std::string_view a) { return redirect(a); }, delimiter_};
}

std::string LocalRecipients::address_of(const proto::Mailbox& mailbox) const {
  if (mailbox.domain.empty()) return "postmaster@" + primary_domain_;
  return to_lower(proto::unquote_local_part(mailbox.local_part)) + "@" + to_lower(mailbox.domain);
}

LocalRecipients::Verdict LocalRecipients::check(const proto::Mailbox& recipient) const {
  if (recipient.domain.empty()) return Verdict::kExists;  // <Postmaster>, RFC 5321 4.1.1.3
  auto address = address_of(recipient);
  auto table = aliases();
  auto look = lookup();
  if (table && table->has(address, look)) return Verdict::kExists;
  auto [local, name] = split(address);
  auto base = strip_subaddress(local, delimiter_);
  if (!redirect(address).empty() || (base && !redirect(*base + "@" + std::string(name)).empty())) {
    return Verdict::kExists;
  }
  // [local] postmaster is a mailbox whether or not it is a user: the role
  // addresses must reach someone (RFC 5321 4.5.1).
  if (is_mailbox(address) || address == postmaster_) return Verdict::kExists;
  const auto* d = domain(name);
  if (d && d->verify) return Verdict::kAskStore;
  return Verdict::kUnknown;
}

Result<std::vector<proto::Recipient>> LocalRecipients::expand(const proto::Recipient& recipient) const {
  const auto& mailbox = recipient.mailbox;
  if (!mailbox.domain.empty() && !serves(mailbox.domain)) return std::vector<proto::Recipient>{recipient};
  auto address = address_of(mailbox);
  static const Aliases kNone;
  auto table = aliases();
  auto finals = (table ? *table : kNone).expand(address, lookup());
  if (!finals) return finals.error();
  if (finals->size() == 1 && finals->front() == address && !mailbox.domain.empty()) {
    return std::vector<proto::Recipient>{recipient};
  }
  std::vector<proto::Recipient> out;
  for (const auto& final : *finals) {
    proto::Recipient r{mailbox_of(final), recipient.params, mailbox.to_string()};
    // RFC 3461 4.2: the address the client named, so that a DSN can say
    // which of its recipients this was.
    if (r.params.orcpt.empty()) r.params.orcpt = "rfc822;" + mailbox.to_string();
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<proto::Recipient>> LocalRecipients::expand_all(const std::vector<proto::Recipient>& recipients) const {
  std::vector<proto::Recipient> out;
  std::set<std::string> seen;
  for (const auto& recipient : recipients) {
    auto finals = expand(recipient);
    if (!finals) return finals.error();
    for (auto& final : *finals) {
      if (seen.insert(to_lower(final.mailbox.to_string())).second) out.push_back(std::move(final));
    }
  }
  return out;
}

std::optional<LocalRecipients::Route> LocalRecipients::route(const proto::Mailbox& recipient) const {
  auto address = address_of(recipient);
  auto [local, name] = split(address);
  const auto* d = domain(name);
  if (!d) return std::nullopt;
  auto base = strip_subaddress(local, delimiter_);
  return Route{&d->store, {base ? *base : std::string(local), std::string(name)}, d->verify};
}

const config::MailStore* LocalRecipients::verifying_store(std::string_view name) const {
  const auto* d = domain(name);
  return d && d->verify ? &d->store : nullptr;
}

}  // namespace tern::policy
