// The formatting helpers of DSNs (dsn_format.h).
#include "queue/dsn_test_support.h"

namespace tern::queue {
namespace {

using namespace dsn_test;

// --- formatting -------------------------------------------------------------

TEST(DsnFormat, Dates) {
  EXPECT_EQ(format_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(format_date(kArrival), "Tue, 14 Nov 2023 22:13:20 +0000");
  EXPECT_EQ(format_date(951782400), "Tue, 29 Feb 2000 00:00:00 +0000");
}

TEST(DsnFormat, FieldsFoldAtSpaces) {
  std::string out;
  append_field(out, "Subject", "short");
  EXPECT_EQ(out, "Subject: short\r\n");
  out.clear();
  std::string words;
  for (int i = 0; i < 30; ++i) words += "abcdefg ";
  append_field(out, "X-Long", words);
  for (const auto& line : split_lines(out)) EXPECT_LE(line.size(), kSoftLineLimit);
  EXPECT_EQ(out.substr(0, 15), "X-Long: abcdefg");
  EXPECT_NE(out.find("\r\n abcdefg"), std::string::npos);
  out.clear();
  append_field(out, "X-Huge", std::string(3000, 'z'));
  auto lines = split_lines(out);
  ASSERT_EQ(lines.size(), 5u);  // "X-Huge:" alone, then 997 + 997 + 997 + 9
  for (const auto& line : lines) EXPECT_LE(line.size(), kHardLineLimit);
}

TEST(DsnFormat, CleanText) {
  EXPECT_EQ(clean_text("  a\r\n\tb  c ", false), "a b c");
  EXPECT_EQ(clean_text("caf\xC3\xA9", false), "caf??");
  EXPECT_EQ(clean_text("caf\xC3\xA9", true), "caf\xC3\xA9");
  EXPECT_EQ(clean_text("bad \xC3", true), "bad ?");
  EXPECT_EQ(clean_text("del\x7F", false), "del");
}


}  // namespace
}  // namespace tern::queue
