// The Authentication-Results writer and reader (RFC 8601), header
// injection, and the output read back by Debian's python3-authres.
#include "dmarc/auth_results.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "dmarc/auth_results_text.h"

namespace tern::dmarc {
namespace {

std::vector<MethodResult> typical() {
  return {spf_result("pass", "bounce@example.com", "mail.example.com"),
          dkim_result("pass", {.d = "example.com", .i = "@example.com", .s = "sel1", .a = "rsa-sha256",
                               .b = "dGhp cy/p\r\n\tcyBh+IHNpZ25hdHVyZQ=="}),
          dmarc_result("pass", "example.com", "reject", "p=reject dis=none"),
          arc_result("pass", "2001:db8::1", "1")};
}

TEST(AuthResults, NoResult) {
  EXPECT_EQ(format_authentication_results("mx.example.test", {}), "Authentication-Results: mx.example.test; none\r\n");
  // A result that is not a keyword is not written at all.
  EXPECT_EQ(format_authentication_results("mx.example.test", {MethodResult{"", "pass", {}, {}, {}}}),
            "Authentication-Results: mx.example.test; none\r\n");
}

TEST(AuthResults, Typical) {
  EXPECT_EQ(format_authentication_results("mx.example.test", typical()),
            "Authentication-Results: mx.example.test;\r\n"
            "\tspf=pass smtp.mailfrom=bounce@example.com smtp.helo=mail.example.com;\r\n"
            "\tdkim=pass header.d=example.com header.i=@example.com header.s=sel1\r\n"
            "\theader.a=rsa-sha256 header.b=\"dGhpcy/p\";\r\n"
            "\tdmarc=pass (p=reject dis=none) header.from=example.com policy.dmarc=reject;\r\n"
            "\tarc=pass header.oldest-pass=1 smtp.remote-ip=\"2001:db8::1\"\r\n");
}

TEST(AuthResults, LinesStayShortWhereTheyCan) {
  auto results = typical();
  results.push_back(spf_result("softfail", std::string(70, 'a') + "@example.com", "", "a long reason text here"));
  std::string field = format_authentication_results("mx.example.test", results);
  std::size_t start = 0;
  while (start < field.size()) {
    auto end = field.find("\r\n", start);
    ASSERT_NE(end, std::string::npos);
    std::string line = field.substr(start, end - start);
    // Only a single word longer than a line may pass the limit.
    if (line.find(' ') != std::string::npos) {
      EXPECT_LE(line.size(), 78u) << line;
    }
    EXPECT_NE(line.find_first_not_of(" \t"), std::string::npos);
    start = end + 2;
  }
}

TEST(AuthResults, Values) {
  using text::value;
  EXPECT_EQ(value("example.com"), "example.com");
  EXPECT_EQ(value("user.name+tag@example.com"), "user.name+tag@example.com");
  EXPECT_EQ(value("@example.com"), "@example.com");
  EXPECT_EQ(value("a b"), "\"a b\"");
  EXPECT_EQ(value("\"quoted\"@example.com"), "\"\\\"quoted\\\"@example.com\"");
  EXPECT_EQ(value("back\\slash"), "\"back\\\\slash\"");
  EXPECT_EQ(value("a;b=c"), "\"a;b=c\"");
  EXPECT_EQ(value("j\xC3\xB6rg@example.de"), "\"j\xC3\xB6rg@example.de\"");  // UTF-8 kept, quoted
  EXPECT_EQ(value("bad\xC3(\xFF\xED\xA0\x80"), "\"bad?(????\"");            // not UTF-8
  EXPECT_EQ(value(std::string("nul\0x", 5)), "\"nul?x\"");
  std::string longest = value(std::string(300, 'x'));
  EXPECT_EQ(longest.size(), kMaxValueLength);
  // Cut before a character that would not fit whole.
  EXPECT_EQ(text::printable(std::string(255, 'x') + "\xC3\xB6", 256), std::string(255, 'x'));
  EXPECT_EQ(text::comment("a (b) \\c"), "(a \\(b\\) \\\\c)");
  EXPECT_EQ(text::keyword("d\r\nkim"), "dkim");
}

TEST(AuthResults, NoHeaderInjection) {
  std::string evil = "x\r\nBcc: victim@example.net\r\n\r\nbody\n\r\x01\x7f\t(\")";
  std::vector<MethodResult> results = {
      spf_result("pass\r\nX: y", evil, evil, evil),
      dkim_result("fail", {.d = evil, .i = evil, .s = evil, .a = evil, .b = evil}),
      dmarc_result("fail", evil, evil, evil),
      MethodResult{"x-\r\nevil", "pass", evil, evil, {{"header\r\n", "from", evil}, {"smtp", "mail\nfrom", evil}}}};
  std::string field = format_authentication_results(evil, results);
  for (std::size_t i = 0; i < field.size(); ++i) {
    auto c = static_cast<unsigned char>(field[i]);
    if (c == '\r') {
      // The only line ends are our own folds and the final CRLF.
      ASSERT_EQ(field[i + 1], '\n') << field;
      ASSERT_TRUE(i + 2 == field.size() || field[i + 2] == '\t') << field;
    } else if (c == '\n') {
      ASSERT_EQ(field[i - 1], '\r') << field;
    } else if (c == '\t') {
      ASSERT_EQ(field[i - 1], '\n') << field;
    } else {
      ASSERT_TRUE(c >= 0x20 && c != 0x7f) << field;
    }
  }
  EXPECT_EQ(field.find("\nBcc"), std::string::npos);
  EXPECT_EQ(authserv_id(field.substr(field.find(':') + 1)), "x??Bcc: victim@example.net????body?????" "(\")");
}

TEST(AuthResults, AuthservIdReader) {
  EXPECT_EQ(authserv_id(" mx.example.test; spf=pass smtp.mailfrom=example.com"), "mx.example.test");
  EXPECT_EQ(authserv_id("mx.example.test;none"), "mx.example.test");
  EXPECT_EQ(authserv_id("\r\n\t(c (nested \\) x) y) mx.example.test 1 ; none"), "mx.example.test");
  EXPECT_EQ(authserv_id("mx.example.test(comment); none"), "mx.example.test");
  EXPECT_EQ(authserv_id(" \"mx.\\example\r\n .test\"; none"), "mx.example .test");
  EXPECT_EQ(authserv_id("b\xC3\xBC" "cher.example; none"), "b\xC3\xBC" "cher.example");
  for (const char* bad : {"", "  \r\n ", "(unclosed mx.example.test; none", "; none", "\"unclosed", "\"\"; none",
                          "(a\\", "(a) \\b"}) {
    EXPECT_FALSE(authserv_id(bad).has_value()) << bad;
  }
}

TEST(AuthResults, ClaimsOurId) {
  EXPECT_TRUE(claims_authserv_id(" MX.Example.Test; dkim=pass", "mx.example.test"));
  EXPECT_TRUE(claims_authserv_id("mx.example.test.; none", "mx.example.test"));
  EXPECT_TRUE(claims_authserv_id("(forged) \"mx.example.test\" 1; none", "mx.example.test"));
  EXPECT_TRUE(claims_authserv_id("mx.example.test/1; none", "mx.example.test"));  // drop rather than keep
  EXPECT_FALSE(claims_authserv_id("mx.example.test.evil; none", "mx.example.test"));
  EXPECT_FALSE(claims_authserv_id("other.example; none", "mx.example.test"));
  EXPECT_FALSE(claims_authserv_id("", ""));
  // What we write, we recognize.
  std::string field = format_authentication_results("mx.example.test", typical());
  EXPECT_TRUE(claims_authserv_id(field.substr(field.find(':') + 1), "MX.example.test"));
}

TEST(AuthResults, FieldName) {
  EXPECT_TRUE(is_authentication_results("Authentication-Results"));
  EXPECT_TRUE(is_authentication_results("authentication-RESULTS \t"));
  EXPECT_FALSE(is_authentication_results("ARC-Authentication-Results"));
  EXPECT_FALSE(is_authentication_results("Authentication-Result"));
  EXPECT_FALSE(is_authentication_results(" Authentication-Results"));
}

// Runs python3-authres on one field (unfolded, as it expects) and returns
// what it read: the authserv-id, then per resinfo the method, result and
// properties. Empty when /usr/bin/python3 or authres is missing.
std::string read_with_authres(const std::string& field) {
  char path[] = "/tmp/tern_dmarc_ar_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return {};
  close(fd);
  std::ofstream(path, std::ios::binary) << field;
  std::string command =
      "/usr/bin/python3 -c 'import sys, authres\n"
      "h = authres.AuthenticationResultsHeader.parse(open(sys.argv[1]).read().replace(\"\\r\\n\", \"\"))\n"
      "print(h.authserv_id)\n"
      "for r in h.results: print(r.method, r.result, *[p.type + \".\" + p.name + \"=\" + p.value for p in "
      "r.properties])' " +
      std::string(path) + " 2>&1";
  std::string out;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    std::array<char, 512> buffer;
    while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) out.append(buffer.data(), n);
    pclose(pipe);
  }
  unlink(path);
  return out;
}

TEST(AuthResults, ReadBackByPythonAuthres) {
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3";
  std::string none = read_with_authres(format_authentication_results("mx.example.test", {}));
  if (none.find("No module named") != std::string::npos) GTEST_SKIP() << none;
  EXPECT_EQ(none, "mx.example.test\n");
  EXPECT_EQ(read_with_authres(format_authentication_results("mx.example.test", typical())),
            "mx.example.test\n"
            "spf pass smtp.mailfrom=bounce@example.com smtp.helo=mail.example.com\n"
            "dkim pass header.d=example.com header.i=@example.com header.s=sel1 header.a=rsa-sha256 "
            "header.b=dGhpcy/p\n"
            "dmarc pass header.from=example.com policy.dmarc=reject\n"
            "arc pass header.oldest-pass=1 smtp.remote-ip=2001:db8::1\n");
  // Hostile values still give a field it can read, with nothing added.
  std::string evil = "a b\r\nX-Evil: 1; dkim=pass";
  EXPECT_EQ(read_with_authres(format_authentication_results(
                "mx.example.test", {spf_result("fail", evil, ""), dmarc_result("fail", "example.com", "none", evil)})),
            "mx.example.test\n"
            "spf fail smtp.mailfrom=a b??X-Evil: 1; dkim=pass\n"
            "dmarc fail header.from=example.com policy.dmarc=none\n");
}

}  // namespace
}  // namespace tern::dmarc
