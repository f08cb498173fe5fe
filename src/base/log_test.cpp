#include "base/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "base/log_json.h"
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

// The JSON form carries each value back as it was before log_value().
TEST(JsonLog, FieldsOfTheTextLine) {
  EXPECT_EQ(json_log_fields("event=queued session=S1 from=<a@b.test> size=21"),
            R"("event":"queued","session":"S1","from":"<a@b.test>","size":"21")");
  for (std::string value : {"two words", "a=b", "q\"\n\x01", "", "back\\slash", "caf\xc3\xa9"}) {
    auto json = json_log_fields("event=x detail=" + log_value(value) + " n=1");
    std::string expected = "\"event\":\"x\",\"detail\":\"";
    for (unsigned char c : value) {
      if (c == '"' || c == '\\') expected += std::string("\\") + static_cast<char>(c);
      else if (c < 0x20) expected += fmt::format("\\u{:04x}", c);
      else expected += static_cast<char>(c);
    }
    EXPECT_EQ(json, expected + "\",\"n\":\"1\"") << value;
  }
  // Not UTF-8: replaced, so that the line stays valid JSON.
  EXPECT_EQ(json_log_fields("event=x v=" + log_value("\xff")), R"("event":"x","v":"\ufffd")");
  // Not key=value: the whole text as "message".
  EXPECT_EQ(json_log_fields("hello world"), R"("message":"hello world")");
  EXPECT_EQ(json_log_fields("event=x and more"), R"("message":"event=x and more")");
}

}  // namespace
}  // namespace tern
