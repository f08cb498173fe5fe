#pragma once
// dns::Lookup with a deadline: a check (SPF, DKIM keys, DMARC) has
// limits.check_timeout in all, however many queries it asks. A query still
// unanswered at the deadline is given up, and every later one fails at
// once: the check ends promptly with a temporary error.
#include <chrono>

#include "dns/lookup.h"

namespace tern::mailauth {

class DeadlineLookup : public dns::Lookup {
 public:
  explicit DeadlineLookup(dns::Lookup& inner) : inner_(inner) {}
  void set_deadline(std::chrono::steady_clock::time_point deadline) { deadline_ = deadline; }
  boost::asio::awaitable<dns::Answer> lookup(std::string name, dns::RecordType type) override;

 private:
  dns::Lookup& inner_;
  std::chrono::steady_clock::time_point deadline_{};
};

}  // namespace tern::mailauth
