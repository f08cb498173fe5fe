#include "dns/resolver.h"

#include <arpa/inet.h>

#include <algorithm>
#include <unbound.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "base/metrics.h"

namespace tern::dns {

namespace asio = boost::asio;

namespace {

constexpr int kTypeA = 1;
constexpr int kTypeMx = 15;
constexpr int kTypeAaaa = 28;
constexpr int kClassIn = 1;
constexpr int kRcodeNxDomain = 3;

// "127.0.0.1:5353" → "127.0.0.1@5353"; "[::1]:53" → "::1@53" (unbound's form).
std::string unbound_address(const std::string& server) {
  if (!server.empty() && server.front() == '[') {
    auto close = server.find(']');
    if (close == std::string::npos) return server;
    auto host = server.substr(1, close - 1);
    return close + 2 < server.size() ? host + "@" + server.substr(close + 2) : host;
  }
  auto colon = server.find(':');
  if (colon != std::string::npos && server.find(':', colon + 1) == std::string::npos) {
    return server.substr(0, colon) + "@" + server.substr(colon + 1);
  }
  return server;
}

Error setup_error(std::string what, int rc) {
  return Error{0, "", fmt::format("dns: {}: {}", what, ub_strerror(rc)), ""};
}

}  // namespace

// One finished query: status and raw rdata items.
struct Resolver::Query {
  Status status = Status::kTempFail;
  int ttl = 0;  // seconds, when answered
  std::vector<std::string> rdata;
  std::string detail;
};

Result<std::unique_ptr<Resolver>> Resolver::create(asio::any_io_executor executor, const ResolverConfig& config) {
  ub_ctx* ctx = ub_ctx_create();
  if (!ctx) return Error{0, "", "dns: cannot create the unbound context", ""};
  // A thread, not a forked process, resolves in the background.
  int rc = ub_ctx_async(ctx, 1);
  if (rc == 0 && config.servers.empty()) rc = ub_ctx_resolvconf(ctx, nullptr);
  for (const auto& server : config.servers) {
    if (rc == 0) rc = ub_ctx_set_fwd(ctx, unbound_address(server).c_str());
  }
  // RFC 6761 reserves "test."; unbound answers it locally (NXDOMAIN) unless
  // told not to. Zone edits finalise the context, so they come last.
  if (rc == 0) rc = ub_ctx_zone_remove(ctx, "test.");
  if (rc != 0 && rc != UB_NOERROR) {
    ub_ctx_delete(ctx);
    return setup_error("configuring unbound", rc);
  }
  return std::unique_ptr<Resolver>(new Resolver(std::move(executor), ctx, config.timeout));
}

Resolver::Resolver(asio::any_io_executor executor, ub_ctx* ctx, std::chrono::milliseconds timeout)
    : ctx_(ctx), timeout_(timeout), descriptor_(executor, ub_fd(ctx)), alive_(std::make_shared<bool>(true)) {
  watch();
}

Resolver::~Resolver() {
  *alive_ = false;
  boost::system::error_code ignored;
  descriptor_.cancel(ignored);
  descriptor_.release();  // the descriptor belongs to unbound
  ub_ctx_delete(ctx_);
}

// Whenever unbound's descriptor is readable, let it run its callbacks.
void Resolver::watch() {
  descriptor_.async_wait(asio::posix::stream_descriptor::wait_read,
                         [this, alive = alive_](boost::system::error_code ec) {
                           if (ec || !*alive) return;
                           ub_process(ctx_);
                           if (*alive) watch();
                         });
}

// One query in flight. unbound's callback and our timeout race to finish
// it; whichever comes first completes the caller, the other does nothing.
struct Resolver::Pending {
  explicit Pending(asio::any_io_executor executor) : timer(executor) {}
  std::function<void(Query)> complete;  // resumes the caller through the event loop
  asio::steady_timer timer;
  int id = 0;
  bool done = false;

  void finish(Query q) {
    if (done) return;
    done = true;
    timer.cancel();
    complete(std::move(q));
  }
};

asio::awaitable<Resolver::Query> Resolver::query(std::string name, int type, std::chrono::milliseconds timeout) {
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(Query)>(
      [this, &name, type, timeout](auto handler) {
        auto pending = std::make_shared<Pending>(descriptor_.get_executor());
        // Never resume the caller inside ub_process(): it may start the next
        // query at once.
        pending->complete = [h = std::make_shared<decltype(handler)>(std::move(handler)),
                             ex = descriptor_.get_executor()](Query q) {
          asio::post(ex, [h, q = std::move(q)]() mutable { (*h)(std::move(q)); });
        };
        auto callback = [](void* data, int err, ub_result* result) {
          std::unique_ptr<std::shared_ptr<Pending>> owner(static_cast<std::shared_ptr<Pending>*>(data));
          (*owner)->finish(Resolver::read_result(err, result));
        };
        auto* token = new std::shared_ptr<Pending>(pending);
        int rc = ub_resolve_async(ctx_, name.c_str(), type, kClassIn, token, callback, &pending->id);
        if (rc != 0) {
          delete token;
          Query q;
          q.detail = ub_strerror(rc);
          pending->finish(std::move(q));
          return;
        }
        pending->timer.expires_after(timeout);
        pending->timer.async_wait([this, pending, token, alive = alive_](boost::system::error_code ec) {
          if (ec || pending->done || !*alive) return;
          // unbound will not call back for a cancelled query: free its token.
          if (ub_cancel(ctx_, pending->id) == 0) delete token;
          Query q;
          q.detail = "timeout";
          metrics::metrics().dns_failures.add();
          pending->finish(std::move(q));
        });
      },
      asio::use_awaitable);
}

Resolver::Query Resolver::read_result(int err, ub_result* result) {
  Query q;
  struct CountFailure {
    const Query& q;
    ~CountFailure() {
      if (!q.detail.empty()) metrics::metrics().dns_failures.add();
    }
  } count{q};
  if (result && !result->bogus) q.ttl = result->ttl;
  if (err != 0 || !result) {
    q.detail = ub_strerror(err);
  } else if (result->bogus) {
    q.detail = fmt::format("bogus answer: {}", result->why_bogus ? result->why_bogus : "");
  } else if (result->nxdomain || result->rcode == kRcodeNxDomain) {
    q.status = Status::kNxDomain;
  } else if (result->rcode != 0) {
    q.detail = fmt::format("rcode {}", result->rcode);
  } else if (!result->havedata) {
    q.status = Status::kNoData;
  } else {
    q.status = Status::kOk;
    for (int i = 0; result->data[i]; ++i) q.rdata.emplace_back(result->data[i], result->len[i]);
  }
  if (result) ub_resolve_free(result);
  return q;
}

asio::awaitable<MxAnswer> Resolver::mx(std::string domain) {
  auto q = co_await query(domain, kTypeMx, timeout_);
  MxAnswer answer{q.status, {}, q.detail};
  for (const auto& rdata : q.rdata) {
    MxRecord record;
    if (parse_mx_rdata(rdata, record)) answer.records.push_back(std::move(record));
  }
  if (answer.status == Status::kOk && answer.records.empty()) {
    answer.status = Status::kTempFail;
    answer.detail = "malformed MX records";
  }
  co_return answer;
}

asio::awaitable<AddressAnswer> Resolver::addresses(std::string host) {
  AddressAnswer answer;
  bool nxdomain = false;
  for (int type : {kTypeAaaa, kTypeA}) {
    auto q = co_await query(host, type, timeout_);
    if (q.status == Status::kTempFail) answer.detail = q.detail;
    nxdomain = nxdomain || q.status == Status::kNxDomain;
    for (const auto& rdata : q.rdata) {
      if (type == kTypeA && rdata.size() == 4) {
        asio::ip::address_v4::bytes_type bytes;
        std::copy(rdata.begin(), rdata.end(), bytes.begin());
        answer.addresses.emplace_back(asio::ip::address_v4(bytes));
      } else if (type == kTypeAaaa && rdata.size() == 16) {
        asio::ip::address_v6::bytes_type bytes;
        std::copy(rdata.begin(), rdata.end(), bytes.begin());
        answer.addresses.emplace_back(asio::ip::address_v6(bytes));
      }
    }
  }
  answer.status = !answer.addresses.empty() ? Status::kOk
                  : !answer.detail.empty()  ? Status::kTempFail
                  : nxdomain                ? Status::kNxDomain
                                            : Status::kNoData;
  co_return answer;
}

namespace {

// One rdata item of `type` into `answer`; false when malformed.
bool decode(RecordType type, std::string_view rdata, Answer& answer) {
  switch (type) {
    case RecordType::kA: {
      if (rdata.size() != 4) return false;
      asio::ip::address_v4::bytes_type bytes;
      std::copy(rdata.begin(), rdata.end(), bytes.begin());
      answer.addresses.emplace_back(asio::ip::address_v4(bytes));
      return true;
    }
    case RecordType::kAaaa: {
      if (rdata.size() != 16) return false;
      asio::ip::address_v6::bytes_type bytes;
      std::copy(rdata.begin(), rdata.end(), bytes.begin());
      answer.addresses.emplace_back(asio::ip::address_v6(bytes));
      return true;
    }
    case RecordType::kMx: {
      MxRecord record;
      if (!parse_mx_rdata(rdata, record)) return false;
      answer.mx.push_back(std::move(record));
      return true;
    }
    case RecordType::kTxt: {
      std::string text;
      if (!parse_txt_rdata(rdata, text)) return false;
      answer.texts.push_back(std::move(text));
      return true;
    }
    case RecordType::kPtr: {
      std::string name;
      std::size_t consumed = 0;
      if (!parse_wire_name(rdata, name, consumed) || consumed != rdata.size()) return false;
      answer.names.push_back(std::move(name));
      return true;
    }
  }
  return false;
}

}  // namespace

asio::awaitable<Answer> Resolver::lookup(std::string name, RecordType type) {
  co_return co_await lookup(std::move(name), type, std::chrono::steady_clock::time_point::max());
}

asio::awaitable<Answer> Resolver::lookup(std::string name, RecordType type,
                                         std::chrono::steady_clock::time_point deadline) {
  auto key = std::to_string(static_cast<int>(type)) + " " + name;
  auto now = std::chrono::steady_clock::now();
  if (auto cached = cache_.find(key); cached != cache_.end()) {
    if (cached->second.expires > now) co_return cached->second.answer;
    cache_.erase(cached);
  }
  auto limit = timeout_;
  if (deadline != std::chrono::steady_clock::time_point::max()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    limit = std::clamp(left, std::chrono::milliseconds(1), timeout_);
  }
  auto q = co_await query(std::move(name), static_cast<int>(type), limit);
  Answer answer{.status = q.status, .detail = q.detail};
  // A malformed item is skipped (as a resolver library would drop it);
  // only an answer that had data and kept none is a failure.
  for (const auto& rdata : q.rdata) decode(type, rdata, answer);
  bool kept = !answer.texts.empty() || !answer.addresses.empty() || !answer.mx.empty() || !answer.names.empty();
  if (answer.status == Status::kOk && !kept) {
    answer.status = Status::kTempFail;
    answer.detail = "malformed records";
  }
  if (answer.status != Status::kTempFail && q.ttl > 0) {
    if (cache_.size() >= kCacheEntries) cache_.clear();
    cache_[key] = {answer, now + std::chrono::seconds(std::min(q.ttl, 3600))};
  }
  co_return answer;
}

}  // namespace tern::dns
