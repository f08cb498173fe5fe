#pragma once
// Asynchronous DNS on libunbound, driven by the Asio event loop: unbound's
// one file descriptor is watched for reads and ub_process() runs the
// callbacks. unbound caches answers for their TTL.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "dns/lookup.h"
#include "dns/records.h"

struct ub_ctx;
struct ub_result;

namespace tern::dns {

struct ResolverConfig {
  // "ip:port" or "ip" (port 53) forwarders; empty: /etc/resolv.conf.
  std::vector<std::string> servers;
  // A query unanswered this long is a temporary failure (unbound alone
  // keeps retrying a silent server for much longer).
  std::chrono::milliseconds timeout{10000};
};

struct AddressAnswer {
  Status status = Status::kTempFail;
  std::vector<boost::asio::ip::address> addresses;  // IPv6 first, then IPv4
  std::string detail;
};

class Resolver : public Lookup {
 public:
  // Errors (bad server address, unbound set-up) are start-up failures.
  static Result<std::unique_ptr<Resolver>> create(boost::asio::any_io_executor executor,
                                                  const ResolverConfig& config);
  ~Resolver() override;

  boost::asio::awaitable<MxAnswer> mx(std::string domain);
  // AAAA and A records of a host.
  boost::asio::awaitable<AddressAnswer> addresses(std::string host);
  // Any one type, decoded (lookup.h).
  boost::asio::awaitable<Answer> lookup(std::string name, RecordType type) override;
  boost::asio::awaitable<Answer> lookup(std::string name, RecordType type,
                                        std::chrono::steady_clock::time_point deadline) override;

 private:
  struct Query;
  struct Pending;
  static Query read_result(int err, ub_result* result);
  Resolver(boost::asio::any_io_executor executor, ub_ctx* ctx, std::chrono::milliseconds timeout);
  boost::asio::awaitable<Query> query(std::string name, int type, std::chrono::milliseconds timeout);
  void watch();

  // Answers of lookup() kept for their TTL (at most an hour), so that the
  // checks of a busy server do not make a round trip to unbound's thread
  // for every message (bench/mail_auth.sh: ~0.3 ms of CPU each). Bounded:
  // emptied when full.
  struct Cached {
    Answer answer;
    std::chrono::steady_clock::time_point expires;
  };
  static constexpr std::size_t kCacheEntries = 10000;
  std::unordered_map<std::string, Cached> cache_;

  ub_ctx* ctx_;
  std::chrono::milliseconds timeout_;
  boost::asio::posix::stream_descriptor descriptor_;
  std::shared_ptr<bool> alive_;
};

}  // namespace tern::dns
