#pragma once
// The session's window on the world (smtp::server::SessionHost): recipient
// and sender policy, the spool, and the mail-authentication checks (SPF at
// MAIL, DKIM while the message streams to the spool, DMARC at end of data).
// One per connection, on the network thread.
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>

#include "mailauth/inbound.h"
#include "net/server.h"
#include "proto/header_filter.h"
#include "smtp/server/session.h"

namespace tern::net {

class SpoolHost : public smtp::server::SessionHost {
 public:
  SpoolHost(const ServerContext& context, SettingsPtr settings, std::string session_id, std::string client_ip,
            config::ListenerRole role);

  Result<void> check_recipient(const proto::Path& recipient, std::string_view login) override;
  Result<void> check_sender(const proto::Path& reverse_path, std::string_view login) override;
  bool defers(smtp::server::PolicyStage stage, const proto::Path& path) override;
  Result<std::size_t> etrn(std::string_view domain, bool subdomains) override;
  Result<std::string> begin_message(const proto::Envelope& given) override;
  Result<void> write_message(std::string_view content) override;
  void discard_message() override;
  std::time_t now() override { return std::time(nullptr); }

  // What defers() said would be decided later, for the session's current
  // stage: the verdict to resume it with.
  boost::asio::awaitable<Result<void>> decide(const smtp::server::Session& session);
  // Group commit; resumes on this connection's executor with the outcome.
  boost::asio::awaitable<Result<void>> commit();

 private:
  boost::asio::awaitable<Result<void>> decide_mail(const smtp::server::Session& session);
  boost::asio::awaitable<Result<void>> decide_data(const smtp::server::Session& session);
  boost::asio::awaitable<void> check_sender(const std::string& helo_name, const proto::Path& path);
  Result<void> store(std::string_view content);
  std::optional<Result<proto::Mailbox>> srs_original(const proto::Mailbox& recipient) const;
  boost::asio::awaitable<Result<std::string>> sign();
  bool forwards_elsewhere(const proto::Envelope& envelope) const;
  std::string seal(const mailauth::Verdict& verdict);
  bool has_signing_keys() const { return settings_->signing && !settings_->signing->empty(); }
  bool is_ours(std::string_view domain) const;
  // Which identities of a relay-network client's message are ours.
  struct RelayedIdentities {
    bool from;    // the From domain
    bool sender;  // the MAIL FROM domain, or the HELO name for <>
  };
  RelayedIdentities relayed_identities(const smtp::server::Session& session);

  const ServerContext& context_;
  SettingsPtr settings_;  // those of the session's start: a reload does not change them
  std::string session_id_;
  std::string client_ip_;
  std::unique_ptr<queue::SpoolWriter> writer_;
  // RFC 8601 5: Authentication-Results claiming our host name are removed.
  std::optional<proto::HeaderFilter> filter_;
  std::string filtered_;
  // SPF, DKIM and DMARC: on "mx" listeners, for mail that is not our
  // users' (see decide_mail).
  std::optional<mailauth::InboundChecks> checks_;
  bool checking_ = false;    // this transaction is checked
  bool from_relay_ = false;  // unauthenticated, from the relay networks
  // DKIM signing of our own users' mail (authenticated or relay networks).
  bool signing_ = false;  // this transaction is signed
  std::optional<mailauth::MessageSigning> signer_;
  // ARC sealing (RFC 8617) of checked mail that an alias forwards elsewhere.
  std::optional<arc::MessageSealer> sealer_;
};

}  // namespace tern::net
