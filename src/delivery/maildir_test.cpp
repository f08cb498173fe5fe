#include "delivery/maildir.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tern::delivery {
namespace {

namespace fsys = std::filesystem;

class MaildirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tern-maildir-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    queue_file_ = dir_ + "/queued";
    std::ofstream(queue_file_, std::ios::binary) << "ENVELOPE\n\nSubject: hi\r\n\r\nline\r\nbare\rcr\r\n";
  }
  void TearDown() override { fsys::remove_all(dir_); }

  MaildirMessage message(std::size_t index = 0) {
    return {"QID", index, "bob@example.test", queue_file_, 10, false};
  }

  std::vector<std::string> files(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : fsys::directory_iterator(dir)) out.push_back(e.path().string());
    return out;
  }

  std::string dir_;
  std::string queue_file_;
};

TEST_F(MaildirTest, DeliversWithReturnPathAndLfLineEnds) {
  Maildir maildir(dir_ + "/mail", "mx.example.test");
  ASSERT_TRUE(maildir.deliver(message(), {"Alice", "Example.TEST"}).ok());
  auto delivered = files(dir_ + "/mail/example.test/alice/new");
  ASSERT_EQ(delivered.size(), 1u);
  std::stringstream content;
  content << std::ifstream(delivered[0]).rdbuf();
  EXPECT_EQ(content.str(),
            "Return-Path: <bob@example.test>\nDelivered-To: alice@example.test\n"
            "Subject: hi\n\nline\nbare\rcr\n");
  EXPECT_TRUE(fsys::is_empty(dir_ + "/mail/example.test/alice/tmp"));
}

TEST_F(MaildirTest, RepeatedDeliveryIsIdempotent) {
  Maildir maildir(dir_ + "/mail", "mx.example.test");
  ASSERT_TRUE(maildir.deliver(message(0), {"alice", "example.test"}).ok());
  ASSERT_TRUE(maildir.deliver(message(0), {"alice", "example.test"}).ok());
  EXPECT_EQ(files(dir_ + "/mail/example.test/alice/new").size(), 1u);
  ASSERT_TRUE(maildir.deliver(message(1), {"alice", "example.test"}).ok());
  EXPECT_EQ(files(dir_ + "/mail/example.test/alice/new").size(), 2u);
}

TEST_F(MaildirTest, LocalPartsCannotLeaveTheMailRoot) {
  Maildir maildir(dir_ + "/mail", "mx");
  EXPECT_EQ(maildir.mailbox_dir({"\"../../etc\"", "example.test"}), dir_ + "/mail/example.test/%2E.%2F..%2Fetc");
  EXPECT_EQ(maildir.mailbox_dir({"a/b", "example.test"}), dir_ + "/mail/example.test/a%2Fb");
  EXPECT_EQ(maildir.mailbox_dir({"\"\"", "example.test"}), dir_ + "/mail/example.test/%");
}

}  // namespace
}  // namespace tern::delivery
