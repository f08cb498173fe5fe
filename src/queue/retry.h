#pragma once
// The retry schedule of a deferred recipient: when to try again after a
// temporary failure, when to give up and bounce, when to warn the sender that
// the message is late. Pure: every time comes in as an argument; nothing here
// reads a clock, so the scheduler (and a simulator) decides what "now" is.
// Deterministic: a caller that wants jitter (to spread retries of many
// messages deferred together) adds it to next_attempt's result.
#include <chrono>
#include <string_view>

#include "base/result.h"
#include "queue/dsn.h"

namespace tern::queue {

using TimePoint = std::chrono::system_clock::time_point;

// The [queue] keys, with the Postfix parameter each one matches in brackets
// (Postfix's defaults differ: 4000s backoff cap, no delay warning).
struct RetryPolicy {
  // The wait after the first temporary failure (minimal_backoff_time).
  std::chrono::seconds retry_interval{std::chrono::minutes(5)};
  // The wait doubles per failed attempt up to this (maximal_backoff_time).
  std::chrono::seconds max_retry_interval{std::chrono::hours(1)};
  // After this in the queue a temporary failure is final: the recipient
  // fails and the sender gets a bounce (maximal_queue_lifetime).
  std::chrono::seconds max_lifetime{std::chrono::hours(24 * 5)};
  // One delay DSN after this in the queue (delay_warning_time); 0: never.
  std::chrono::seconds delay_warning{std::chrono::hours(4)};
};

// Refuses a schedule that cannot work, naming the [queue] key: a zero or
// negative retry_interval (the queue would retry in a loop), a
// max_retry_interval below retry_interval, a negative lifetime or warning.
Result<void> validate(const RetryPolicy& policy);

// The wait after the Nth failed attempt (N >= 1; 0 counts as 1):
// retry_interval * 2^(N-1), at most max_retry_interval (but never less than
// retry_interval). With the defaults: 5m, 10m, 20m, 40m, then 1h for every
// later attempt.
std::chrono::seconds retry_delay(const RetryPolicy& policy, unsigned failed_attempts);

// arrival + max_lifetime: the last retry, at which a temporary failure
// becomes final. It is what a delay DSN reports as Will-Retry-Until
// (RFC 3464 2.3.9), and it holds: next_attempt never schedules past it.
TimePoint retry_until(const RetryPolicy& policy, TimePoint arrival);

// Whether a temporary failure at `failed_at` of a message that arrived at
// `arrival` is final: at or after arrival + max_lifetime. The boundary
// belongs to expiry, so the attempt at exactly retry_until is the last one.
bool expired(const RetryPolicy& policy, TimePoint arrival, TimePoint failed_at);

// When to try again after the Nth attempt failed temporarily at
// `failed_at`: failed_at + retry_delay, but no later than retry_until, so
// that the last attempt is made when the lifetime ends rather than up to
// max_retry_interval after it. Ask only when !expired(arrival, failed_at).
TimePoint next_attempt(const RetryPolicy& policy, TimePoint arrival, TimePoint failed_at,
                       unsigned failed_attempts);

// Whether the one delay DSN is due at `now`: delay_warning is not 0, none
// was sent, arrival + delay_warning <= now, and the message has not expired
// (then a bounce is due instead). RFC 3461 4.1 NOTIFY decides who gets it.
bool delay_warning_due(const RetryPolicy& policy, TimePoint arrival, TimePoint now, bool already_sent);

// RFC 3463 3.5 X.4.7 "Delivery time expired".
inline constexpr std::string_view kExpiredStatus = "4.4.7";

// Turns a deferred recipient whose lifetime ran out into a failed one for
// the bounce: action failed, Status 4.4.7. The diagnostic (the last
// temporary reply, "451 4.2.0 Mailbox busy"), the remote MTA and the last
// attempt are kept: RFC 3463 3.5 asks for "the code for the actual
// problem" where possible, and the Diagnostic-Code is where the sender
// finds it, while Status says why tern stopped trying (as sendmail does).
void expire(DsnRecipient& recipient);

}  // namespace tern::queue
