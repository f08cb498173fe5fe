#pragma once
// The DNS questions the mail-authentication checks ask (SPF, DKIM, DMARC,
// ARC; RFC 7208 5, RFC 6376 3.6.2, RFC 7489 6.6.3): any name, one record
// type, the answer decoded. The Resolver implements it on libunbound; tests
// use a fake that serves a zone from memory.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "dns/records.h"

namespace tern::dns {

enum class RecordType : std::uint16_t { kA = 1, kPtr = 12, kMx = 15, kTxt = 16, kAaaa = 28 };

struct Answer {
  // kNoData and kNxDomain are both "void lookups" to SPF (RFC 7208 4.6.4).
  Status status = Status::kTempFail;
  // kTxt: one string per record, its character-strings joined with nothing
  // between them (RFC 7208 3.3, RFC 6376 3.6.2.2).
  std::vector<std::string> texts = {};
  // kA, kAaaa.
  std::vector<boost::asio::ip::address> addresses = {};
  // kMx.
  std::vector<MxRecord> mx = {};
  // kPtr: lower case, no trailing dot.
  std::vector<std::string> names = {};
  std::string detail = {};  // why it failed, for the log
};

class Lookup {
 public:
  virtual ~Lookup() = default;
  // `name` without a trailing dot. Never throws: failures are kTempFail.
  virtual boost::asio::awaitable<Answer> lookup(std::string name, RecordType type) = 0;
  // The same, given up (kTempFail) at `deadline` if no answer came by
  // then. (A timer raced against the query with awaitable_operators' ||
  // resumed freed coroutine frames here: the resolver's own timer does it.)
  virtual boost::asio::awaitable<Answer> lookup(std::string name, RecordType type,
                                                std::chrono::steady_clock::time_point deadline) {
    (void)deadline;
    co_return co_await lookup(std::move(name), type);
  }
};

}  // namespace tern::dns
