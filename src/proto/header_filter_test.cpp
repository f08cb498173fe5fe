#include "proto/header_filter.h"

#include <gtest/gtest.h>

#include "base/text.h"

namespace tern::proto {
namespace {

// Drops Authentication-Results fields whose authserv-id is "mx.test" (a
// rough reader, enough for the filter's tests).
bool claims_mx_test(std::string_view field) {
  auto colon = field.find(':');
  auto value = field.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t' || value.front() == '\r' ||
                            value.front() == '\n')) {
    value.remove_prefix(1);
  }
  return iequals(value.substr(0, value.find_first_of("; \r")), "mx.test");
}

std::string filter(std::string_view input, std::size_t split, std::size_t* dropped = nullptr) {
  HeaderFilter f({"Authentication-Results", "ARC-Authentication-Results"}, claims_mx_test);
  std::string out;
  f.feed(input.substr(0, split), out);
  f.feed(input.substr(split), out);
  f.finish(out);
  if (dropped) *dropped = f.dropped();
  return out;
}

// Every split of the input gives the same output.
std::string filter_everywhere(std::string_view input, std::size_t* dropped = nullptr) {
  auto expected = filter(input, input.size(), dropped);
  for (std::size_t split = 0; split <= input.size(); ++split) {
    EXPECT_EQ(filter(input, split), expected) << "split " << split;
  }
  return expected;
}

TEST(HeaderFilter, DropsFieldsClaimingOurIdWithTheirFolds) {
  std::size_t dropped = 0;
  auto out = filter_everywhere(
      "Received: from a\r\n\tby b\r\n"
      "Authentication-Results: mx.test;\r\n\tspf=pass smtp.mailfrom=x\r\n"
      "authentication-results : MX.TEST; dkim=pass\r\n"
      "Authentication-Results: other.test; spf=fail\r\n"
      "ARC-Authentication-Results: i=1; mx.test; none\r\n"
      "Authentication-Results:\r\n mx.test; dmarc=pass\r\n"
      "Subject: Authentication-Results: mx.test\r\n"
      "\r\n"
      "Authentication-Results: mx.test; in the body, it stays\r\n",
      &dropped);
  EXPECT_EQ(out,
            "Received: from a\r\n\tby b\r\n"
            "Authentication-Results: other.test; spf=fail\r\n"
            "ARC-Authentication-Results: i=1; mx.test; none\r\n"
            "Subject: Authentication-Results: mx.test\r\n"
            "\r\n"
            "Authentication-Results: mx.test; in the body, it stays\r\n");
  EXPECT_EQ(dropped, 3u);
}

TEST(HeaderFilter, MessagesWithoutBodyOrHeaderPassWhole) {
  EXPECT_EQ(filter_everywhere("Subject: x\r\nAuthentication-Results: mx.test; none"), "Subject: x\r\n");
  EXPECT_EQ(filter_everywhere("Subject: x\r\nAuthentication-Results: a.test; none"),
            "Subject: x\r\nAuthentication-Results: a.test; none");
  EXPECT_EQ(filter_everywhere("\r\nbody only\r\n"), "\r\nbody only\r\n");
  EXPECT_EQ(filter_everywhere("no header line at all\r\nAuthentication-Results: mx.test\r\n"),
            "no header line at all\r\nAuthentication-Results: mx.test\r\n");
  EXPECT_EQ(filter_everywhere(""), "");
}

// A watched field longer than the filter holds is decided on its start: the
// rest of its lines follow the verdict; memory stays bounded.
TEST(HeaderFilter, HugeWatchedFieldsAreDecidedOnTheirStart) {
  std::string fold = "\t" + std::string(1000, 'x') + "\r\n";
  std::string ours = "Authentication-Results: mx.test;\r\n";
  std::string theirs = "Authentication-Results: a.test;\r\n";
  for (int i = 0; i < 100; ++i) ours += fold, theirs += fold;
  std::string rest = "Subject: y\r\n\r\nbody\r\n";
  EXPECT_EQ(filter(ours + rest, 50), rest);
  EXPECT_EQ(filter(theirs + rest, 70000), theirs + rest);
  EXPECT_EQ(filter(ours + rest, ours.size()), rest);
}

}  // namespace
}  // namespace tern::proto
