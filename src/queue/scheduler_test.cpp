#include "queue/scheduler.h"

#include <fmt/format.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include "base/ids.h"
#include "queue/delivery_state.h"

namespace tern::queue {
namespace {

namespace fsys = std::filesystem;
using namespace std::chrono_literals;

// A delivery function scripted per recipient local part: "temp" fails for
// the first `temp_failures` attempts, "perm" always fails, others succeed.
struct Script {
  std::mutex mutex;
  std::map<std::string, int> calls;           // local part → attempts
  std::vector<proto::Envelope> delivered;     // envelopes of messages with a delivery
  std::vector<std::string> bounce_bodies;
  int temp_failures = 1;

  std::vector<RecipientOutcome> deliver(const QueuedMessage& m, const std::vector<std::size_t>& pending) {
    std::lock_guard lock(mutex);
    std::vector<RecipientOutcome> out;
    for (auto i : pending) {
      auto local = m.envelope.recipients[i].mailbox.local_part;
      int n = ++calls[local];
      if (m.envelope.reverse_path.null) bounce_bodies.push_back(read_body(m));
      if (local == "perm") {
        out.push_back({Error{550, "5.1.1", "User unknown", "scripted"}, "mx.remote.test"});
      } else if (local == "busy" && n <= temp_failures) {
        RecipientOutcome parked{Error{451, "4.4.5", "Too many messages waiting", "scripted"}, ""};
        parked.not_attempted = true;
        out.push_back(std::move(parked));
      } else if (local == "temp" && n <= temp_failures) {
        out.push_back({Error{451, "4.3.0", "Try later", "scripted"}, ""});
      } else {
        out.push_back({std::string("ok"), ""});
      }
    }
    delivered.push_back(m.envelope);
    return out;
  }

  static std::string read_body(const QueuedMessage& m) {
    std::string body(65536, '\0');
    auto n = ::pread(m.fd, body.data(), body.size(), static_cast<off_t>(m.offset));
    body.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return body;
  }
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tern-scheduler-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    spool_ = std::make_unique<Spool>(dir_);
    ASSERT_TRUE(spool_->open().ok());
  }
  void TearDown() override {
    if (scheduler_) scheduler_->stop();  // then nothing adds remote threads
    for (auto& t : remote_threads_) t.join();
    scheduler_.reset();
    spool_.reset();
    fsys::remove_all(dir_);
  }

  // `remote`: the outcomes come later, from another thread, as remote
  // delivery's do.
  void start(RetryPolicy retry, bool remote = false, std::size_t workers = 1) {
    scheduler_ = std::make_unique<Scheduler>(
        *spool_,
        [this, remote](Delivery& d, DeliveryBatch&) {
          auto outcomes = script_.deliver(d.message(), d.pending());
          if (!remote) {
            for (std::size_t k = 0; k < outcomes.size(); ++k) d.set(k, std::move(outcomes[k]));
            return;
          }
          remote_threads_.emplace_back([part = d.part(), outcomes]() mutable {
            std::this_thread::sleep_for(50ms);
            for (std::size_t k = 0; k < outcomes.size(); ++k) part.set(k, std::move(outcomes[k]));
            part.done();
          });
        },
        retry, "mx.example.test");
    scheduler_->start(workers);
  }

  std::string store(bool null_sender, std::vector<std::string> locals, unsigned notify = 0, bool enqueue = true) {
    proto::Envelope e;
    e.reverse_path.null = null_sender;
    e.reverse_path.mailbox = {"sender", "example.test"};
    for (auto& l : locals) e.recipients.push_back({{l, "example.test"}, {}});
    for (auto& r : e.recipients) r.params.notify = notify;
    auto id = tern::make_queue_id();
    auto writer = spool_->create(id, e);
    EXPECT_TRUE(writer.ok());
    EXPECT_TRUE((*writer)->write("Message-ID: <m1@example.test>\r\nSubject: t\r\n\r\nbody\r\n").ok());
    std::promise<Result<void>> done;
    spool_->commit(std::move(writer.value()), [&](Result<void> r) { done.set_value(r); });
    EXPECT_TRUE(done.get_future().get().ok());
    if (enqueue) scheduler_->enqueue(id, true);
    return id;
  }

  // Waits (bounded) until the queue holds no message.
  // Nothing left to deliver: active/ is empty and no DSN is held in dsn/
  // (a DSN waits there until its message's record is written, and that
  // message may leave active/ first).
  bool drained(std::chrono::seconds limit = 10s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      bool held = fsys::exists(dir_ + "/dsn") && !fsys::is_empty(dir_ + "/dsn");
      if (fsys::is_empty(dir_ + "/active") && !held) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  std::string dir_;
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<Scheduler> scheduler_;
  Script script_;
  std::vector<std::thread> remote_threads_;  // only the worker adds to it
};

RetryPolicy fast() { return {1s, 1s, std::chrono::hours(1), 0s}; }

TEST_F(SchedulerTest, TemporaryFailureIsRetriedOnlyForPendingRecipients) {
  start(fast());
  auto id = store(false, {"ok", "temp"});
  std::this_thread::sleep_for(300ms);
  // After the first attempt: "ok" is recorded as done, "temp" waits.
  auto state = load_state(posix_fs(), spool_->state_path(id), 2).value();
  EXPECT_TRUE(state.done[0]);
  EXPECT_FALSE(state.done[1]);
  EXPECT_EQ(state.attempts, 1u);
  EXPECT_GT(state.next_attempt, 0);
  ASSERT_TRUE(drained());
  EXPECT_EQ(script_.calls["ok"], 1);  // never delivered twice
  EXPECT_EQ(script_.calls["temp"], 2);
  for (int i = 0; i < 100 && fsys::exists(spool_->state_path(id)); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(fsys::exists(spool_->state_path(id)));  // removed just after the queue file
}

// A recipient not tried (its destination was busy) comes back after a
// second, whatever the retry schedule says, and costs no attempt.
TEST_F(SchedulerTest, NotAttemptedComesBackSoonWithoutAnAttempt) {
  start({std::chrono::hours(1), std::chrono::hours(1), std::chrono::hours(24), 0s});
  auto id = store(false, {"ok", "busy"});
  // (The file may be read between its creation and its line: wait for the line.)
  auto state = load_state(posix_fs(), spool_->state_path(id), 2).value();
  for (int i = 0; i < 500 && !state.done[0]; ++i) {
    std::this_thread::sleep_for(10ms);
    state = load_state(posix_fs(), spool_->state_path(id), 2).value();
  }
  EXPECT_TRUE(state.done[0]);
  EXPECT_EQ(state.attempts, 0u);
  ASSERT_TRUE(drained(5s));
  EXPECT_EQ(script_.calls["ok"], 1);
  EXPECT_EQ(script_.calls["busy"], 2);
}

// ETRN: a deferred message with a pending recipient in the domain is tried
// at once, whatever its schedule; others keep theirs. A message recovered
// at start (domains not known yet) is tried too, its schedule skipped.
TEST_F(SchedulerTest, FlushDomainRetriesNow) {
  start({std::chrono::hours(1), std::chrono::hours(1), std::chrono::hours(24), 0s});
  auto id = store(false, {"temp"});
  for (int i = 0; i < 500 && script_.calls["temp"] < 1; ++i) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(100ms);  // recorded and deferred for an hour
  EXPECT_EQ(scheduler_->flush_domain("other.test", false), 0u);
  EXPECT_EQ(scheduler_->flush_domain("test", false), 0u);
  EXPECT_EQ(scheduler_->flush_domain("Example.Test", false), 1u);
  ASSERT_TRUE(drained(5s));
  EXPECT_EQ(script_.calls["temp"], 2);
  (void)id;

  // Recovered with a schedule an hour away: not known, so flushed, and its
  // schedule is not read as "not due".
  auto later = store(false, {"ok"}, 0, false);
  auto next = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + std::chrono::minutes(30));
  { std::ofstream(spool_->state_path(later)) << state_record(fmt::format("attempt {}", next)); }
  scheduler_->enqueue(later, false);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(script_.calls["ok"], 0);  // waits for its time
  EXPECT_EQ(scheduler_->flush_domain("sub.example.test", true), 1u);
  ASSERT_TRUE(drained(5s));
  EXPECT_EQ(script_.calls["ok"], 1);
}

// A next attempt further away than max_retry_interval is not believed (a
// damaged state file must not hold a message for ever).
TEST_F(SchedulerTest, UnbelievableNextAttemptIsTriedNow) {
  start(fast());
  auto id = store(false, {"ok"}, 0, false);
  { std::ofstream(spool_->state_path(id)) << state_record("attempt 9999999999999"); }
  scheduler_->enqueue(id, false);  // as after a restart
  ASSERT_TRUE(drained(5s));
  EXPECT_EQ(script_.calls["ok"], 1);
}

TEST_F(SchedulerTest, RemoteOutcomesAreRecordedWhenTheyArrive) {
  start(fast(), true);
  auto id = store(false, {"ok", "temp"});
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(fsys::exists(spool_->state_path(id)));  // nothing recorded before the outcomes
  auto state = load_state(posix_fs(), spool_->state_path(id), 2).value();
  for (int i = 0; i < 500 && !state.done[0]; ++i) {  // the file may exist before its lines
    std::this_thread::sleep_for(10ms);
    state = load_state(posix_fs(), spool_->state_path(id), 2).value();
  }
  EXPECT_TRUE(state.done[0]);
  EXPECT_FALSE(state.done[1]);
  ASSERT_TRUE(drained());
  EXPECT_EQ(script_.calls["ok"], 1);
  EXPECT_EQ(script_.calls["temp"], 2);
}

TEST_F(SchedulerTest, PermanentFailureBouncesToTheSender) {
  start(fast());
  store(false, {"perm", "ok"});
  ASSERT_TRUE(drained());
  // The bounce was queued and delivered: from <> to the original sender.
  ASSERT_EQ(script_.bounce_bodies.size(), 1u);
  const auto& dsn = script_.bounce_bodies[0];
  EXPECT_NE(dsn.find("Content-Type: multipart/report; report-type=delivery-status"), std::string::npos);
  EXPECT_NE(dsn.find("Final-Recipient: rfc822;perm@example.test"), std::string::npos) << dsn;
  EXPECT_NE(dsn.find("Action: failed"), std::string::npos);
  EXPECT_NE(dsn.find("Status: 5.1.1"), std::string::npos);
  EXPECT_NE(dsn.find("Remote-MTA: dns; mx.remote.test"), std::string::npos);
  EXPECT_NE(dsn.find("Diagnostic-Code: smtp; 550 5.1.1 User unknown"), std::string::npos);
  EXPECT_EQ(dsn.find("ok@example.test"), std::string::npos);  // only the failed recipient
  bool to_sender = false;
  for (const auto& e : script_.delivered) {
    if (e.reverse_path.null) to_sender = e.recipients.at(0).mailbox.to_string() == "sender@example.test";
  }
  EXPECT_TRUE(to_sender);
}

TEST_F(SchedulerTest, SuccessNotificationOnlyWhenAsked) {
  start(fast());
  store(false, {"ok"});
  store(false, {"asked"}, proto::kNotifySuccess | proto::kNotifyFailure);
  ASSERT_TRUE(drained());
  // RFC 3461 4.1: NOTIFY=SUCCESS gets one; no NOTIFY gets none.
  ASSERT_EQ(script_.bounce_bodies.size(), 1u);
  const auto& dsn = script_.bounce_bodies[0];
  EXPECT_NE(dsn.find("Final-Recipient: rfc822;asked@example.test"), std::string::npos) << dsn;
  EXPECT_NE(dsn.find("Action: delivered"), std::string::npos);
  EXPECT_NE(dsn.find("Status: 2.0.0"), std::string::npos);
}

TEST_F(SchedulerTest, ExpiryTurnsDeferralIntoABounce) {
  start({1s, 1s, 0s, 0s});  // max_lifetime 0: the first temporary failure is final
  script_.temp_failures = 100;
  store(false, {"temp"});
  ASSERT_TRUE(drained());
  ASSERT_EQ(script_.bounce_bodies.size(), 1u);
  EXPECT_NE(script_.bounce_bodies[0].find("Status: 4.4.7"), std::string::npos) << script_.bounce_bodies[0];
  EXPECT_EQ(script_.calls["temp"], 1);
}

TEST_F(SchedulerTest, NeverBounceABounce) {
  start(fast());
  store(true, {"perm"});
  ASSERT_TRUE(drained());
  EXPECT_EQ(script_.calls["perm"], 1);
  EXPECT_EQ(script_.delivered.size(), 1u);  // nothing else was queued
}

TEST_F(SchedulerTest, RestartKeepsTheSchedule) {
  start({std::chrono::hours(1), std::chrono::hours(1), std::chrono::hours(5), 0s});
  auto id = store(false, {"temp"});
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(script_.calls["temp"], 1);
  scheduler_.reset();  // "restart": the message is found again...
  start({std::chrono::hours(1), std::chrono::hours(1), std::chrono::hours(5), 0s});
  scheduler_->enqueue(id);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(script_.calls["temp"], 1);  // ...and waits for its next attempt, an hour away
  EXPECT_TRUE(fsys::exists(spool_->active_path(id)));
}

TEST_F(SchedulerTest, DelayWarningOnceThenDelivery) {
  start({1s, 1s, std::chrono::hours(1), 1s});
  script_.temp_failures = 2;
  auto id = store(false, {"temp"});
  (void)id;
  ASSERT_TRUE(drained(15s));
  EXPECT_EQ(script_.calls["temp"], 3);
  ASSERT_EQ(script_.bounce_bodies.size(), 1u);  // one warning, not one per attempt
  EXPECT_NE(script_.bounce_bodies[0].find("Action: delayed"), std::string::npos);
  EXPECT_NE(script_.bounce_bodies[0].find("Will-Retry-Until:"), std::string::npos);
}

// tern queue hold / release: a held message is not tried, even flushed, and
// stays held across a restart (its state record); released, it goes now.
TEST_F(SchedulerTest, HoldKeepsAMessageUntilReleasedAcrossARestart) {
  RetryPolicy hourly{std::chrono::hours(1), std::chrono::hours(1), std::chrono::hours(24), 0s};
  start(hourly);
  auto id = store(false, {"temp"});
  for (int i = 0; i < 500 && script_.calls["temp"] < 1; ++i) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(scheduler_->hold({id, "0NOSUCHID"}).done, std::vector<std::string>{id});
  EXPECT_EQ(scheduler_->hold({"0NOSUCHID"}).errors.size(), 1u);
  EXPECT_EQ(scheduler_->flush({id}).errors.size(), 1u);  // held: not flushed
  EXPECT_EQ(scheduler_->index().find(id)->state, "held");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(script_.calls["temp"], 1);

  scheduler_->stop();
  start(hourly);
  scheduler_->enqueue(id, false);  // as a start recovers it
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(script_.calls["temp"], 1);
  EXPECT_TRUE(scheduler_->release({id}).errors.empty());
  ASSERT_TRUE(drained(5s));
  EXPECT_EQ(script_.calls["temp"], 2);
}

// tern queue flush: deferred ones now; one already due is not lost.
TEST_F(SchedulerTest, FlushTriesDeferredNowAndKeepsDueOnes) {
  RetryPolicy hourly{std::chrono::hours(1), std::chrono::hours(1), std::chrono::hours(24), 0s};
  start(hourly);
  auto deferred = store(false, {"temp"});
  for (int i = 0; i < 500 && script_.calls["temp"] < 1; ++i) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(100ms);
  scheduler_->stop();
  // A new start, no worker (step() does their work): the recovered message
  // and a new one wait in ready_ when the flush comes.
  start(hourly, false, 0);
  scheduler_->enqueue(deferred, false);
  auto due = store(false, {"ok"});
  EXPECT_EQ(scheduler_->flush({deferred, due}).done.size(), 2u);
  for (int i = 0; i < 100 && !fsys::is_empty(dir_ + "/active"); ++i) {
    while (scheduler_->step()) {
    }
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(fsys::is_empty(dir_ + "/active"));
  EXPECT_EQ(script_.calls["temp"], 2);  // its hour not waited for
  EXPECT_EQ(script_.calls["ok"], 1);
}

// tern queue delete: gone, no DSN; tern queue bounce: the pending
// recipients fail with 5.0.0, and the sender gets one DSN.
TEST_F(SchedulerTest, DeleteSendsNothingAndBounceSendsOneDsn) {
  script_.temp_failures = 10;
  start({std::chrono::hours(1), std::chrono::hours(1), std::chrono::hours(24), 0s});
  auto deleted = store(false, {"temp"});
  auto bounced = store(false, {"ok", "temp"});
  for (int i = 0; i < 500 && script_.calls["temp"] < 2; ++i) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(scheduler_->remove({deleted}).errors.empty());
  EXPECT_FALSE(fsys::exists(spool_->active_path(deleted)));
  EXPECT_TRUE(scheduler_->bounce({bounced}).errors.empty());
  ASSERT_TRUE(drained(5s));
  EXPECT_EQ(script_.calls["temp"], 2);  // neither tried again
  ASSERT_EQ(script_.bounce_bodies.size(), 1u);
  EXPECT_NE(script_.bounce_bodies[0].find("Status: 5.0.0"), std::string::npos);
  EXPECT_NE(script_.bounce_bodies[0].find("temp@example.test"), std::string::npos);
  EXPECT_EQ(script_.bounce_bodies[0].find("Final-Recipient: rfc822; ok@example.test"), std::string::npos);
  EXPECT_EQ(scheduler_->index().size(), 0u);
}

}  // namespace
}  // namespace tern::queue
