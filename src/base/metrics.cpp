#include "base/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace tern::metrics {

Histogram::Histogram(std::initializer_list<double> bounds) : bounds_(bounds), buckets_(bounds.size() + 1) {}

void Histogram::observe(double value) {
  auto at = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[static_cast<std::size_t>(at)].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micro_.fetch_add(static_cast<std::uint64_t>(std::llround(std::max(value, 0.0) * 1e6)), std::memory_order_relaxed);
}

double Histogram::sum() const { return static_cast<double>(sum_micro_.load(std::memory_order_relaxed)) / 1e6; }

Kind kind_of(std::string_view agent) {
  if (agent == "maildir") return Kind::kMaildir;
  if (agent == "lmtp") return Kind::kLmtp;
  return Kind::kSmtp;
}

Metrics& metrics() {
  static Metrics instance;
  return instance;
}

void count_replies(std::string_view output) {
  while (!output.empty()) {
    auto end = output.find('\n');
    auto line = output.substr(0, end);
    if (line.size() >= 4 && line[3] == ' ' && line[0] >= '1' && line[0] <= '5') metrics().replies[line[0] - '1'].add();
    output.remove_prefix(end == std::string_view::npos ? output.size() : end + 1);
  }
}

void History::sample(std::int64_t now) {
  constexpr std::size_t kKept = 300;  // ten minutes at one sample every two seconds
  const auto& m = metrics();
  Sample s{now, m.messages_received.value(), 0, 0};
  for (std::size_t i = 0; i < kKinds.size(); ++i) {
    s.delivered += m.delivered[i].value();
    s.bounced += m.bounced[i].value() + m.expired[i].value();
  }
  std::lock_guard lock(mutex_);
  samples_.push_back(s);
  while (samples_.size() > kKept) samples_.pop_front();
}

std::vector<Sample> History::samples() const {
  std::lock_guard lock(mutex_);
  return {samples_.begin(), samples_.end()};
}

History& history() {
  static History instance;
  return instance;
}

namespace {

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

template <std::size_t N>
void by_label(std::string& out, std::string_view name, std::string_view label,
              const std::array<std::string_view, N>& values, const std::array<Counter, N>& counters) {
  for (std::size_t i = 0; i < N; ++i) out += fmt::format("{}{{{}=\"{}\"}} {}\n", name, label, values[i], counters[i].value());
}

void histogram(std::string& out, std::string_view name, std::string_view help, const Histogram& h) {
  family(out, name, "histogram", help);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < h.bounds().size(); ++i) {
    cumulative += h.bucket(i);
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, h.bounds()[i], cumulative);
  }
  cumulative += h.bucket(h.bounds().size());
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, cumulative, name, h.sum(), name,
                     cumulative);
}

}  // namespace

std::string render(const Metrics& m, const QueueGauges& queue) {
  std::string out;
  family(out, "tern_connections_open", "gauge", "SMTP connections open now.");
  out += fmt::format("tern_connections_open {}\n", m.connections_open.value());
  family(out, "tern_connections_total", "counter", "SMTP connections accepted (refused ones included).");
  out += fmt::format("tern_connections_total {}\n", m.connections.value());
  family(out, "tern_connections_refused_total", "counter", "Connections turned away at once with 421, by reason.");
  by_label(out, "tern_connections_refused_total", "reason", kRefusals, m.connections_refused);
  family(out, "tern_tls_sessions_total", "counter", "SMTP sessions that completed a TLS handshake.");
  out += fmt::format("tern_tls_sessions_total {}\n", m.tls_sessions.value());
  family(out, "tern_replies_total", "counter", "SMTP replies sent, by class.");
  for (std::size_t i = 0; i < m.replies.size(); ++i) {
    out += fmt::format("tern_replies_total{{class=\"{}xx\"}} {}\n", i + 1, m.replies[i].value());
  }
  family(out, "tern_messages_received_total", "counter", "Messages accepted into the queue (SMTP and tern sendmail).");
  out += fmt::format("tern_messages_received_total {}\n", m.messages_received.value());
  family(out, "tern_delivered_total", "counter", "Recipients delivered, by delivery kind.");
  by_label(out, "tern_delivered_total", "kind", kKinds, m.delivered);
  family(out, "tern_deferred_total", "counter", "Recipient delivery attempts that failed temporarily, by kind.");
  by_label(out, "tern_deferred_total", "kind", kKinds, m.deferred);
  family(out, "tern_bounced_total", "counter", "Recipients that failed permanently (a bounce), by kind.");
  by_label(out, "tern_bounced_total", "kind", kKinds, m.bounced);
  family(out, "tern_expired_total", "counter", "Recipients that failed at the end of the queue lifetime, by kind.");
  by_label(out, "tern_expired_total", "kind", kKinds, m.expired);
  family(out, "tern_queue_messages", "gauge", "Messages in the queue.");
  out += fmt::format("tern_queue_messages {}\n", queue.messages);
  family(out, "tern_queue_oldest_message_age_seconds", "gauge", "Age of the oldest queued message.");
  out += fmt::format("tern_queue_oldest_message_age_seconds {}\n", queue.oldest_age_seconds);
  histogram(out, "tern_delivery_latency_seconds", "From arrival to delivery, per recipient.", m.delivery_latency);
  histogram(out, "tern_group_commit_size", "Messages made durable by one spool commit (two syncs).", m.group_commit);
  family(out, "tern_dns_failures_total", "counter", "DNS lookups that failed (timeout, SERVFAIL, bogus).");
  out += fmt::format("tern_dns_failures_total {}\n", m.dns_failures.value());
  return out;
}

}  // namespace tern::metrics
