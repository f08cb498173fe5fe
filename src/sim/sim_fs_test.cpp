#include "sim/sim_fs.h"

#include <gtest/gtest.h>

namespace tern::sim {
namespace {

struct Disk {
  explicit Disk(std::uint64_t seed) : rng(seed), fs(rng, history) { EXPECT_TRUE(fs.make_dirs("/d/new").ok()); }
  void write_file(const std::string& path, const std::string& text) {
    auto fd = fs.create(path);
    ASSERT_TRUE(fd.ok());
    ASSERT_TRUE(fs.write(*fd, text).ok());
    fs.close(*fd);
  }
  bool sync() {
    auto handle = fs.open_sync_handle("/d");
    auto ok = fs.sync_filesystem(*handle).ok();
    fs.close(*handle);
    return ok;
  }
  SeededRng rng;
  std::vector<std::string> history;
  SimFs fs;
};

TEST(SimFs, WhatWasSyncedSurvivesAPowerCut) {
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    Disk disk(seed);
    disk.write_file("/d/a", "hello");
    ASSERT_TRUE(disk.sync());
    disk.write_file("/d/b", "later");
    disk.fs.cut_power();
    disk.fs.restart();
    EXPECT_EQ(disk.fs.contents("/d/a").value_or("-"), "hello") << seed;
  }
}

// The Maildir hole: a file renamed before its data is synced can come back
// with its name and without its data.
TEST(SimFs, ARenameCanReachTheDiskBeforeTheData) {
  std::size_t empty = 0, whole = 0;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    Disk disk(seed);
    ASSERT_TRUE(disk.sync());
    disk.write_file("/d/tmp", "message");
    ASSERT_TRUE(disk.fs.rename("/d/tmp", "/d/new/m").ok());
    disk.fs.cut_power();
    disk.fs.restart();
    auto text = disk.fs.contents("/d/new/m");
    if (text && *text == "message") ++whole;
    if (text && *text != "message") ++empty;
  }
  EXPECT_GT(empty, 0u);
  EXPECT_GT(whole, 0u);
}

TEST(SimFs, KillKeepsThePageCache) {
  Disk disk(7);
  disk.write_file("/d/a", "cached");
  disk.fs.kill();
  EXPECT_FALSE(disk.fs.create("/d/b").ok());  // a dead process does nothing
  disk.fs.restart();
  EXPECT_EQ(disk.fs.contents("/d/a").value_or(""), "cached");
  EXPECT_FALSE(disk.fs.contents("/d/b"));
}

TEST(SimFs, ThePowerGoesOutAtTheNthCall) {
  Disk disk(3);
  disk.fs.cut_power_at(disk.fs.calls() + 2);
  EXPECT_TRUE(disk.fs.create("/d/a").ok());
  EXPECT_FALSE(disk.fs.create("/d/b").ok());
  EXPECT_TRUE(disk.fs.frozen());
}

// errseq_t: a writeback error is reported once to each handle that was open
// before it; a handle opened after someone else has seen it hears nothing.
TEST(SimFs, AWritebackErrorIsReportedOncePerHandle) {
  Disk disk(11);
  auto kept = disk.fs.open_sync_handle("/d");
  disk.write_file("/d/a", "data");
  disk.fs.writeback_error();
  disk.fs.other_program_syncs();  // it sees the error first
  auto fresh = disk.fs.open_sync_handle("/d");
  EXPECT_TRUE(disk.fs.sync_filesystem(*fresh).ok());   // the hole of a handle per sync
  EXPECT_FALSE(disk.fs.sync_filesystem(*kept).ok());   // a long-lived handle hears of it
  EXPECT_TRUE(disk.fs.sync_filesystem(*kept).ok());    // once
}

TEST(SimFs, AnErrorNoOneHasSeenReachesANewHandle) {
  Disk disk(12);
  disk.write_file("/d/a", "data");
  disk.fs.writeback_error();
  EXPECT_FALSE(disk.sync());
  EXPECT_TRUE(disk.sync());
}

}  // namespace
}  // namespace tern::sim
