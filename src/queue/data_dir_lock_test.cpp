#include "queue/data_dir_lock.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <optional>

namespace tern::queue {
namespace {

TEST(DataDirLock, SecondHolderIsRefusedUntilTheFirstLets) {
  char tmpl[] = "/tmp/tern-lock-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  auto data_dir = dir + "/data";  // created by acquire()
  {
    auto first = DataDirLock::acquire(data_dir);
    ASSERT_TRUE(first.ok()) << first.error().detail;
    // flock(2) locks belong to the open file description: a second open in
    // the same process is refused like another process would be.
    auto second = DataDirLock::acquire(data_dir);
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.error().detail.find("the mail system is already running"), std::string::npos);
    EXPECT_NE(second.error().detail.find("(pid " + std::to_string(::getpid()) + ")"), std::string::npos)
        << second.error().detail;
  }
  // Released with its holder; the lock file left behind blocks nothing.
  EXPECT_TRUE(std::filesystem::exists(data_dir + "/lock"));
  EXPECT_TRUE(DataDirLock::acquire(data_dir).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tern::queue
