#include "smtp/client/data_writer.h"

#include <gtest/gtest.h>

namespace tern::smtp::client {
namespace {

using Mode = DataWriter::Mode;
using namespace std::string_literals;

// Encodes `content` given as pieces cut at `cuts` (increasing positions).
std::string encode(Mode mode, std::string_view content, const std::vector<std::size_t>& cuts) {
  DataWriter writer(mode);
  std::string out;
  std::size_t from = 0;
  for (auto cut : cuts) {
    writer.write(content.substr(from, cut - from), out);
    from = cut;
  }
  writer.write(content.substr(from), out);
  writer.finish(out);
  return out;
}

// The same output whether the content comes whole, in two pieces cut at any
// byte, or one byte at a time.
std::string encode_at_every_split(Mode mode, std::string_view content) {
  auto whole = encode(mode, content, {});
  for (std::size_t cut = 0; cut <= content.size(); ++cut) {
    EXPECT_EQ(encode(mode, content, {cut}), whole) << "cut at " << cut;
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < content.size(); ++i) every.push_back(i);
  EXPECT_EQ(encode(mode, content, every), whole) << "byte by byte";
  return whole;
}

struct Case {
  const char* name;
  Mode mode;
  std::string content;
  std::string expected;
};

TEST(DataWriter, Encodings) {
  const Case cases[] = {
      {"empty", Mode::kData, "", ".\r\n"},
      {"plain", Mode::kData, "a\r\nb\r\n", "a\r\nb\r\n.\r\n"},
      // RFC 5321 4.5.2: every line that starts with "." gets one more.
      {"dots", Mode::kData, ".\r\n..x\r\na.b\r\n.", "..\r\n...x\r\na.b\r\n..\r\n.\r\n"},
      {"dot first", Mode::kData, ".hidden\r\n", "..hidden\r\n.\r\n"},
      {"smuggle", Mode::kData, "a\r\n.\r\nMAIL FROM:<x>\r\n", "a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n"},
      {"no final CRLF", Mode::kData, "a\r\nb", "a\r\nb\r\n.\r\n"},
      // RFC 5321 2.3.8: no bare LF or CR on the wire.
      {"bare LF", Mode::kData, "a\nb\n.c\n", "a\r\nb\r\n..c\r\n.\r\n"},
      {"bare CR", Mode::kData, "a\rb\r", "a\r\nb\r\n.\r\n"},
      {"bare LF smuggle", Mode::kData, "a\n.\nb", "a\r\n..\r\nb\r\n.\r\n"},
      {"CR CR LF", Mode::kData, "a\r\r\n", "a\r\n\r\n.\r\n"},
      {"LF CR", Mode::kData, "a\n\rb", "a\r\n\r\nb\r\n.\r\n"},
      {"blank lines", Mode::kData, "\r\n\r\n", "\r\n\r\n.\r\n"},
      // BDAT: line ends fixed, no dot-stuffing, no end marker (RFC 3030 2).
      {"text", Mode::kText, ".a\nb", ".a\r\nb\r\n"},
      {"text empty", Mode::kText, "", ""},
      {"binary", Mode::kBinary, ".a\nb\r\0c"s, ".a\nb\r\0c"s},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(encode_at_every_split(c.mode, c.content), c.expected) << c.name;
  }
}

}  // namespace
}  // namespace tern::smtp::client
