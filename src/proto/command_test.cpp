#include "proto/command.h"

#include <gtest/gtest.h>

namespace tern::proto {
namespace {

TEST(Command, VerbsAreCaseInsensitive) {
  EXPECT_EQ(parse_command_line("ehlo client.example").verb, Verb::kEhlo);
  EXPECT_EQ(parse_command_line("EhLo client.example").argument, "client.example");
  EXPECT_EQ(parse_command_line("QUIT").verb, Verb::kQuit);
  EXPECT_EQ(parse_command_line("QUITX").verb, Verb::kUnknown);
  EXPECT_EQ(parse_command_line("").verb, Verb::kUnknown);
}

TEST(Command, MailAndRcptSplitTheirKeyword) {
  auto mail = parse_command_line("MAIL FROM:<a@b.example> SIZE=10");
  EXPECT_EQ(mail.verb, Verb::kMail);
  EXPECT_FALSE(mail.malformed);
  EXPECT_EQ(mail.argument, "<a@b.example> SIZE=10");
  auto spaced = parse_command_line("mail from: <a@b.example>");
  EXPECT_EQ(spaced.argument, "<a@b.example>");
  auto rcpt = parse_command_line("RCPT To:<a@b.example>");
  EXPECT_EQ(rcpt.argument, "<a@b.example>");
  EXPECT_TRUE(parse_command_line("MAIL <a@b.example>").malformed);
  EXPECT_TRUE(parse_command_line("RCPT FROM:<a@b.example>").malformed);
}

}  // namespace
}  // namespace tern::proto
