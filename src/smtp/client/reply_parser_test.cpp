#include "smtp/client/reply_parser.h"

#include <gtest/gtest.h>

namespace tern::smtp::client {
namespace {

using Strings = std::vector<std::string>;

// A reply as "code enhanced [line|line]", or "error" when malformed.
std::string render(const Result<Reply>& reply) {
  if (!reply) return "error " + std::to_string(reply.error().code) + " " + reply.error().enhanced;
  std::string lines;
  for (const auto& line : reply->lines) lines += (lines.empty() ? "" : "|") + line;
  return std::to_string(reply->code) + " " + reply->enhanced + " [" + lines + "]";
}

// Feeds `pieces` in turn; takes every reply as it completes.
Strings parse(const std::vector<std::string_view>& pieces, ReplyLimits limits = {}) {
  ReplyParser parser(limits);
  Strings out;
  for (auto piece : pieces) {
    while (!piece.empty()) {
      piece.remove_prefix(parser.feed(piece));
      if (!parser.ready()) break;
      out.push_back(render(parser.take()));
    }
  }
  return out;
}

// The same replies wherever the input is cut, and byte by byte.
Strings parse_at_every_split(std::string_view input, ReplyLimits limits = {}) {
  auto whole = parse({input}, limits);
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    EXPECT_EQ(parse({input.substr(0, cut), input.substr(cut)}, limits), whole) << "cut at " << cut;
  }
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
  EXPECT_EQ(parse(bytes, limits), whole) << "byte by byte";
  return whole;
}

struct Case {
  const char* name;
  std::string input;
  Strings expected;
};

TEST(ReplyParser, Replies) {
  const Case cases[] = {
      {"one line", "250 Ok\r\n", {"250  [Ok]"}},
      {"enhanced", "250 2.1.5 Recipient ok\r\n", {"250 2.1.5 [Recipient ok]"}},
      {"code alone", "250\r\n", {"250  []"}},
      {"enhanced alone", "550 5.1.1\r\n", {"550 5.1.1 []"}},
      {"multiline", "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n",
       {"250  [mx.example|PIPELINING|SIZE 1000]"}},
      // RFC 2034 4: the enhanced code repeats on every line.
      {"multiline enhanced", "550-5.1.1 No such user\r\n550-5.1.1 here\r\n550 5.1.1 at all\r\n",
       {"550 5.1.1 [No such user|here|at all]"}},
      {"enhanced on the first line only", "451-4.3.0 Try\r\n451 later\r\n", {"451 4.3.0 [Try|later]"}},
      // RFC 3463 3.1: the class must match the reply code.
      {"class mismatch", "250 5.1.1 odd\r\n", {"250  [5.1.1 odd]"}},
      {"not enhanced", "250 2.1 ok\r\n250 2.0.0x\r\n250 12.0.0 a\r\n250 2.1234.0 a\r\n",
       {"250  [2.1 ok]", "250  [2.0.0x]", "250  [12.0.0 a]", "250  [2.1234.0 a]"}},
      {"three-digit fields", "550 5.123.456 x\r\n", {"550 5.123.456 [x]"}},
      {"bare LF", "220 hi\n250-a\n250 b\n", {"220  [hi]", "250  [a|b]"}},
      {"two replies", "250 2.1.0 Ok\r\n354 Go on\r\n", {"250 2.1.0 [Ok]", "354  [Go on]"}},
      {"code changes", "250-a\r\n251 b\r\n", {"error 451 4.5.0"}},
      {"garbage", "hello\r\n", {"error 451 4.5.0"}},
      {"no separator", "250x\r\n", {"error 451 4.5.0"}},
      {"first digit 1", "199 x\r\n", {"error 451 4.5.0"}},
      {"short", "25\r\n", {"error 451 4.5.0"}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(parse_at_every_split(c.input), c.expected) << c.name;
  }
}

TEST(ReplyParser, PartialReplyIsNotReady) {
  ReplyParser parser;
  EXPECT_EQ(parser.feed("250-a\r\n250 b"), 12u);
  EXPECT_FALSE(parser.ready());
  EXPECT_EQ(parser.feed("\r\n250 next\r\n"), 2u);  // stops after the reply
  ASSERT_TRUE(parser.ready());
  EXPECT_EQ(render(parser.take()), "250  [a|b]");
}

TEST(ReplyParser, Limits) {
  ReplyLimits limits;
  limits.max_line_length = 10;
  limits.max_lines = 2;
  // A long line is cut, not rejected; lines past the limit are read and dropped.
  EXPECT_EQ(parse_at_every_split("250 " + std::string(30, 'x') + "\r\n", limits), (Strings{"250  [xxxxxx]"}));
  EXPECT_EQ(parse_at_every_split("250-a\r\n250-b\r\n250-c\r\n250 d\r\n220 e\r\n", limits),
            (Strings{"250  [a|b]", "220  [e]"}));
}

TEST(ReplyParser, Reset) {
  ReplyParser parser;
  (void)parser.feed("250-a\r\n25");
  parser.reset();
  (void)parser.feed("220 b\r\n");
  ASSERT_TRUE(parser.ready());
  EXPECT_EQ(render(parser.take()), "220  [b]");
}

TEST(ReplyParser, Text) {
  Reply reply{550, "5.1.1", {"No such user", "", "see docs"}};
  EXPECT_EQ(reply.text(), "No such user see docs");
}

Reply ehlo(std::vector<std::string> lines) { return Reply{250, "", std::move(lines)}; }

TEST(Capabilities, Keywords) {
  auto caps = parse_capabilities(ehlo({"mx.example Hello", "PIPELINING", "SIZE 35882577", "8BITMIME", "smtputf8",
                                       "CHUNKING", "BINARYMIME", "DSN", "STARTTLS", "ENHANCEDSTATUSCODES",
                                       "AUTH PLAIN LOGIN", "X-UNKNOWN foo"}));
  Capabilities all{.esmtp = true, .pipelining = true, .size = true, .max_size = 35882577, .eight_bit_mime = true,
                   .smtputf8 = true, .chunking = true, .binary_mime = true, .dsn = true, .starttls = true,
                   .auth_plain = true, .auth_login = true, .enhanced_status_codes = true};
  EXPECT_EQ(caps, all);
  // The first line is the server's name, never a keyword.
  EXPECT_EQ(parse_capabilities(ehlo({"PIPELINING"})), Capabilities{.esmtp = true});
}

TEST(Capabilities, AuthMechanisms) {
  auto caps = [](std::vector<std::string> lines) {
    lines.insert(lines.begin(), "mx");
    return parse_capabilities(ehlo(lines));
  };
  EXPECT_TRUE(caps({"AUTH LOGIN"}).auth_login);
  EXPECT_FALSE(caps({"AUTH LOGIN"}).auth_plain);
  EXPECT_TRUE(caps({"auth cram-md5 plain"}).auth_plain);
  EXPECT_TRUE(caps({"AUTH=LOGIN PLAIN"}).auth_plain);  // before RFC 4954
  EXPECT_FALSE(caps({"AUTH"}).auth_plain);
  EXPECT_FALSE(caps({"AUTHX PLAIN"}).auth_plain);
}

TEST(Capabilities, Size) {
  auto size = [](std::string line) { return parse_capabilities(ehlo({"mx", line})); };
  EXPECT_TRUE(size("SIZE").size);
  EXPECT_EQ(size("SIZE").max_size, 0u);  // RFC 1870 4: no fixed limit
  EXPECT_EQ(size("SIZE 0").max_size, 0u);
  EXPECT_EQ(size("size 1000").max_size, 1000u);
  EXPECT_EQ(size("SIZE 99999999999999999999").max_size, 0u);
  EXPECT_TRUE(size("SIZE junk").size);
  EXPECT_FALSE(size("SIZEX 10").size);
}

}  // namespace
}  // namespace tern::smtp::client
