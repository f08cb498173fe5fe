#include "queue/retry.h"

#include <gtest/gtest.h>

#include <climits>
#include <vector>

namespace tern::queue {
namespace {

using namespace std::chrono_literals;
using std::chrono::seconds;

const TimePoint kArrival{seconds(1700000000)};  // Tue, 14 Nov 2023 22:13:20 +0000
constexpr seconds kDay = 24h;

TEST(Retry, DefaultsAreTheDesignedSchedule) {
  RetryPolicy p;
  EXPECT_EQ(p.retry_interval, 5min);
  EXPECT_EQ(p.max_retry_interval, 1h);
  EXPECT_EQ(p.max_lifetime, 5 * kDay);
  EXPECT_EQ(p.delay_warning, 4h);
  EXPECT_TRUE(validate(p).ok());
}

TEST(Retry, DelayDoublesUpToTheCap) {
  struct Case {
    seconds retry_interval, max_retry_interval;
    unsigned failed_attempts;
    seconds delay;
  };
  const Case cases[] = {
      // The defaults: 5m, 10m, 20m, 40m, then hourly.
      {5min, 1h, 0, 5min},  // 0 counts as the first
      {5min, 1h, 1, 5min},
      {5min, 1h, 2, 10min},
      {5min, 1h, 3, 20min},
      {5min, 1h, 4, 40min},
      {5min, 1h, 5, 1h},
      {5min, 1h, 6, 1h},
      {5min, 1h, 1000, 1h},
      {5min, 1h, UINT_MAX, 1h},  // no overflow, no long loop
      // Doubling that lands exactly on the cap.
      {30s, 4min, 4, 4min},
      {30s, 4min, 5, 4min},
      // A cap equal to the interval: a constant interval.
      {10min, 10min, 1, 10min},
      {10min, 10min, 9, 10min},
      // A cap below the interval (validate refuses it): never below the interval.
      {10min, 5min, 1, 10min},
      {10min, 5min, 3, 10min},
      // Postfix's own cap, 4000s: the last doubling is cut short.
      {300s, 4000s, 4, 2400s},
      {300s, 4000s, 5, 4000s},
  };
  for (const auto& c : cases) {
    RetryPolicy p;
    p.retry_interval = c.retry_interval;
    p.max_retry_interval = c.max_retry_interval;
    EXPECT_EQ(retry_delay(p, c.failed_attempts), c.delay)
        << c.retry_interval.count() << "s/" << c.max_retry_interval.count() << "s #" << c.failed_attempts;
  }
}

TEST(Retry, ExpiryStartsAtArrivalPlusLifetime) {
  RetryPolicy p;
  EXPECT_EQ(retry_until(p, kArrival), kArrival + 5 * kDay);
  // What a delay DSN prints as Will-Retry-Until (RFC 3464 2.3.9).
  EXPECT_EQ(std::chrono::system_clock::to_time_t(retry_until(p, kArrival)), 1700000000 + 5 * 86400);
  const std::pair<seconds, bool> cases[] = {
      {0s, false},
      {4h, false},
      {5 * kDay - 1s, false},
      {5 * kDay, true},  // the boundary belongs to expiry
      {5 * kDay + 1s, true},
      {30 * kDay, true},
  };
  for (const auto& [age, is_expired] : cases) EXPECT_EQ(expired(p, kArrival, kArrival + age), is_expired) << age.count();
  // A failure before arrival (a clock stepped back) is not expiry.
  EXPECT_FALSE(expired(p, kArrival, kArrival - 1h));

  // max_lifetime 0: the first temporary failure is final (one attempt, as
  // Postfix's maximal_queue_lifetime = 0).
  p.max_lifetime = 0s;
  EXPECT_TRUE(expired(p, kArrival, kArrival));
  EXPECT_EQ(retry_until(p, kArrival), kArrival);
}

TEST(Retry, NextAttemptIsClampedToTheLastRetry) {
  RetryPolicy p;
  struct Case {
    seconds failed_at;  // after arrival
    unsigned failed_attempts;
    seconds next;  // after arrival
  };
  const Case cases[] = {
      {0s, 1, 5min},
      {5min, 2, 15min},
      {2h, 3, 2h + 20min},  // a late attempt waits from when it failed
      {3 * kDay, 80, 3 * kDay + 1h},
      {5 * kDay - 2h, 90, 5 * kDay - 1h},
      {5 * kDay - 1h, 91, 5 * kDay},
      {5 * kDay - 10min, 92, 5 * kDay},  // not 50 minutes after the lifetime
      {5 * kDay - 1s, 93, 5 * kDay},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(next_attempt(p, kArrival, kArrival + c.failed_at, c.failed_attempts), kArrival + c.next)
        << c.failed_at.count();
  }
}

// Every attempt of a recipient that always fails temporarily, delivered on
// time: the first at arrival, the last at exactly arrival + max_lifetime.
std::vector<seconds> attempts_until_expiry(const RetryPolicy& p) {
  std::vector<seconds> ages;
  TimePoint at = kArrival;
  for (unsigned failed = 1; ages.size() < 10000; ++failed) {
    ages.push_back(std::chrono::duration_cast<seconds>(at - kArrival));
    if (expired(p, kArrival, at)) break;
    auto next = next_attempt(p, kArrival, at, failed);
    EXPECT_GT(next, at);
    at = next;
  }
  return ages;
}

TEST(Retry, WholeScheduleWithTheDefaults) {
  auto ages = attempts_until_expiry(RetryPolicy{});
  ASSERT_GE(ages.size(), 6u);
  const std::vector<seconds> first{0s, 5min, 15min, 35min, 75min, 135min};
  EXPECT_EQ(std::vector<seconds>(ages.begin(), ages.begin() + 6), first);
  EXPECT_EQ(ages.back(), 5 * kDay);
  // 5 attempts in the first 75 minutes, then one an hour until 5 days
  // (the hourly ones fall at 75m past each hour; the last is clamped).
  EXPECT_EQ(ages.size(), static_cast<std::size_t>(5 + (5 * kDay - 75min) / 1h + 1));
  for (std::size_t i = 5; i + 1 < ages.size(); ++i) EXPECT_EQ(ages[i] - ages[i - 1], 1h) << i;
}

TEST(Retry, ShortLifetimeEndsOnTheBoundary) {
  RetryPolicy p;
  p.retry_interval = 1min;
  p.max_retry_interval = 4min;
  p.max_lifetime = 10min;
  const std::vector<seconds> expected{0s, 1min, 3min, 7min, 10min};
  EXPECT_EQ(attempts_until_expiry(p), expected);
}

TEST(Retry, OneDelayWarningAfterItsTime) {
  struct Case {
    seconds delay_warning;
    seconds now;  // after arrival
    bool already_sent;
    bool due;
  };
  const Case cases[] = {
      {4h, 0s, false, false},
      {4h, 4h - 1s, false, false},
      {4h, 4h, false, true},
      {4h, 4h + 1s, false, true},
      {4h, 3 * kDay, false, true},
      {4h, 4h, true, false},  // at most once
      {4h, 3 * kDay, true, false},
      {4h, 5 * kDay, false, false},  // expired: a bounce is due, not a warning
      {0s, 4h, false, false},        // 0: never
      {0s, 3 * kDay, false, false},
      {6 * kDay, 5 * kDay - 1s, false, false},  // longer than the lifetime: never
      {6 * kDay, 6 * kDay, false, false},
      {1s, 1s, false, true},
  };
  for (const auto& c : cases) {
    RetryPolicy p;
    p.delay_warning = c.delay_warning;
    EXPECT_EQ(delay_warning_due(p, kArrival, kArrival + c.now, c.already_sent), c.due)
        << c.delay_warning.count() << "s at " << c.now.count() << "s sent=" << c.already_sent;
  }
}

TEST(Retry, ValidateNamesTheKey) {
  struct Case {
    seconds retry_interval, max_retry_interval, max_lifetime, delay_warning;
    std::string key;  // empty: valid
  };
  const Case cases[] = {
      {5min, 1h, 5 * kDay, 4h, ""},
      {1s, 1s, 0s, 0s, ""},
      {0s, 1h, 5 * kDay, 4h, "'queue.retry_interval'"},
      {-1s, 1h, 5 * kDay, 4h, "'queue.retry_interval'"},
      {2h, 1h, 5 * kDay, 4h, "'queue.max_retry_interval'"},
      {5min, 1h, -1s, 4h, "'queue.max_lifetime'"},
      {5min, 1h, 5 * kDay, -1s, "'queue.delay_warning'"},
  };
  for (const auto& c : cases) {
    auto r = validate(RetryPolicy{c.retry_interval, c.max_retry_interval, c.max_lifetime, c.delay_warning});
    if (c.key.empty()) {
      EXPECT_TRUE(r.ok()) << r.error().text;
    } else {
      ASSERT_FALSE(r.ok()) << c.key;
      EXPECT_EQ(r.error().text.rfind(c.key, 0), 0u) << r.error().text;
    }
  }
}

TEST(Retry, ExpireKeepsTheLastReply) {
  DsnRecipient r;
  r.index = 2;
  r.action = DsnAction::kDelayed;
  r.status = "4.2.0";
  r.remote_mta = "mx.example.org";
  r.diagnostic = "451 4.2.0 Mailbox busy";
  r.last_attempt = 1700000000 + 5 * 86400;
  r.will_retry_until = 1700000000 + 5 * 86400;
  expire(r);
  EXPECT_EQ(r.action, DsnAction::kFailed);
  EXPECT_EQ(r.status, "4.4.7");
  EXPECT_EQ(r.index, 2u);
  EXPECT_EQ(r.remote_mta, "mx.example.org");
  EXPECT_EQ(r.diagnostic, "451 4.2.0 Mailbox busy");
  EXPECT_EQ(r.diagnostic_type, "smtp");
  EXPECT_EQ(r.last_attempt, 1700000000 + 5 * 86400);
  EXPECT_EQ(r.will_retry_until, 0);

  // A failure that was not a reply ("connection refused") keeps its own type.
  DsnRecipient refused;
  refused.action = DsnAction::kDelayed;
  refused.diagnostic_type = "x-tern";
  refused.diagnostic = "connect to mx.example.org[192.0.2.25]:25: Connection refused";
  expire(refused);
  EXPECT_EQ(refused.status, "4.4.7");
  EXPECT_EQ(refused.diagnostic_type, "x-tern");
  EXPECT_EQ(refused.diagnostic, "connect to mx.example.org[192.0.2.25]:25: Connection refused");
}

}  // namespace
}  // namespace tern::queue
