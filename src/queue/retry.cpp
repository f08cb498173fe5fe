#include "queue/retry.h"

#include <algorithm>
#include <string>

namespace tern::queue {
namespace {

using std::chrono::seconds;

Error invalid(std::string key, std::string_view why) {
  return Error{0, "", "'queue." + key + "' " + std::string(why), ""};
}

}  // namespace

Result<void> validate(const RetryPolicy& policy) {
  if (policy.retry_interval <= seconds(0)) return invalid("retry_interval", "must be longer than 0");
  if (policy.max_retry_interval < policy.retry_interval) {
    return invalid("max_retry_interval", "must not be shorter than 'queue.retry_interval'");
  }
  if (policy.max_lifetime < seconds(0)) return invalid("max_lifetime", "must not be negative");
  if (policy.delay_warning < seconds(0)) return invalid("delay_warning", "must not be negative");
  return {};
}

seconds retry_delay(const RetryPolicy& policy, unsigned failed_attempts) {
  auto cap = std::max(policy.max_retry_interval, policy.retry_interval);
  auto delay = policy.retry_interval;
  // Doubling stops at the cap, so this runs at most ~log2(cap) times and
  // never overflows, however many attempts a message has had.
  for (unsigned n = 1; n < failed_attempts && delay > seconds(0) && delay < cap; ++n) delay *= 2;
  return std::min(delay, cap);
}

TimePoint retry_until(const RetryPolicy& policy, TimePoint arrival) { return arrival + policy.max_lifetime; }

bool expired(const RetryPolicy& policy, TimePoint arrival, TimePoint failed_at) {
  return failed_at >= retry_until(policy, arrival);
}

TimePoint next_attempt(const RetryPolicy& policy, TimePoint arrival, TimePoint failed_at,
                       unsigned failed_attempts) {
  auto next = failed_at + retry_delay(policy, failed_attempts);
  return std::min(next, std::max(retry_until(policy, arrival), failed_at));
}

bool delay_warning_due(const RetryPolicy& policy, TimePoint arrival, TimePoint now, bool already_sent) {
  if (already_sent || policy.delay_warning <= seconds(0)) return false;
  return arrival + policy.delay_warning <= now && !expired(policy, arrival, now);
}

void expire(DsnRecipient& recipient) {
  recipient.action = DsnAction::kFailed;
  recipient.status = std::string(kExpiredStatus);
  recipient.will_retry_until = 0;  // only a delayed recipient has one (RFC 3464 2.3.9)
}

}  // namespace tern::queue
