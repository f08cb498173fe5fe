#pragma once
// SPF, RFC 7208: may this client send mail for this domain? check_host()
// (RFC 7208 4) evaluates the domain's SPF record against the client's
// address, asking DNS through dns::Lookup (the Resolver in production, a
// zone in memory in tests).
//
//   auto request = spf::mail_from_request(client_ip, "alice@example.org", helo, hostname, now);
//   spf::Outcome outcome = co_await spf::check_host(dns, request);
//   // outcome.result == spf::Result::kFail → 550 5.7.23 with outcome.explanation
//
// The caller bounds the total time (RFC 7208 4.6.4 suggests at least 20 s)
// and maps a timeout to temperror.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <string>
#include <string_view>

#include "dns/lookup.h"

namespace tern::spf {

// RFC 7208 2.6: the seven results.
enum class Result { kNone, kNeutral, kPass, kFail, kSoftFail, kTempError, kPermError };

// "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror":
// the names Authentication-Results (RFC 8601 2.7.2) and Received-SPF use.
std::string_view to_string(Result result);

// The arguments of check_host() (RFC 7208 4.1) and the values only macros use.
struct Request {
  boost::asio::ip::address ip;  // <ip>: the SMTP client
  std::string domain;           // <domain>: the sender's domain, or the HELO name
  std::string sender;           // <sender>: MAIL FROM, or postmaster@HELO (RFC 7208 2.4)
  std::string helo;             // %{h}: the HELO/EHLO argument as given
  std::string receiver;         // %{r}: our host name; "" gives "unknown" (RFC 7208 7.3)
  std::chrono::system_clock::time_point now{};  // %{t}
};

// RFC 7208 2.4: the MAIL FROM identity. `mail_from` is the reverse-path's
// mailbox ("local@domain"); empty (<>) checks postmaster@HELO instead.
Request mail_from_request(const boost::asio::ip::address& ip, std::string_view mail_from, std::string_view helo,
                          std::string_view receiver, std::chrono::system_clock::time_point now);

// RFC 7208 2.3: the HELO identity, <sender> = postmaster@HELO.
Request helo_request(const boost::asio::ip::address& ip, std::string_view helo, std::string_view receiver,
                     std::chrono::system_clock::time_point now);

struct Outcome {
  Result result = Result::kNone;
  // The directive that decided, as written ("-all", "include:_spf.example.com");
  // empty for the default result, none, and errors outside a mechanism.
  std::string mechanism;
  // Fail only: the domain's exp= text (RFC 7208 6.2), or default_explanation().
  std::string explanation;
  // One line for the log and the Authentication-Results comment: where the
  // result came from, or what went wrong (which record, term or lookup).
  std::string detail;
};

// The explanation of a fail without a usable exp= (RFC 7208 6.2).
std::string default_explanation(const Request& request);

// RFC 7208 4. Never throws for bad input or DNS failures. `request` and `dns`
// must outlive the returned awaitable.
boost::asio::awaitable<Outcome> check_host(dns::Lookup& dns, const Request& request);

// RFC 7208 2.3: check_host() on the HELO identity. Takes its arguments by
// value, so it can be spawned without keeping a Request alive.
boost::asio::awaitable<Outcome> check_helo(dns::Lookup& dns, boost::asio::ip::address ip, std::string helo,
                                           std::string receiver, std::chrono::system_clock::time_point now);

}  // namespace tern::spf
