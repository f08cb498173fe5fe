#pragma once
// Recipient verification against an LMTP store (verify_recipients =
// "lmtp"): at RCPT time, tern asks the store whether it would take the
// recipient, in a session of its own that is reset without sending
// anything (LHLO, MAIL FROM:<>, RCPT TO, RSET, QUIT; RFC 2033). So a domain
// whose users live only in Dovecot still rejects unknown users at RCPT
// (550 5.1.1), never 250 and a bounce. Answers are cached for a short time;
// a store that does not answer gives 451 4.4.3 and is not cached.
//
// Used on the network thread only (the cache has no lock).
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <string>

#include "base/result.h"
#include "config/config.h"
#include "proto/address.h"

namespace tern::delivery {

class RecipientProbe {
 public:
  struct Options {
    std::string helo_name;
    std::chrono::seconds timeout{10};  // the whole probe
    std::chrono::seconds cache_time{30};
    std::size_t max_cached = 10000;
  };
  explicit RecipientProbe(Options options) : options_(std::move(options)) {}

  // 250: it exists. A 5xx: the store's refusal (550 5.1.1 for an unknown
  // user, 552 5.2.2 for a full mailbox). 451 4.4.3: no answer.
  boost::asio::awaitable<Result<void>> verify(const config::MailStore& store, const proto::Mailbox& recipient);

 private:
  boost::asio::awaitable<Result<void>> ask(const config::MailStore& store, const std::string& address);

  struct Cached {
    std::chrono::steady_clock::time_point expires;
    Result<void> verdict;
  };
  Options options_;
  std::map<std::string, Cached> cache_;  // by store and address
};

}  // namespace tern::delivery
