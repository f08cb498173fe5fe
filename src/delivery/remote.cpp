#include "delivery/remote.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/log.h"
#include "base/text.h"

namespace tern::delivery {
namespace {

namespace asio = boost::asio;
using smtp::client::RecipientResult;

// A connection is not reused after this (smtp_connection_reuse_time_limit).
constexpr auto kReuseTime = std::chrono::seconds(300);

// What one attempt of a job came to, before it becomes the queue's outcomes.
struct RemoteOutcome {
  std::vector<RecipientResult> results;  // one per recipient, in order
  std::string remote_mta;    // the host that gave the results, for DSNs: "mx.example" or "[192.0.2.1]"
  std::string connected_to;  // "host[address]", for the log
  bool dsn_passed_on = false;  // the server does DSN (RFC 3461): NOTIFY and ORCPT went with the recipients
  bool not_attempted = false;
};

// One recipient's result as the queue records it.
queue::RecipientOutcome recipient_outcome(const RecipientResult& r, const RemoteOutcome& outcome) {
  if (r.delivered()) {
    // RFC 3461 4.1: a server without DSN cannot notify of success; we say
    // "relayed" for it. A server with DSN took NOTIFY on.
    std::optional<queue::DsnAction> success;
    if (!outcome.dsn_passed_on) success = queue::DsnAction::kRelayed;
    return {fmt::format("smtp:{}", outcome.connected_to), outcome.remote_mta, success};
  }
  // Whose words: the server's reply, or what tern made of the session.
  auto detail = outcome.connected_to.empty() ? r.text
                : r.in_reply_to.empty()      ? fmt::format("{}: {}", outcome.connected_to, r.text)
                                             : fmt::format("{} said: {} {}", outcome.connected_to, r.code, r.text);
  queue::RecipientOutcome failed{Error{r.code, r.status(), r.text, detail}, outcome.remote_mta};
  failed.not_attempted = outcome.not_attempted;
  failed.own_words = r.in_reply_to.empty();
  return failed;
}

RemoteOutcome failure(std::size_t recipients, const Error& error) {
  return {std::vector<RecipientResult>(recipients, RecipientResult{error.code, error.enhanced, error.text, {}}), "",
          "", false};
}

RemoteOutcome outcome_of(const RemoteConnection& connection, RemoteConnection::Transaction transaction) {
  return {std::move(transaction.results), connection.remote_mta(), connection.connected_to(),
          connection.capabilities().dsn};
}

// RFC 5321 5.1: on a connection that failed, a refusing greeting (like
// Postfix's smtp_skip_5xx_greeting) or a 4xx to EHLO, the next host may do
// better. Never once the message content was sent: it may have arrived.
bool worth_next_host(const RemoteConnection::Transaction& t) {
  if (t.content_sent || t.results.empty()) return false;
  for (const auto& r : t.results) {
    bool setup_failed = r.in_reply_to.empty() || r.in_reply_to == "greeting";
    if (!setup_failed || !(r.temporary() || r.in_reply_to == "greeting")) return false;
  }
  return true;
}

bool all_temporary(const std::vector<RecipientResult>& results) {
  for (const auto& r : results) {
    if (!r.temporary()) return false;
  }
  return !results.empty();
}

// An address literal domain (RFC 5321 4.1.3), "[192.0.2.1]" or
// "[IPv6:2001:db8::1]": the address itself, no DNS.
std::optional<std::string> literal_address(const std::string& domain) {
  if (domain.size() < 3 || domain.front() != '[' || domain.back() != ']') return std::nullopt;
  auto inner = domain.substr(1, domain.size() - 2);
  if (istarts_with(inner, "IPv6:")) inner = inner.substr(5);
  return inner;
}

// Gives the job its outcome, once: `done` is empty afterwards.
void complete(RemoteJob& job, const RemoteOutcome& outcome) {
  auto done = std::exchange(job.done, nullptr);
  std::vector<queue::RecipientOutcome> outcomes;
  for (const auto& r : outcome.results) outcomes.push_back(recipient_outcome(r, outcome));
  done(std::move(outcomes));
}

RemoteJob take_front(std::deque<RemoteJob>& jobs) {
  auto job = std::move(jobs.front());
  jobs.pop_front();
  return job;
}

void fail_all(std::deque<RemoteJob>& jobs, const Error& error) {
  while (!jobs.empty()) {
    auto job = take_front(jobs);
    complete(job, failure(job.message.message.recipients.size(), error));
  }
}

// A job being delivered: should an exception (a bug) unwind the
// connection's coroutine before the job's outcome is given, the message
// still gets one (a temporary failure), so that its place among the
// messages being delivered is given back. Not when the coroutine is only
// destroyed with the event loop at stop: then the job stays queued.
class JobInProgress {
 public:
  explicit JobInProgress(RemoteJob& job) : job_(job), exceptions_(std::uncaught_exceptions()) {}
  ~JobInProgress() {
    if (job_.done && std::uncaught_exceptions() > exceptions_) {
      complete(job_, failure(job_.message.message.recipients.size(),
                        Error{451, "4.3.0", "Local error in delivery", "internal error"}));
    }
  }
  JobInProgress(const JobInProgress&) = delete;
  JobInProgress& operator=(const JobInProgress&) = delete;

 private:
  RemoteJob& job_;
  int exceptions_;
};

}  // namespace

RemoteDelivery::RemoteDelivery(asio::any_io_executor executor, dns::Resolver& resolver, RemoteConfig config)
    : executor_(std::move(executor)), resolver_(resolver), config_(std::move(config)), random_(std::random_device{}()) {}

void RemoteDelivery::submit(RemoteJob job) {
  asio::post(executor_, [this, job = std::move(job)]() mutable { enqueue(std::move(job)); });
}

void RemoteDelivery::close() {
  asio::post(executor_, [this] {
    closing_ = true;
    for (auto& [key, destination] : destinations_) {
      for (auto* timer : destination.idle) timer->cancel();
      destination.idle.clear();
    }
  });
}

// With a smarthost, every domain goes to the same place.
std::string RemoteDelivery::destination_of(const std::string& domain) const {
  return config_.smarthost.empty() ? to_lower(domain) : config_.smarthost;
}

void RemoteDelivery::enqueue(RemoteJob job) {
  if (closing_) return;  // the message stays queued for the next start
  auto key = destination_of(job.domain);
  auto& destination = destinations_[key];
  if (destination.jobs.size() >= config_.max_waiting_per_destination) {
    auto outcome = failure(job.message.message.recipients.size(),
                           Error{451, "4.4.5", "Too many messages waiting for " + key, ""});
    outcome.not_attempted = true;
    return complete(job, std::move(outcome));
  }
  destination.jobs.push_back(std::move(job));
  if (!destination.idle.empty()) {
    // An open connection is waiting for just this.
    destination.idle.back()->cancel();
    destination.idle.pop_back();
  } else if (destination.connections < config_.max_connections_per_destination) {
    open_connection(key);
  }
}

void RemoteDelivery::open_connection(const std::string& key) {
  auto& destination = destinations_[key];
  if (connections_ >= config_.max_connections) {
    if (!destination.waiting) waiting_.push_back(key);
    destination.waiting = true;
    return;
  }
  ++destination.connections;
  open_connections_ = ++connections_;
  asio::co_spawn(executor_, connection(key), asio::detached);
}

void RemoteDelivery::connection_closed(const std::string& key) {
  auto it = destinations_.find(key);
  auto& destination = it->second;
  --destination.connections;
  open_connections_ = --connections_;
  if (closing_) return;
  if (!destination.jobs.empty()) open_connection(key);
  while (connections_ < config_.max_connections && !waiting_.empty()) {
    auto& next = destinations_[waiting_.front()];
    next.waiting = false;
    if (!next.jobs.empty()) open_connection(waiting_.front());
    waiting_.pop_front();
  }
  if (destination.connections == 0 && destination.jobs.empty() && !destination.waiting) destinations_.erase(it);
}

// One connection's life: the first job finds a host that takes mail, then
// the destination's other jobs follow on the same connection.
asio::awaitable<void> RemoteDelivery::connection(std::string key) {
  try {
    co_await deliver_jobs(destinations_.at(key));  // the destination is kept while it has connections
  } catch (const std::exception& e) {
    // A bug, not the network: the slot is given back all the same.
    spdlog::error("event=internal_error where=outbound destination={} detail={}", log_value(key), log_value(e.what()));
  }
  connection_closed(key);
}

// The connection is closed when this returns, before its slot is given to
// another.
asio::awaitable<void> RemoteDelivery::deliver_jobs(Destination& destination) {
  RemoteConnection connection(executor_, config_, tls_);
  // (No co_await inside a condition: GCC 12 miscompiles some of them.)
  bool open = co_await first_job(destination, connection);
  auto opened = std::chrono::steady_clock::now();
  while (open && !closing_ && connection.ready() && std::chrono::steady_clock::now() - opened < kReuseTime) {
    open = co_await next_job(destination, connection);
  }
  co_await connection.quit();
  if (connection.messages() > 0) {
    spdlog::info("event=connection_closed host={} messages={}", connection.connected_to(), connection.messages());
  }
}

// Returns true when the connection is open and ready for more.
asio::awaitable<bool> RemoteDelivery::first_job(Destination& destination, RemoteConnection& connection) {
  if (destination.jobs.empty()) co_return false;
  auto job = take_front(destination.jobs);
  JobInProgress in_progress(job);
  const auto recipients = job.message.message.recipients.size();
  auto found = co_await targets(job.domain);
  if (!found) {
    // A fact about the domain: its other jobs get it too.
    complete(job, failure(recipients, found.error()));
    fail_all(destination.jobs, found.error());
    co_return false;
  }
  std::optional<RemoteOutcome> refused;  // by the last host that answered
  bool unresolvable = true;
  for (const auto& target : *found) {
    auto answer = co_await addresses(target);
    unresolvable = unresolvable && (answer.status == dns::Status::kNxDomain || answer.status == dns::Status::kNoData);
    bool answered = co_await connection.connect(target, answer.addresses);
    if (!answered) continue;
    auto transaction = co_await connection.send(job.message);
    bool final = !worth_next_host(transaction);
    auto outcome = outcome_of(connection, std::move(transaction));
    if (final) {
      complete(job, std::move(outcome));
      co_return connection.ready();
    }
    refused = std::move(outcome);
  }
  if (refused) {
    complete(job, std::move(*refused));
    co_return false;
  }
  // RFC 3463 X.4.4: no host of the domain has an address, a fact of DNS
  // rather than a passing failure. (A smarthost without an address is the
  // administrator's to fix: its mail waits.) X.4.6: the only hosts are
  // ourselves (Postfix: "mail for ... loops back to myself").
  auto error = connection.looped_back()
                   ? Error{554, "5.4.6", fmt::format("Mail for {} loops back to myself", job.domain), ""}
               : unresolvable && config_.smarthost.empty()
                   ? Error{550, "5.4.4", "Unable to route: no address for the mail hosts", ""}
                   : Error{451, "4.4.1", "No answer from host", ""};
  complete(job, failure(recipients, error));
  // Nothing answered (Postfix marks the destination dead): the jobs waiting
  // for it get the same outcome now rather than each trying in turn.
  fail_all(destination.jobs, error);
  co_return false;
}

// The next job of the destination on an open connection; false when there
// is none or the connection is done.
asio::awaitable<bool> RemoteDelivery::next_job(Destination& destination, RemoteConnection& connection) {
  if (destination.jobs.empty()) {
    bool arrived = co_await wait_for_job(destination);
    if (!arrived) co_return false;
  }
  auto job = take_front(destination.jobs);
  JobInProgress in_progress(job);
  auto transaction = co_await connection.send(job.message);
  // A reused connection the server closed before this message went out
  // (an idle timeout, a 421): the job goes back, for a new connection.
  if (!connection.ready() && !transaction.content_sent && !job.retried && all_temporary(transaction.results)) {
    job.retried = true;
    destination.jobs.push_front(std::move(job));
    co_return false;
  }
  complete(job, outcome_of(connection, std::move(transaction)));
  co_return true;
}

// Waits up to idle_time for a job; not when another destination waits for a
// connection slot.
asio::awaitable<bool> RemoteDelivery::wait_for_job(Destination& destination) {
  if (!waiting_.empty() || closing_) co_return false;
  asio::steady_timer timer(executor_, config_.idle_time);
  destination.idle.push_back(&timer);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  std::erase(destination.idle, &timer);
  co_return !closing_ && !destination.jobs.empty();
}

// The hosts to try, in order: the smarthost, or the domain's MX hosts
// (implicit MX: the domain itself).
asio::awaitable<Result<std::vector<Target>>> RemoteDelivery::targets(const std::string& domain) {
  if (!config_.smarthost.empty()) {
    auto colon = config_.smarthost.rfind(':');
    auto host = config_.smarthost.substr(0, colon);
    auto port = colon == std::string::npos ? std::nullopt : parse_decimal(config_.smarthost.substr(colon + 1));
    if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
    co_return Result<std::vector<Target>>(
        std::vector<Target>{{host, static_cast<std::uint16_t>(port ? *port : config_.port)}});
  }
  if (auto literal = literal_address(domain)) {
    co_return Result<std::vector<Target>>(std::vector<Target>{{*literal, config_.port}});
  }
  auto answer = co_await resolver_.mx(domain);
  auto route = dns::route_from_mx(domain, answer, random_);
  if (!route) co_return route.error();
  std::vector<Target> targets;
  for (auto& host : route->hosts) targets.push_back({std::move(host), config_.port});
  co_return Result<std::vector<Target>>(std::move(targets));
}

asio::awaitable<dns::AddressAnswer> RemoteDelivery::addresses(const Target& target) {
  boost::system::error_code not_an_address;
  auto address = asio::ip::make_address(target.host, not_an_address);
  if (!not_an_address) co_return dns::AddressAnswer{dns::Status::kOk, {address}, ""};
  co_return co_await resolver_.addresses(target.host);
}

}  // namespace tern::delivery
