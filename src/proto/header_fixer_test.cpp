#include "proto/header_fixer.h"

#include <gtest/gtest.h>

namespace tern::proto {
namespace {

std::vector<HeaderField> submission_fields() {
  return {{"Date", "Mon, 07 Dec 2026 10:00:00 +0000"}, {"Message-ID", "<q1@mx.example.test>"}};
}

// Every split of the input into two feeds gives the same output.
std::string fix(std::string_view message) {
  std::string whole;
  HeaderFixer once(submission_fields());
  once.feed(message, whole);
  once.finish(whole);
  for (std::size_t cut = 0; cut <= message.size(); ++cut) {
    std::string split;
    HeaderFixer twice(submission_fields());
    twice.feed(message.substr(0, cut), split);
    twice.feed(message.substr(cut), split);
    twice.finish(split);
    EXPECT_EQ(split, whole) << "split at " << cut;
  }
  // And octet by octet.
  std::string bytes;
  HeaderFixer each(submission_fields());
  for (char c : message) each.feed(std::string_view(&c, 1), bytes);
  each.finish(bytes);
  EXPECT_EQ(bytes, whole);
  return whole;
}

constexpr std::string_view kAdded = "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <q1@mx.example.test>\r\n";

TEST(HeaderFixer, AddsMissingFieldsAtTheEndOfTheHeader) {
  EXPECT_EQ(fix("From: a@b.test\r\nSubject: hi\r\n\r\nbody\r\n"),
            "From: a@b.test\r\nSubject: hi\r\n" + std::string(kAdded) + "\r\nbody\r\n");
}

TEST(HeaderFixer, KeepsFieldsThatArePresentWhateverTheirCase) {
  EXPECT_EQ(fix("DATE: x\r\nmessage-id: <a@b>\r\n\r\nbody\r\n"), "DATE: x\r\nmessage-id: <a@b>\r\n\r\nbody\r\n");
  EXPECT_EQ(fix("Date: x\r\n\r\nbody\r\n"),
            "Date: x\r\nMessage-ID: <q1@mx.example.test>\r\n\r\nbody\r\n");
}

TEST(HeaderFixer, FoldedLinesAndNamesInTheBodyDoNotCount) {
  EXPECT_EQ(fix("Subject: a\r\n Date: folded\r\n\r\nDate: in the body\r\n"),
            "Subject: a\r\n Date: folded\r\n" + std::string(kAdded) + "\r\nDate: in the body\r\n");
  // "Dates:" and "X-Date:" are other fields.
  EXPECT_EQ(fix("X-Date: 1\r\nDates: 2\r\n\r\n"), "X-Date: 1\r\nDates: 2\r\n" + std::string(kAdded) + "\r\n");
}

TEST(HeaderFixer, ABodyWithoutAnEmptyLineGetsOne) {
  EXPECT_EQ(fix("Subject: a\r\nhello world\r\n"), "Subject: a\r\n" + std::string(kAdded) + "\r\nhello world\r\n");
  EXPECT_EQ(fix("hello\r\n"), std::string(kAdded) + "\r\nhello\r\n");
}

TEST(HeaderFixer, AMessageWithoutBodyGetsTheFieldsAtItsEnd) {
  EXPECT_EQ(fix("Subject: a\r\n"), "Subject: a\r\n" + std::string(kAdded));
  EXPECT_EQ(fix("Subject: a"), "Subject: a\r\n" + std::string(kAdded));
  EXPECT_EQ(fix(""), std::string(kAdded));
  EXPECT_EQ(fix("\r\n"), std::string(kAdded) + "\r\n");
}

TEST(HeaderFixer, ALongNameIsNoField) {
  std::string name(100, 'X');
  EXPECT_EQ(fix(name + ": v\r\n\r\n"), std::string(kAdded) + "\r\n" + name + ": v\r\n\r\n");
}

}  // namespace
}  // namespace tern::proto
