#include "queue/spool.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>

namespace tern::queue {
namespace {

namespace fsys = std::filesystem;

// The real file system, except that chosen fdatasync / directory fsync
// calls fail (numbered from 1), as a failing disk would.
class FaultyFs : public FileSystem {
 public:
  Result<int> create(const std::string& p) override { return posix_fs().create(p); }
  Result<void> write(int fd, std::string_view d) override { return posix_fs().write(fd, d); }
  Result<void> sync(int fd) override {
    if (++syncs == fail_sync) return Error{452, "4.3.1", "Insufficient system storage", "injected"};
    return posix_fs().sync(fd);
  }
  void close(int fd) override { posix_fs().close(fd); }
  Result<void> rename(const std::string& a, const std::string& b) override { return posix_fs().rename(a, b); }
  Result<void> sync_dir(const std::string& p) override {
    if (fail_dir_sync) return Error{451, "4.3.0", "Local error in processing", "injected"};
    return posix_fs().sync_dir(p);
  }
  void unlink(const std::string& p) override { posix_fs().unlink(p); }

  std::atomic<int> syncs{0};
  int fail_sync = 0;
  bool fail_dir_sync = false;
};

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tern-spool-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { fsys::remove_all(dir_); }

  proto::Envelope envelope() {
    proto::Envelope e;
    e.reverse_path.null = true;
    e.recipients.push_back({{"alice", "example.test"}, {}});
    return e;
  }

  Result<void> store(Spool& spool, const std::string& id) {
    auto writer = spool.create(id, envelope());
    if (!writer) return writer.error();
    if (auto w = (*writer)->write("Subject: x\r\n\r\nbody\r\n"); !w) return w;
    std::promise<Result<void>> done;
    spool.commit(std::move(writer.value()), [&](Result<void> r) { done.set_value(std::move(r)); });
    return done.get_future().get();
  }

  std::string dir_;
};

TEST_F(SpoolTest, CommitMovesIntoActiveAndRecoveryListsIt) {
  {
    Spool spool(dir_);
    ASSERT_TRUE(spool.open().ok());
    ASSERT_TRUE(store(spool, "A1").ok());
    ASSERT_TRUE(store(spool, "A2").ok());
    EXPECT_TRUE(fsys::exists(spool.active_path("A1")));
    EXPECT_TRUE(fsys::is_empty(dir_ + "/tmp"));
  }
  // A half-written message from a crash is cleaned up; active ones are found.
  { std::ofstream(dir_ + "/tmp/HALF") << "tern-queue 1\n"; }
  Spool spool(dir_);
  auto recovered = spool.open();
  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(*recovered, (std::vector<std::string>{"A1", "A2"}));
  EXPECT_FALSE(fsys::exists(dir_ + "/tmp/HALF"));
}

TEST_F(SpoolTest, FailedSyncIsNotAcknowledgedAndLeavesNothing) {
  FaultyFs fs;
  fs.fail_sync = 2;
  Spool spool(dir_, fs);
  ASSERT_TRUE(spool.open().ok());
  EXPECT_TRUE(store(spool, "B1").ok());
  auto failed = store(spool, "B2");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, 452);
  EXPECT_EQ(failed.error().enhanced, "4.3.1");
  EXPECT_FALSE(fsys::exists(spool.active_path("B2")));
  EXPECT_TRUE(fsys::is_empty(dir_ + "/tmp"));
  EXPECT_TRUE(store(spool, "B3").ok());
}

TEST_F(SpoolTest, FailedDirectorySyncRefusesTheBatch) {
  FaultyFs fs;
  fs.fail_dir_sync = true;
  Spool spool(dir_, fs);
  ASSERT_TRUE(spool.open().ok());
  EXPECT_FALSE(store(spool, "C1").ok());
  EXPECT_FALSE(fsys::exists(spool.active_path("C1")));
}

TEST_F(SpoolTest, DiscardedWriterLeavesNothing) {
  Spool spool(dir_);
  ASSERT_TRUE(spool.open().ok());
  {
    auto writer = spool.create("D1", envelope());
    ASSERT_TRUE(writer.ok());
  }
  EXPECT_TRUE(fsys::is_empty(dir_ + "/tmp"));
  EXPECT_TRUE(fsys::is_empty(dir_ + "/active"));
}

}  // namespace
}  // namespace tern::queue
