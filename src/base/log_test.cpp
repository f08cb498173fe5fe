#include "base/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "base/log_sink.h"

namespace tern {
namespace {

// Every line from several threads arrives whole and none is lost.
TEST(CoalescingSink, WritesEveryLineWhole) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  std::string received;
  std::thread reader([&] {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(pipe_fds[0], buf, sizeof buf)) > 0) received.append(buf, static_cast<std::size_t>(n));
  });
  {
    auto logger = std::make_shared<spdlog::logger>("t", std::make_shared<CoalescingSink>(pipe_fds[1]));
    logger->set_pattern("%v");
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t) {
      writers.emplace_back([&, t] {
        for (int i = 0; i < 1000; ++i) logger->info("event=test thread={} line={}", t, i);
      });
    }
    for (auto& w : writers) w.join();
    logger->flush();
  }
  ::close(pipe_fds[1]);
  reader.join();
  ::close(pipe_fds[0]);
  std::size_t lines = 0;
  for (char c : received) lines += c == '\n';
  EXPECT_EQ(lines, 4000u);
  EXPECT_NE(received.find("event=test thread=3 line=999\n"), std::string::npos);
}

TEST(LogValue, QuotesWhatWouldBreakKeyValue) {
  EXPECT_EQ(log_value("plain"), "plain");
  EXPECT_EQ(log_value("two words"), "\"two words\"");
  EXPECT_EQ(log_value("a=b"), "\"a=b\"");
  EXPECT_EQ(log_value("q\"\n"), "\"q\\\"\\x0a\"");
  EXPECT_EQ(log_value(""), "\"\"");
}

}  // namespace
}  // namespace tern
