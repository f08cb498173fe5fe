#include "queue/spool.h"
#include "queue/queued_message.h"
#include "queue/delivery_state.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

namespace tern::queue {
namespace {

namespace fsys = std::filesystem;

// The real file system, except that a chosen sync fails, as a failing disk
// would.
class FaultyFs : public PosixFs {
 public:
  // Syncs are numbered from 1; a commit makes two (data, then renames).
  Result<void> sync_filesystem(int handle) override {
    if (++syncs == fail_sync) return Error{452, "4.3.1", "Insufficient system storage", "injected"};
    return PosixFs::sync_filesystem(handle);
  }

  std::atomic<int> syncs{0};
  int fail_sync = 0;
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

  // Files in tmp/ with content: messages being received, or cut off.
  std::size_t written_tmp_files() {
    std::size_t n = 0;
    for (const auto& e : fsys::directory_iterator(dir_ + "/tmp")) n += fsys::file_size(e.path()) > 0;
    return n;
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
    EXPECT_EQ(written_tmp_files(), 0u);
  }
  // A half-written message from a crash is emptied; active ones are found;
  // the state of a message no longer queued goes.
  { std::ofstream(dir_ + "/tmp/HALF") << "tern-queue 1\n"; }
  { std::ofstream(dir_ + "/state/GONE") << "done 0\n"; }
  { std::ofstream(dir_ + "/state/A1") << "attempt 1\n"; }
  Spool spool(dir_);
  auto recovered = spool.open();
  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(*recovered, (std::vector<std::string>{"A1", "A2"}));
  EXPECT_EQ(fsys::file_size(dir_ + "/tmp/HALF"), 0u);
  EXPECT_FALSE(fsys::exists(dir_ + "/state/GONE"));
  EXPECT_TRUE(fsys::exists(dir_ + "/state/A1"));
}

TEST_F(SpoolTest, FailedSyncIsNotAcknowledgedAndLeavesNothing) {
  FaultyFs fs;
  fs.fail_sync = 3;  // the data sync of the second commit
  Spool spool(dir_, fs);
  ASSERT_TRUE(spool.open().ok());
  EXPECT_TRUE(store(spool, "B1").ok());
  auto failed = store(spool, "B2");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, 452);
  EXPECT_EQ(failed.error().enhanced, "4.3.1");
  EXPECT_FALSE(fsys::exists(spool.active_path("B2")));
  EXPECT_EQ(written_tmp_files(), 0u);
  EXPECT_TRUE(store(spool, "B3").ok());
}

TEST_F(SpoolTest, FailedRenameSyncRefusesTheBatch) {
  FaultyFs fs;
  fs.fail_sync = 2;  // the sync after the renames
  Spool spool(dir_, fs);
  ASSERT_TRUE(spool.open().ok());
  EXPECT_FALSE(store(spool, "C1").ok());
  EXPECT_FALSE(fsys::exists(spool.active_path("C1")));
}

TEST_F(SpoolTest, RemovedFilesAreReusedNotRecovered) {
  Spool spool(dir_);
  ASSERT_TRUE(spool.open().ok());
  ASSERT_TRUE(store(spool, "E1").ok());
  struct stat spent {}, spare {};
  ASSERT_EQ(::stat(spool.active_path("E1").c_str(), &spent), 0);
  spool.remove("E1");
  EXPECT_FALSE(fsys::exists(spool.active_path("E1")));
  // The same inode, emptied, waits in tmp/ to hold another message.
  ASSERT_EQ(::stat((dir_ + "/tmp/E1").c_str(), &spare), 0);
  EXPECT_EQ(spare.st_ino, spent.st_ino);
  EXPECT_EQ(spare.st_size, 0);
  ASSERT_TRUE(store(spool, "E2").ok());
  spool.stop();
  Spool again(dir_);
  auto recovered = again.open();
  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(*recovered, std::vector<std::string>{"E2"});
  EXPECT_EQ(written_tmp_files(), 0u);
}

// An id already in active/ (a collision) fails the new message with a 4xx;
// the message that had the name is untouched.
TEST_F(SpoolTest, CommitNeverReplacesAQueuedMessage) {
  Spool spool(dir_);
  ASSERT_TRUE(spool.open().ok());
  ASSERT_TRUE(store(spool, "F1").ok());
  auto before = fsys::file_size(spool.active_path("F1"));
  auto writer = spool.create("F1", envelope());
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->write("Subject: the other one, longer\r\n\r\nbody\r\n").ok());
  std::promise<Result<void>> done;
  spool.commit(std::move(writer.value()), [&](Result<void> r) { done.set_value(std::move(r)); });
  auto second = done.get_future().get();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, 451);
  EXPECT_EQ(fsys::file_size(spool.active_path("F1")), before);
}

// The envelope's size line holds the message's length: a file cut short is
// corrupt, never delivered truncated.
TEST_F(SpoolTest, SizeLineFindsACutShortFile) {
  Spool spool(dir_);
  ASSERT_TRUE(spool.open().ok());
  ASSERT_TRUE(store(spool, "G1").ok());
  auto loaded = load_queued(posix_fs(), "G1", spool.active_path("G1"));
  ASSERT_TRUE(loaded.ok()) << loaded.error().detail;
  EXPECT_EQ(loaded->size, std::string("Subject: x\r\n\r\nbody\r\n").size());
  fsys::resize_file(spool.active_path("G1"), fsys::file_size(spool.active_path("G1")) - 3);
  auto cut = load_queued(posix_fs(), "G1", spool.active_path("G1"));
  ASSERT_FALSE(cut.ok());
  EXPECT_TRUE(queue_file_corrupt(cut.error())) << cut.error().detail;
  // A file that cannot be read (here: a directory) is not corrupt: it may be
  // read later.
  fsys::create_directory(dir_ + "/active/G2");
  auto unreadable = load_queued(posix_fs(), "G2", spool.active_path("G2"));
  ASSERT_FALSE(unreadable.ok());
  EXPECT_FALSE(queue_file_corrupt(unreadable.error()));
  EXPECT_FALSE(queue_file_missing(unreadable.error()));
  auto missing = load_queued(posix_fs(), "G3", spool.active_path("G3"));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(queue_file_missing(missing.error()));
  ASSERT_TRUE(spool.set_aside("G1").ok());
  EXPECT_TRUE(fsys::exists(dir_ + "/corrupt/G1"));
  EXPECT_FALSE(fsys::exists(spool.active_path("G1")));
}

// Header fields known only at end of data (Authentication-Results) are
// stored after the message and read back apart from it; a file whose added
// fields are cut short is corrupt.
TEST_F(SpoolTest, AddedHeadersFollowTheMessage) {
  Spool spool(dir_);
  ASSERT_TRUE(spool.open().ok());
  auto writer = spool.create("J1", envelope());
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->write("Subject: x\r\n\r\nbody\r\n").ok());
  ASSERT_TRUE((*writer)->add_headers("Authentication-Results: mx.test; spf=pass\r\nDKIM-Signature: v=1\r\n").ok());
  EXPECT_FALSE((*writer)->add_headers("X: once only\r\n").ok());
  std::promise<Result<void>> done;
  spool.commit(std::move(writer.value()), [&](Result<void> r) { done.set_value(std::move(r)); });
  ASSERT_TRUE(done.get_future().get().ok());
  auto loaded = load_queued(posix_fs(), "J1", spool.active_path("J1"));
  ASSERT_TRUE(loaded.ok()) << loaded.error().detail;
  EXPECT_EQ(loaded->size, std::string("Subject: x\r\n\r\nbody\r\n").size());
  EXPECT_EQ(loaded->added_headers, "Authentication-Results: mx.test; spf=pass\r\nDKIM-Signature: v=1\r\n");
  auto size = fsys::file_size(spool.active_path("J1"));
  { std::ofstream(spool.active_path("J1"), std::ios::app) << "X-Appended: 1\r\n"; }
  auto appended = load_queued(posix_fs(), "J1", spool.active_path("J1"));
  ASSERT_FALSE(appended.ok());
  EXPECT_TRUE(queue_file_corrupt(appended.error())) << appended.error().detail;
  fsys::resize_file(spool.active_path("J1"), size - 1);
  auto cut = load_queued(posix_fs(), "J1", spool.active_path("J1"));
  ASSERT_FALSE(cut.ok());
  EXPECT_TRUE(queue_file_corrupt(cut.error())) << cut.error().detail;
}

// A queue directory that cannot be listed stops the start: an empty list
// taken for a real one would make every state file look orphaned.
TEST_F(SpoolTest, UnlistableDirectoryFailsTheStart) {
  { Spool spool(dir_); ASSERT_TRUE(spool.open().ok()); }
  { std::ofstream(dir_ + "/state/H1") << "attempt 1\n"; }
  fsys::remove_all(dir_ + "/active");
  { std::ofstream(dir_ + "/active") << "not a directory\n"; }
  Spool spool(dir_);
  EXPECT_FALSE(spool.open().ok());
  EXPECT_TRUE(fsys::exists(dir_ + "/state/H1"));
}

TEST_F(SpoolTest, DiscardedWriterLeavesNothing) {
  Spool spool(dir_);
  ASSERT_TRUE(spool.open().ok());
  {
    auto writer = spool.create("D1", envelope());
    ASSERT_TRUE(writer.ok());
  }
  EXPECT_EQ(written_tmp_files(), 0u);
  EXPECT_TRUE(fsys::is_empty(dir_ + "/active"));
}

// DSNs held at a crash (Spool::commit_now): released when their message
// has recorded them or has left the queue, dropped when the crash lost the
// record (the message sends them again).
TEST_F(SpoolTest, HeldDsnsJoinTheQueueOnlyWhenRecorded) {
  { Spool spool(dir_); ASSERT_TRUE(spool.open().ok()); }
  auto put = [&](const std::string& path, const std::string& text) { std::ofstream(dir_ + path) << text; };
  put("/active/P2", "x");
  put("/active/P3", "x");
  put("/state/P2", std::string(kAppendStart) + state_record("bounced C5 0"));
  for (auto name : {"A1.X1", "A2.X2", "A3.X3"}) put(std::string("/dsn/") + name, "dsn");  // X* left the queue
  put("/dsn/B4.P3", "dsn");  // P3 never recorded it
  put("/dsn/C5.P2", "dsn");
  Spool spool(dir_);
  auto recovered = spool.open();
  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(*recovered, (std::vector<std::string>{"A1", "A2", "A3", "C5", "P2", "P3"}));
  EXPECT_TRUE(fsys::is_empty(dir_ + "/dsn"));
}

}  // namespace
}  // namespace tern::queue
