// A start after a crash must not act on what only the page cache holds
// (queue/spool.h, Spool::settle): a sync that failed leaves the lost data
// readable in the cache, and a process killed before it wrote it again
// takes that knowledge with it. On the simulated disk, which keeps cache and
// disk apart, this can be seen.
#include <gtest/gtest.h>

#include "queue/delivery_state.h"
#include "queue/spool.h"
#include "sim/sim_fs.h"

namespace tern::sim {
namespace {

class FixedClock : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::from_time_t(1767225600); }
};

struct Machine {
  explicit Machine(std::uint64_t seed) : rng(seed), fs(rng, history) {}
  // The spool of one process: opened, then (on a crash) left behind.
  std::unique_ptr<queue::Spool> start() {
    auto spool = std::make_unique<queue::Spool>("/q", fs, clock);
    auto opened = spool->open(0);
    EXPECT_TRUE(opened.ok()) << (opened.ok() ? "" : opened.error().detail);
    return spool;
  }
  void crash(std::unique_ptr<queue::Spool>& spool, bool power_cut) {
    power_cut ? fs.cut_power() : fs.kill();
    spool.reset();
    fs.restart();
  }
  std::string disk(const std::string& path) { return fs.durable_contents(path).value_or(""); }

  SeededRng rng;
  std::vector<std::string> history;
  SimFs fs;
  FixedClock clock;
};

const std::string kState = "/q/state/M1";
const std::string kRecords = queue::state_record("done 0") + queue::state_record("bounced D1 1");

// The records of a message, written; the sync after them fails and loses
// them on the disk (for the seeds where the writeback drops that write).
bool lose_in_writeback(Machine& m, queue::Spool& spool) {
  auto fd = m.fs.create("/q/active/M1");
  if (!fd) return false;
  (void)m.fs.write(*fd, "queue file");
  m.fs.close(*fd);
  if (!spool.syncer().sync()) return false;
  if (!queue::append_state(m.fs, kState, kRecords)) return false;
  m.fs.writeback_error();
  (void)spool.syncer().sync();
  return m.disk(kState).empty() && m.fs.contents(kState).value_or("").find("done 0") != std::string::npos;
}

TEST(Settle, AStartAfterACrashMakesWhatItReadsDurable) {
  int seen = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    Machine m(seed);
    auto spool = m.start();
    if (!lose_in_writeback(m, *spool)) continue;
    ++seen;
    m.crash(spool, /*power_cut=*/false);  // kill -9: the cache, lost data and all, survives
    spool = m.start();                    // reads "done 0": it must be on the disk now
    m.crash(spool, /*power_cut=*/true);
    auto state = queue::parse_state(m.disk(kState), 2);
    EXPECT_EQ(state.done, (std::vector<bool>{true, true})) << seed;
    EXPECT_EQ(state.dsns.count("D1"), 1u) << seed;
  }
  EXPECT_GT(seen, 5);  // the writeback loses the write for about half the seeds
}

TEST(Settle, ACleanStopLeavesAMarkThatSparesTheNextStart) {
  Machine m(1);
  auto spool = m.start();
  ASSERT_TRUE(m.fs.create("/q/active/M1").ok());
  ASSERT_TRUE(queue::append_state(m.fs, kState, kRecords).ok());
  spool->stop();
  EXPECT_TRUE(m.fs.durable_name("/q/clean"));
  auto size = m.fs.contents(kState)->size();
  spool = m.start();
  EXPECT_EQ(m.fs.contents(kState)->size(), size);  // not written again
  EXPECT_FALSE(m.fs.durable_name("/q/clean"));     // gone, durably, before anything else
  m.crash(spool, /*power_cut=*/false);
  spool = m.start();
  EXPECT_GT(m.fs.contents(kState)->size(), size);  // after a crash, it is
}

TEST(Settle, AStopAfterAFailedSyncLeavesNoMark) {
  Machine m(3);
  auto spool = m.start();
  ASSERT_TRUE(queue::append_state(m.fs, kState, kRecords).ok());
  m.fs.writeback_error();
  (void)spool->syncer().sync();
  spool->stop();
  EXPECT_FALSE(m.fs.contents("/q/clean"));
}

}  // namespace
}  // namespace tern::sim
