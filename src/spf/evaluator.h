#pragma once
// The engine behind check_host(): one Evaluator per check, holding what
// RFC 7208 4.6.4 counts across the whole evaluation (DNS-querying terms,
// void lookups) and what may be asked once (PTR names for "ptr" and %{p}).
// Internal to src/spf; check_host.h is the interface.
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dns/lookup.h"
#include "spf/address.h"
#include "spf/check_host.h"
#include "spf/macro.h"
#include "spf/record.h"

namespace tern::spf::detail {

// RFC 7208 4.6.4.
inline constexpr int kMaxDnsTerms = 10;
inline constexpr int kMaxVoidLookups = 2;
inline constexpr std::size_t kMaxMxNames = 10;
inline constexpr std::size_t kMaxPtrNames = 10;

struct Evaluation {
  Result result = Result::kNeutral;
  std::string mechanism;
  std::string detail;
  // A fail from a mechanism: the exp= of the record that holds it, and the
  // <domain> it is expanded for (RFC 7208 6.2: not across include, and a
  // redirect drops the redirecting record's exp=).
  std::optional<std::string> exp;
  std::string exp_domain;
};

// What one mechanism gave: a match, no match, or an error that ends the check.
struct Match {
  bool matched = false;
  std::optional<Result> error;  // kTempError or kPermError
  std::string detail;
};

class Evaluator {
 public:
  Evaluator(dns::Lookup& dns, const Request& request);

  // RFC 7208 4: the result for `domain`, recursing for include and redirect.
  boost::asio::awaitable<Evaluation> check_host(std::string domain);
  // RFC 7208 6.2: the explanation of a fail.
  boost::asio::awaitable<std::string> explanation(const Evaluation& evaluation);

 private:
  boost::asio::awaitable<Evaluation> evaluate(const Record& record, std::string domain);
  boost::asio::awaitable<Evaluation> redirect(const std::string& spec, const std::string& domain);
  boost::asio::awaitable<Match> match(const Mechanism& mechanism, const std::string& domain);
  boost::asio::awaitable<Match> match_include(const std::string& target);
  boost::asio::awaitable<Match> match_a(const std::string& target, const Mechanism& mechanism);
  boost::asio::awaitable<Match> match_mx(const std::string& target, const Mechanism& mechanism);
  boost::asio::awaitable<Match> match_ptr(const std::string& target);
  boost::asio::awaitable<Match> match_exists(const std::string& target);

  // A domain-spec expanded into a name to query; "" spec = `domain`.
  // nullopt: no valid name results (treated as non-existent).
  boost::asio::awaitable<std::optional<std::string>> target(const std::string& spec, const std::string& domain);
  // RFC 7208 5.5: the client's PTR names (the first 10), asked once.
  boost::asio::awaitable<std::vector<std::string>> ptr_names();
  // RFC 7208 5.5: does `name` have an address equal to the client's?
  boost::asio::awaitable<bool> validates(const std::string& name);
  // RFC 7208 7.3: %{p} for `domain`.
  boost::asio::awaitable<std::string> validated_name(const std::string& domain);
  // RFC 7208 4.6.4: counts a void answer; true when over the limit.
  bool void_over_limit(const dns::Answer& answer, dns::RecordType type);

  dns::Lookup& dns_;
  ClientAddress client_;
  MacroContext context_;
  int dns_terms_ = 0;
  int void_lookups_ = 0;
  std::optional<std::vector<std::string>> ptr_names_;
};

}  // namespace tern::spf::detail
