#pragma once
// The checks of mail arriving from other servers ("mx" listeners): SPF at
// MAIL (RFC 7208), DKIM while the message streams in (RFC 6376: the body
// hashes run as it is written to the spool), DMARC at end of data (RFC
// 7489), and what their results decide: the message is rejected, deferred,
// or delivered with an Authentication-Results field (RFC 8601).
//
// One object per SMTP session, on the network thread:
//   co_await checks.check_sender(helo, "alice@example.org");   // at MAIL
//   checks.begin_message(); checks.feed(bytes)...;              // DATA
//   auto verdict = co_await checks.finish(now);                 // end of data
//   // verdict.reply: the error to give, or ok; verdict.fields: to add
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <optional>
#include <random>
#include <string>

#include "base/result.h"
#include "config/config.h"
#include "dkim/header.h"
#include "arc/verifier.h"
#include "dkim/verifier.h"
#include "dmarc/auth_results.h"
#include "dns/lookup.h"
#include "mailauth/deadline_lookup.h"
#include "spf/check_host.h"

namespace tern::mailauth {

struct InboundOptions {
  std::string authserv_id;  // our host name (RFC 8601 2.5)
  config::Spf spf;
  bool dkim = true;
  config::Dmarc dmarc;
  bool arc = true;  // verify an arriving ARC chain (RFC 8617): arc= in the header, cv= when sealing
  std::chrono::seconds timeout{20};  // per check (limits.check_timeout)
};

struct Verdict {
  Result<void> reply;       // an error: the message is refused with it
  std::string fields;       // Authentication-Results (CRLF), to put in front
  std::string log;          // "spf=pass dkim=pass dmarc=pass" for the queued line
  // The arriving ARC chain (when verified): cv= of a set we add (sealing).
  std::optional<arc::ChainStatus> chain;
};

class InboundChecks {
 public:
  InboundChecks(const InboundOptions& options, dns::Lookup& dns, boost::asio::ip::address client);

  // RFC 7208 2.4: the MAIL FROM identity, or postmaster@HELO for <>.
  // `mail_from` is "local@domain", empty for the null reverse-path.
  boost::asio::awaitable<void> check_sender(std::string helo, std::string mail_from);
  // A message begins (after check_sender): its bytes follow, as stored.
  void begin_message();
  void feed(std::string_view content);
  // The RFC5322.From domain (lower case) once the header section is in;
  // nullopt when there is no single one.
  std::optional<std::string> from_domain();
  // The message is complete: DKIM keys, DMARC, the verdict. With
  // enforce_dmarc false the DMARC result is recorded but refuses nothing
  // (a From domain of ours, from a host allowed to send as it).
  boost::asio::awaitable<Verdict> finish(std::time_t now, bool enforce_dmarc = true);

 private:
  struct DkimOutcome;
  boost::asio::awaitable<std::vector<dkim::SignatureResult>> verify_dkim(std::time_t now);
  boost::asio::awaitable<std::optional<arc::ChainResult>> verify_arc(std::time_t now);
  std::optional<Error> spf_action() const;

  const InboundOptions& options_;
  DeadlineLookup dns_;
  boost::asio::ip::address client_;
  std::mt19937 random_;

  // SPF, from check_sender().
  std::string helo_;
  std::string mail_from_;
  std::optional<spf::Outcome> spf_;
  std::optional<spf::Outcome> helo_spf_;  // RFC 7208 2.3, when MAIL FROM is not <>
  std::string checked_helo_;              // the HELO name helo_spf_ is for

  // The message being received.
  std::optional<dkim::Verifier> verifier_;
  std::optional<arc::Verifier> arc_;
  std::optional<dkim::HeaderSection> headers_;  // for From (DMARC)
};

}  // namespace tern::mailauth
