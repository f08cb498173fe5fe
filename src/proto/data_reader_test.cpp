#include "proto/data_reader.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

namespace tern::proto {
namespace {

struct ReadResult {
  std::string content;
  std::size_t consumed = 0;
  bool done = false;
  bool bare = false;
  bool too_long = false;
};

// Feeds `input` cut at `split` (and everything after in one piece).
ReadResult read(std::string_view input, std::size_t split, std::size_t max_line = 1000) {
  DataReader reader(max_line);
  ReadResult r;
  r.consumed = reader.feed(input.substr(0, split), r.content);
  if (!reader.done()) r.consumed += reader.feed(input.substr(split), r.content);
  r.done = reader.done();
  r.bare = reader.bare_line_ending();
  r.too_long = reader.line_too_long();
  return r;
}

// Every expectation holds at every split position of the input.
void expect_at_every_split(std::string_view input, std::string_view content, std::size_t consumed,
                           bool bare) {
  for (std::size_t split = 0; split <= input.size(); ++split) {
    auto r = read(input, split);
    EXPECT_TRUE(r.done) << "split " << split;
    EXPECT_EQ(r.content, content) << "split " << split;
    EXPECT_EQ(r.consumed, consumed) << "split " << split;
    EXPECT_EQ(r.bare, bare) << "split " << split;
  }
}

TEST(DataReader, EndsAtCrLfDotCrLfAndUnstuffs) {
  expect_at_every_split("Subject: x\r\n\r\n..dot\r\n.\r\nMAIL", "Subject: x\r\n\r\n.dot\r\n", 24, false);
}

TEST(DataReader, EmptyMessage) { expect_at_every_split(".\r\nQUIT\r\n", "", 3, false); }

TEST(DataReader, BareLfIsContentAndFlagged) {
  expect_at_every_split("a\n.\nb\r\n.\r\n", "a\n.\nb\r\n", 10, true);
}

TEST(DataReader, LongLinesAreFlagged) {
  std::string line(999, 'x');
  EXPECT_FALSE(read(line.substr(0, 998) + "\r\n.\r\n", 5).too_long);
  EXPECT_TRUE(read(line + "\r\n.\r\n", 5).too_long);
}

// Every sequence of the shared SMTP smuggling corpus: the reader stops at the
// sequence only when it is the strict terminator, otherwise at the final one.
TEST(DataReader, SmugglingConformance) {
  std::ifstream in(TERN_SHARED_DIR "/conformance/smuggling/end-of-data.json");
  ASSERT_TRUE(in);
  auto data = nlohmann::json::parse(in);
  int checked = 0;
  for (const auto& seq : data["sequences"]) {
    std::string bytes = seq["bytes"];
    bool strict = seq["strict_end_of_data"];
    std::string input = "Subject: t\r\n\r\nbody" + bytes + "more\r\n.\r\n";
    for (std::size_t split = 0; split <= input.size(); ++split) {
      auto r = read(input, split);
      ASSERT_TRUE(r.done) << seq["id"];
      std::size_t expected = strict ? std::string("Subject: t\r\n\r\nbody").size() + bytes.size()
                                    : input.size();
      EXPECT_EQ(r.consumed, expected) << seq["id"] << " split " << split;
      bool has_bare = seq.contains("contains_bare") &&
                      (std::find(seq["contains_bare"].begin(), seq["contains_bare"].end(), "CR") !=
                           seq["contains_bare"].end() ||
                       std::find(seq["contains_bare"].begin(), seq["contains_bare"].end(), "LF") !=
                           seq["contains_bare"].end());
      if (!strict && has_bare) {
        EXPECT_TRUE(r.bare) << seq["id"];
      }
    }
    ++checked;
  }
  EXPECT_GE(checked, 19);
}

TEST(ReceivedCounter, CountsOnlyHeaderFieldsAtAnySplit) {
  std::string message =
      "Received: from a\r\n\tby b\r\nreceived: x\r\nSubject: Received: no\r\n\r\nReceived: body\r\n";
  for (std::size_t split = 0; split <= message.size(); ++split) {
    ReceivedCounter counter;
    counter.feed(std::string_view(message).substr(0, split));
    counter.feed(std::string_view(message).substr(split));
    EXPECT_EQ(counter.count(), 2u) << split;
  }
}

// RFC 5322 4.5.3: "Received :" (white space before the colon) is the
// obsolete syntax of the same field and counts too.
TEST(ReceivedCounter, CountsObsoleteWhiteSpaceBeforeColonAtAnySplit) {
  std::string message =
      "Received : a\r\nRECEIVED\t:b\r\nReceived  \t : c\r\nReceivedX: no\r\nReceived no:\r\n"
      "Receive: no\r\n\r\nReceived : body\r\n";
  for (std::size_t split = 0; split <= message.size(); ++split) {
    ReceivedCounter counter;
    counter.feed(std::string_view(message).substr(0, split));
    counter.feed(std::string_view(message).substr(split));
    EXPECT_EQ(counter.count(), 3u) << split;
  }
}

}  // namespace
}  // namespace tern::proto
