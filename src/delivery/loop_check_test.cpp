#include "delivery/loop_check.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace tern::delivery {
namespace {

// A queue file: some envelope octets, then the message from `offset`.
queue::QueuedMessage stored(const std::string& message) {
  char path[] = "/tmp/tern-loop-XXXXXX";
  int fd = ::mkstemp(path);
  EXPECT_GE(fd, 0);
  ::unlink(path);
  std::string file = "envelope\n\n" + message;
  EXPECT_EQ(::write(fd, file.data(), file.size()), static_cast<ssize_t>(file.size()));
  queue::QueuedMessage m;
  m.fs = &queue::posix_fs();
  m.fd = fd;
  m.offset = 10;
  m.size = message.size();
  return m;
}

using Set = std::set<std::string>;

TEST(LoopCheck, DeliveredToOfTheHeaderOnly) {
  auto m = stored("Received: x\r\nDelivered-To: Alice@Example.TEST\r\ndelivered-to:  <team@example.test> \r\n"
                  "Subject: s\r\n\r\nDelivered-To: body@example.test\r\n");
  auto seen = delivered_to(m);
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(*seen, (Set{"alice@example.test", "team@example.test"}));
  auto error = loop_detected("alice@example.test");
  EXPECT_EQ(error.code, 554);
  EXPECT_EQ(error.enhanced, "5.4.6");
}

TEST(LoopCheck, NoneAndNoBody) {
  EXPECT_EQ(*delivered_to(stored("Subject: s\r\n\r\nbody\r\n")), Set{});
  EXPECT_EQ(*delivered_to(stored("Delivered-To: a@b.test\r\n")), Set{"a@b.test"});  // header without body
  EXPECT_EQ(*delivered_to(stored("")), Set{});
  EXPECT_EQ(*delivered_to(stored("X-Delivered-To: a@b.test\r\n\r\n")), Set{});
}

}  // namespace
}  // namespace tern::delivery
