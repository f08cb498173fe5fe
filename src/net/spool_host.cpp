#include "net/spool_host.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/log.h"
#include "base/text.h"
#include "dmarc/auth_results.h"
#include "srs/srs.h"

namespace tern::net {

namespace asio = boost::asio;
using smtp::server::PolicyStage;

namespace {

// The field's body, after the colon: what claims_authserv_id() reads.
std::string_view field_body(std::string_view field) {
  auto colon = field.find(':');
  return colon == std::string_view::npos ? std::string_view() : field.substr(colon + 1);
}

}  // namespace

SpoolHost::SpoolHost(const ServerContext& context, SettingsPtr settings, std::string session_id,
                     std::string client_ip, config::ListenerRole role)
    : context_(context),
      settings_(std::move(settings)),
      session_id_(std::move(session_id)),
      client_ip_(std::move(client_ip)) {
  const auto& inbound = settings_->inbound;
  bool any = inbound.spf.verify || inbound.dkim || inbound.dmarc.verify;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(client_ip_, ec);
  if (role == config::ListenerRole::kMx && any && context_.inbound_dns && !ec) {
    checks_.emplace(inbound, *context_.inbound_dns, address);
  }
}

// An SRS address of ours (a bounce to mail tern forwarded) is accepted from
// anyone when its hash and age are right: it goes back to the original
// sender. A forged or expired one is refused (tern is no open relay).
Result<void> SpoolHost::check_recipient(const proto::Path& recipient, std::string_view login) {
  if (auto original = srs_original(recipient.mailbox)) {
    if (!*original) return original->error();
    return {};
  }
  return settings_->policy->check(recipient, client_ip_, !login.empty());
}

// nullopt: not an SRS address at our SRS domain.
std::optional<Result<proto::Mailbox>> SpoolHost::srs_original(const proto::Mailbox& recipient) const {
  const auto& srs = settings_->config.srs;
  if (!srs.enabled() || to_lower(recipient.domain) != srs.domain || !srs::is_srs(recipient.local_part)) {
    return std::nullopt;
  }
  auto original = srs::reverse({srs.secret, srs.domain, srs.max_age}, recipient.to_string(), std::time(nullptr));
  if (!original) {
    spdlog::info("event=srs_refused session={} rcpt={} detail={}", session_id_, log_value(recipient.to_string()),
                 log_value(original.error().detail));
    return Result<proto::Mailbox>(original.error());
  }
  auto at = original->rfind('@');
  if (at == std::string::npos) return Result<proto::Mailbox>(Error{550, "5.1.1", "Invalid SRS address", "no domain"});
  return Result<proto::Mailbox>(proto::Mailbox{original->substr(0, at), original->substr(at + 1)});
}

Result<void> SpoolHost::check_sender(const proto::Path& reverse_path, std::string_view login) {
  return settings_->sender_logins->check(reverse_path, login);
}

// RCPT: verify_recipients asks the store. MAIL and end of data: the mail
// checks, and the end of the header filter.
bool SpoolHost::defers(PolicyStage stage, const proto::Path& path) {
  switch (stage) {
    case PolicyStage::kMail: return checks_.has_value() || has_signing_keys();
    case PolicyStage::kRcpt: return context_.verify_recipient && settings_->policy->store_to_ask(path) != nullptr;
    case PolicyStage::kData: return true;
  }
  return false;
}

// (Each co_await into a variable: GCC 12 miscompiles some co_awaits in
// other places, see DESIGN.md.)
asio::awaitable<Result<void>> SpoolHost::decide(const smtp::server::Session& session) {
  auto stage = session.policy_stage();
  if (stage == PolicyStage::kMail) {
    auto verdict = co_await decide_mail(session);
    co_return verdict;
  }
  if (stage == PolicyStage::kData) {
    auto verdict = co_await decide_data(session);
    co_return verdict;
  }
  const auto& recipient = session.policy_path();
  const auto* store = settings_->policy->store_to_ask(recipient);
  if (!store) co_return Result<void>();
  auto verdict = co_await context_.verify_recipient(*store, recipient.mailbox);
  co_return verdict;
}

// Mail from other servers is checked (SPF now); our own users' mail is
// signed instead. Authenticated mail is always our users'. Mail from the
// relay networks is decided at end of data, once From is known (its SPF
// waits until then): see relayed_identities().
asio::awaitable<Result<void>> SpoolHost::decide_mail(const smtp::server::Session& session) {
  bool authenticated = !session.login().empty();
  from_relay_ = !authenticated && settings_->policy->in_relay_networks(client_ip_);
  signing_ = (authenticated || from_relay_) && has_signing_keys();
  checking_ = checks_ && !authenticated;
  if (!checking_ || from_relay_) co_return Result<void>();
  co_await check_sender(session.helo(), session.policy_path());
  co_return Result<void>();
}

asio::awaitable<void> SpoolHost::check_sender(const std::string& helo_name, const proto::Path& path) {
  // Arguments made first: GCC 12 destroys the temporaries of a co_await
  // expression with a conditional in it at the wrong time (a freed
  // coroutine frame resumed later).
  std::string helo = helo_name;
  std::string mail_from = path.null ? "" : path.mailbox.to_string();
  co_await checks_->check_sender(std::move(helo), std::move(mail_from));
}

bool SpoolHost::is_ours(std::string_view domain) const {
  auto lower = to_lower(domain);
  if (settings_->policy->local().serves(lower)) return true;
  return has_signing_keys() && !settings_->signing->for_domain(lower).empty();
}

// The message is complete: the filter gives back what it held, the checks
// decide, and their Authentication-Results go in front of the message.
asio::awaitable<Result<void>> SpoolHost::decide_data(const smtp::server::Session& session) {
  if (filter_) {
    filtered_.clear();
    filter_->finish(filtered_);
    if (auto stored = store(filtered_); !stored) co_return stored;
  }
  if (!writer_) co_return Result<void>();
  std::string signatures;
  if (signer_) {
    auto made = co_await sign();
    if (!made) co_return made.error();
    signatures = std::move(*made);
  }
  std::string added;
  bool enforce_dmarc = true;
  if (checking_ && from_relay_) {
    auto ours = relayed_identities(session);
    checking_ = !(ours.from && ours.sender);
    enforce_dmarc = !ours.from;
  }
  if (checking_) {
    if (from_relay_) co_await check_sender(session.helo(), session.envelope().reverse_path);
    auto verdict = co_await checks_->finish(now(), enforce_dmarc);
    spdlog::info("event=authentication session={} queue_id={} {}", session_id_, session.queue_id(), verdict.log);
    if (!verdict.reply) co_return verdict.reply;
    added = seal(verdict) + verdict.fields;
  }
  added += signatures;
  if (added.empty()) co_return Result<void>();
  co_return writer_->add_headers(added);
}

// A relay-network client may send as our domains: its mail is our users'
// (signed when it has keys, never checked) when both its From domain and
// its sender are ones we serve or sign for. The sender is SPF's identity
// (RFC 7208 2.4): the MAIL FROM domain, the HELO name for <>; a message
// without a From domain (a script's bare note) goes by the sender alone.
// Otherwise the client passes on someone else's mail, which is checked;
// DMARC then refuses nothing for a From domain of ours.
SpoolHost::RelayedIdentities SpoolHost::relayed_identities(const smtp::server::Session& session) {
  const auto& reverse_path = session.envelope().reverse_path;
  bool sender = is_ours(reverse_path.null ? session.helo() : reverse_path.mailbox.domain);
  auto from = checks_->from_domain();
  return {.from = from ? is_ours(*from) : sender, .sender = sender};
}

// RFC 8617 5.1: our ARC set (on top), sealing our verdict into the chain,
// for a message that leaves for another domain. A seal that cannot be made
// is logged and the message goes unsealed (it is not refused).
std::string SpoolHost::seal(const mailauth::Verdict& verdict) {
  if (!sealer_ || !verdict.chain) return "";
  auto set = sealer_->finish({.chain = *verdict.chain, .authentication_results = verdict.fields, .now = now()});
  if (!set) {
    spdlog::warn("event=arc_seal_failed session={} detail={}", session_id_, log_value(set.error().detail));
    return "";
  }
  if (set->instance == 0) return "";
  spdlog::info("event=arc_sealed session={} instance={}", session_id_, set->instance);
  std::string fields;
  for (const auto& field : set->fields) fields += field;
  return fields;
}

// A recipient that an alias leads to another domain: the copy is forwarded.
bool SpoolHost::forwards_elsewhere(const proto::Envelope& envelope) const {
  for (const auto& r : envelope.recipients) {
    if (!r.alias.empty() && !settings_->policy->local().serves(r.mailbox.domain)) return true;
  }
  return false;
}

// RSA signing takes about a millisecond: on the worker that checks
// passwords, not on the network thread.
asio::awaitable<Result<std::string>> SpoolHost::sign() {
  auto executor = co_await asio::this_coro::executor;
  co_await asio::post(context_.password_check.executor, asio::use_awaitable);
  auto signatures = signer_->finish(now());
  co_await asio::post(executor, asio::use_awaitable);
  if (!signatures) {
    spdlog::error("event=dkim_sign_failed session={} detail={}", session_id_, log_value(signatures.error().text));
    co_return Error{451, "4.7.0", "Local error in processing", signatures.error().text};
  }
  if (!signer_->domain().empty()) {
    spdlog::info("event=dkim_signed session={} domain={}", session_id_, signer_->domain());
  }
  co_return signatures;
}

// RFC 1985 ETRN, for clients in the relay networks (a secondary MX's
// customers), for domains that are not delivered here.
Result<std::size_t> SpoolHost::etrn(std::string_view domain, bool subdomains) {
  auto node = std::string(subdomains ? "@" : "") + std::string(domain);
  if (!settings_->policy->in_relay_networks(client_ip_)) {
    return Error{459, "4.7.1", fmt::format("Node {} not allowed: client not in relay networks", node), ""};
  }
  if (settings_->policy->local().serves(domain)) {
    return Error{459, "4.7.1", fmt::format("Node {} not allowed: its mail is delivered here", node), ""};
  }
  auto count = context_.scheduler.flush_domain(domain, subdomains);
  spdlog::info("event=etrn session={} node={} messages={}", session_id_, log_value(node), count);
  return count;
}

Result<std::string> SpoolHost::begin_message(const proto::Envelope& given) {
  // The queue keeps the final recipients: aliases expanded (as Postfix's
  // cleanup does with virtual aliases).
  auto recipients = settings_->policy->local().expand_all(given.recipients);
  if (!recipients) {
    spdlog::warn("event=alias_error session={} detail={}", session_id_, log_value(recipients.error().detail));
    return recipients.error();
  }
  auto envelope = given;
  envelope.recipients = std::move(recipients.value());
  for (auto& r : envelope.recipients) {  // bounces to SRS addresses go back to the original sender
    if (auto original = srs_original(r.mailbox); original && *original) r.mailbox = **original;
  }
  auto id = context_.spool.new_id();
  auto writer = context_.spool.create(id, envelope);
  if (!writer) {
    spdlog::error("event=spool_error session={} detail={}", session_id_, log_value(writer.error().detail));
    return writer.error();
  }
  writer_ = std::move(writer.value());
  const auto& our_id = settings_->config.hostname;
  filter_.emplace(std::vector<std::string>{"Authentication-Results"}, [&our_id](std::string_view field) {
    return dmarc::claims_authserv_id(field_body(field), our_id);
  });
  if (checking_) checks_->begin_message();
  signer_.reset();
  if (signing_) signer_.emplace(*settings_->signing);
  sealer_.reset();
  if (checking_ && settings_->arc_sealer && forwards_elsewhere(envelope)) sealer_.emplace(*settings_->arc_sealer);
  return id;
}

Result<void> SpoolHost::write_message(std::string_view content) {
  if (!filter_ || filter_->in_body()) return store(content);  // the body needs no filtering copy
  filtered_.clear();
  filter_->feed(content, filtered_);
  return store(filtered_);
}

// The message as delivered: to the spool, and through the checks.
Result<void> SpoolHost::store(std::string_view content) {
  if (!writer_) return Error{451, "4.3.0", "Local error in processing", "no open message"};
  if (content.empty()) return {};
  if (checking_) checks_->feed(content);
  if (signer_) signer_->feed(content);
  if (sealer_) sealer_->feed(content);
  auto written = writer_->write(content);
  if (!written) {
    spdlog::error("event=spool_error session={} detail={}", session_id_, log_value(written.error().detail));
  }
  return written;
}

void SpoolHost::discard_message() {
  writer_.reset();
  filter_.reset();
  signer_.reset();
  sealer_.reset();
}

asio::awaitable<Result<void>> SpoolHost::commit() {
  auto& spool = context_.spool;
  auto& scheduler = context_.scheduler;
  filter_.reset();
  signer_.reset();
  sealer_.reset();
  auto writer = std::move(writer_);
  auto id = writer->id();
  auto executor = co_await asio::this_coro::executor;
  auto result = co_await asio::async_initiate<decltype(asio::use_awaitable), void(Result<void>)>(
      [&](auto handler) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        spool.commit(std::move(writer), [shared, executor, &scheduler, id](Result<void> outcome) {
          if (outcome) scheduler.enqueue(id, true);
          asio::post(executor, [shared, outcome = std::move(outcome)]() mutable { (*shared)(std::move(outcome)); });
        });
      },
      asio::use_awaitable);
  co_return result;
}

}  // namespace tern::net
