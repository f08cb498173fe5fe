#include "delivery/maildir.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tern::delivery {
namespace {

namespace fsys = std::filesystem;

constexpr std::string_view kMessage = "Subject: hi\r\n\r\nline\r\nbare\rcr\r\n";

class MaildirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tern-maildir-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    auto queue_file = dir_ + "/queued";
    // The header fields added at reception follow the message (spool.h).
    std::ofstream(queue_file, std::ios::binary) << "ENVELOPE\n\n" << kMessage << "Authentication-Results: x; none\r\n";
    fd_ = ::open(queue_file.c_str(), O_RDONLY);
  }
  void TearDown() override {
    ::close(fd_);
    fsys::remove_all(dir_);
  }

  MaildirMessage message(std::size_t index = 0, bool maybe_delivered = true) {
    return {.queue_id = "QID",
            .recipient_index = index,
            .return_path = "bob@example.test",
            .fd = fd_,
            .offset = 10,
            .maybe_delivered = maybe_delivered,
            .size = kMessage.size()};
  }

  Result<std::string> deliver(Maildir& maildir, const MaildirMessage& m, proto::Mailbox rcpt) {
    queue::DeliveryBatch batch(queue::posix_fs(), nullptr);
    auto result = maildir.deliver(m, rcpt, batch);
    EXPECT_TRUE(batch.commit().ok());
    return result;
  }

  std::vector<std::string> files(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : fsys::directory_iterator(dir)) out.push_back(e.path().string());
    return out;
  }

  std::string dir_;
  int fd_ = -1;
};

TEST_F(MaildirTest, DeliversWithReturnPathAndLfLineEnds) {
  Maildir maildir(dir_ + "/mail", "mx.example.test");
  auto path = deliver(maildir, message(0, false), {"Alice", "Example.TEST"});
  ASSERT_TRUE(path.ok());
  auto delivered = files(dir_ + "/mail/example.test/alice/new");
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(*path, delivered[0]);
  std::stringstream content;
  content << std::ifstream(delivered[0]).rdbuf();
  EXPECT_EQ(content.str(),
            "Return-Path: <bob@example.test>\nDelivered-To: alice@example.test\n"
            "Subject: hi\n\nline\nbare\rcr\n");
  EXPECT_TRUE(fsys::is_empty(dir_ + "/mail/example.test/alice/tmp"));
}

// Header fields added at reception go first (after Return-Path and
// Delivered-To), with LF line ends; nothing after the message is copied.
TEST_F(MaildirTest, AddedHeadersGoInFront) {
  Maildir maildir(dir_ + "/mail", "mx.example.test");
  auto m = message(0, false);
  m.added_headers = "Authentication-Results: mx.example.test; spf=pass\r\n";
  auto path = deliver(maildir, m, {"alice", "example.test"});
  ASSERT_TRUE(path.ok());
  std::stringstream content;
  content << std::ifstream(*path).rdbuf();
  EXPECT_EQ(content.str(),
            "Return-Path: <bob@example.test>\nDelivered-To: alice@example.test\n"
            "Authentication-Results: mx.example.test; spf=pass\nSubject: hi\n\nline\nbare\rcr\n");
}

TEST_F(MaildirTest, RepeatedDeliveryIsIdempotent) {
  Maildir maildir(dir_ + "/mail", "mx.example.test");
  ASSERT_TRUE(deliver(maildir, message(0, false), {"alice", "example.test"}).ok());
  ASSERT_TRUE(deliver(maildir, message(0, true), {"alice", "example.test"}).ok());
  EXPECT_EQ(files(dir_ + "/mail/example.test/alice/new").size(), 1u);
  ASSERT_TRUE(deliver(maildir, message(1), {"alice", "example.test"}).ok());
  EXPECT_EQ(files(dir_ + "/mail/example.test/alice/new").size(), 2u);
  // Read and flagged by a mail reader: moved to cur/ with ":2,S".
  auto box = dir_ + "/mail/example.test/alice";
  fsys::rename(box + "/new/QID.R1.mx.example.test", box + "/cur/QID.R1.mx.example.test:2,S");
  ASSERT_TRUE(deliver(maildir, message(1), {"alice", "example.test"}).ok());
  EXPECT_EQ(files(box + "/new").size(), 1u);
}

TEST_F(MaildirTest, LocalPartsCannotLeaveTheMailRoot) {
  Maildir maildir(dir_ + "/mail", "mx");
  EXPECT_EQ(maildir.mailbox_dir({"\"../../etc\"", "example.test"}), dir_ + "/mail/example.test/%2E.%2F..%2Fetc");
  EXPECT_EQ(maildir.mailbox_dir({"a/b", "example.test"}), dir_ + "/mail/example.test/a%2Fb");
  EXPECT_EQ(maildir.mailbox_dir({"\"\"", "example.test"}), dir_ + "/mail/example.test/%");
}

// The name in new/ comes only after the data is synced (a power cut must
// not leave a name without its data).
TEST_F(MaildirTest, TheNameInNewComesAfterTheBatchSyncs) {
  Maildir maildir(dir_ + "/mail", "mx");
  queue::DeliveryBatch batch(queue::posix_fs(), nullptr);
  auto path = maildir.deliver(message(0, false), {"alice", "example.test"}, batch);
  ASSERT_TRUE(path.ok());
  EXPECT_TRUE(files(dir_ + "/mail/example.test/alice/new").empty());
  EXPECT_EQ(files(dir_ + "/mail/example.test/alice/tmp").size(), 1u);
  ASSERT_TRUE(batch.commit().ok());
  EXPECT_EQ(files(dir_ + "/mail/example.test/alice/new"), std::vector<std::string>{*path});
  EXPECT_TRUE(files(dir_ + "/mail/example.test/alice/tmp").empty());
}

// An earlier copy counts only with the length of a whole copy: an empty
// one (its data lost in a power cut) is replaced.
TEST_F(MaildirTest, ADamagedEarlierCopyIsDeliveredAgain) {
  Maildir maildir(dir_ + "/mail", "mx");
  auto first = deliver(maildir, message(0, false), {"alice", "example.test"});
  ASSERT_TRUE(first.ok());
  auto whole = fsys::file_size(*first);
  fsys::resize_file(*first, 0);
  auto again = deliver(maildir, message(0, true), {"alice", "example.test"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(fsys::file_size(*first), whole);
  // A whole copy is left as it is, and not delivered twice.
  auto third = deliver(maildir, message(0, true), {"alice", "example.test"});
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(files(dir_ + "/mail/example.test/alice/new").size(), 1u);
}

}  // namespace
}  // namespace tern::delivery
