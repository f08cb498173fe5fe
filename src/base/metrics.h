#pragma once
// The numbers /metrics shows (http/, Prometheus text format): counters the
// code that sees an event bumps, lock-free (atomics), and the histograms of
// delivery latency and group-commit size. One set for the process, like the
// default logger: metrics().
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace tern::metrics {

class Counter {
 public:
  void add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void add(std::int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Cumulative buckets as Prometheus wants them (le="bound"), plus +Inf.
class Histogram {
 public:
  explicit Histogram(std::initializer_list<double> bounds);
  void observe(double value);
  const std::vector<double>& bounds() const { return bounds_; }
  std::uint64_t bucket(std::size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }  // not cumulative
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const;

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<std::uint64_t>> buckets_;  // one per bound, then +Inf
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micro_{0};  // the sum in millionths: atomic without a lock
};

// Delivery agents (delivery/agent.h), as the `kind` label says them.
enum class Kind { kMaildir, kLmtp, kSmtp };
inline constexpr std::array<std::string_view, 3> kKinds = {"maildir", "lmtp", "smtp"};
Kind kind_of(std::string_view agent);  // unknown: smtp

// Why a connection was turned away at once (421).
enum class Refusal { kMaxConnections, kMaxConnectionsPerIp };
inline constexpr std::array<std::string_view, 2> kRefusals = {"max_connections", "max_connections_per_ip"};

struct Metrics {
  Gauge connections_open;
  Counter connections;
  std::array<Counter, kRefusals.size()> connections_refused;
  Counter tls_sessions;              // sessions that completed a TLS handshake
  std::array<Counter, 5> replies;    // by class: 1xx .. 5xx
  Counter messages_received;         // 250 at end of data (or taken from maildrop/)
  std::array<Counter, kKinds.size()> delivered, deferred, bounced, expired;  // recipients
  Histogram delivery_latency{0.1, 0.5, 1, 5, 30, 60, 300, 1800, 3600, 14400, 86400};  // arrival to delivery, s
  Histogram group_commit{1, 2, 4, 8, 16, 32, 64, 128, 256};  // messages per spool commit
  Counter dns_failures;              // lookups that failed for a reason other than "no such name/data"
};

Metrics& metrics();

// Counts the replies in what a session writes: a reply's last line is
// "DDD " (RFC 5321 4.2.1).
void count_replies(std::string_view output);

// What the server knows at scrape time besides the counters.
struct QueueGauges {
  std::size_t messages = 0;
  std::int64_t oldest_age_seconds = 0;
};

// The counters of messages in and out, sampled every few seconds, for the
// dashboard's "messages per second" (the last ten minutes).
struct Sample {
  std::int64_t time = 0;  // unix seconds
  std::uint64_t received = 0, delivered = 0, bounced = 0;
};
class History {
 public:
  void sample(std::int64_t now);
  std::vector<Sample> samples() const;

 private:
  mutable std::mutex mutex_;
  std::deque<Sample> samples_;
};
History& history();

// The Prometheus text exposition format 0.0.4.
std::string render(const Metrics& m, const QueueGauges& queue);

}  // namespace tern::metrics
