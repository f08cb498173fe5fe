#include "mailauth/deadline_lookup.h"

namespace tern::mailauth {

namespace asio = boost::asio;

asio::awaitable<dns::Answer> DeadlineLookup::lookup(std::string name, dns::RecordType type) {
  if (std::chrono::steady_clock::now() >= deadline_) {
    co_return dns::Answer{.status = dns::Status::kTempFail, .detail = "check_timeout"};
  }
  co_return co_await inner_.lookup(std::move(name), type, deadline_);
}

}  // namespace tern::mailauth
