// The header section as it streams in, and picking fields for h=.
#include "dkim/header.h"

#include <gtest/gtest.h>

namespace tern::dkim {
namespace {

constexpr std::string_view kMessage =
    "From: a@example.com\r\n"
    "Subject: one\r\n  two\r\n"
    "subject :three\r\n"
    "no colon here\r\n"
    "\r\n"
    "body\r\n\r\n";

TEST(HeaderSection, FieldsAndTheBodyStartAtEverySplit) {
  auto header_size = kMessage.find("\r\n\r\n") + 4;
  for (std::size_t split = 0; split <= kMessage.size(); ++split) {
    HeaderSection headers(1000);
    auto used = headers.feed(kMessage.substr(0, split));
    if (!headers.complete()) used += headers.feed(kMessage.substr(split));
    ASSERT_TRUE(headers.complete());
    ASSERT_EQ(used, header_size) << split;
    auto fields = headers.fields();
    ASSERT_EQ(fields.size(), 4u);
    EXPECT_EQ(fields[1].name, "Subject");
    EXPECT_EQ(fields[1].text, "Subject: one\r\n  two\r\n");
    EXPECT_EQ(fields[2].name, "subject");
    EXPECT_EQ(fields[3].name, "");
  }
}

TEST(HeaderSection, NoBodyNoHeadersAndOverflow) {
  HeaderSection only_headers(1000);
  EXPECT_EQ(only_headers.feed("From: a\r\nTo: b"), 14u);
  EXPECT_FALSE(only_headers.complete());
  only_headers.finish();
  ASSERT_EQ(only_headers.fields().size(), 2u);
  EXPECT_EQ(only_headers.fields()[1].text, "To: b");

  HeaderSection empty(1000);
  EXPECT_EQ(empty.feed("\r\nbody"), 2u);
  EXPECT_TRUE(empty.complete());
  EXPECT_TRUE(empty.fields().empty());

  HeaderSection small(20);
  EXPECT_EQ(small.feed(kMessage), kMessage.find("\r\n\r\n") + 4);
  EXPECT_TRUE(small.complete());
  EXPECT_TRUE(small.overflowed());
  EXPECT_TRUE(small.fields().empty());
}

TEST(HeaderPicker, BottomUpCaseInsensitiveAndOversigned) {
  HeaderSection headers(1000);
  headers.feed(kMessage);
  auto fields = headers.fields();
  HeaderPicker picker(fields);
  EXPECT_EQ(picker.pick("SUBJECT"), "subject :three\r\n");
  EXPECT_EQ(picker.pick("subject"), "Subject: one\r\n  two\r\n");
  EXPECT_EQ(picker.pick("Subject"), "");  // none left: over-signed
  EXPECT_EQ(picker.pick("from"), "From: a@example.com\r\n");
  EXPECT_EQ(picker.pick("To"), "");
  EXPECT_EQ(picker.pick(""), "");
}

}  // namespace
}  // namespace tern::dkim
