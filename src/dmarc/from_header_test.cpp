// The RFC5322.From domain (RFC 7489 6.6.1).
#include "dmarc/from_header.h"

#include <gtest/gtest.h>

namespace tern::dmarc {
namespace {

TEST(DmarcFromHeader, OneDomain) {
  struct Case {
    const char* body;
    const char* domain;
  };
  for (auto c : {Case{"alice@Example.COM", "example.com"},
                 Case{" \"Alice Liddell\" <alice@example.com> (work)", "example.com"},
                 Case{"Alice <alice@Mail.Example.com>", "mail.example.com"},
                 Case{"a@example.com, B <b@EXAMPLE.com>", "example.com"},  // several, one domain
                 Case{"friends: a@example.com, b@example.com;", "example.com"},
                 Case{"=?utf-8?q?J=C3=B6rg?= <joerg@example.de>", "example.de"},
                 Case{"J\xC3\xB6rg <j@b\xC3\xBC" "cher.example>", "b\xC3\xBC" "cher.example"},
                 Case{"alice@example.com\r\n (folded)", "example.com"}}) {
    auto d = from_domain(c.body);
    ASSERT_TRUE(d.ok()) << c.body << ": " << d.error().detail;
    EXPECT_EQ(*d, c.domain) << c.body;
  }
}

TEST(DmarcFromHeader, CannotApplyDmarc) {
  for (const char* body : {"", "   ", "undisclosed-recipients:;", "alice", "<alice>", "alice@[192.0.2.1]",
                           "a@example.com, b@example.net", "alice@exa_mple..com", "alice@-", "<>",
                           "alice@example.com <", "alice@ex ample.com"}) {
    auto d = from_domain(body);
    EXPECT_FALSE(d.ok()) << body;
    if (!d.ok()) {
      EXPECT_EQ(d.error().code, 550);
      EXPECT_EQ(d.error().enhanced, "5.7.1");
    }
  }
}

TEST(DmarcFromHeader, ExactlyOneFromField) {
  EXPECT_FALSE(from_domain(std::vector<std::string_view>{}).ok());
  EXPECT_FALSE(from_domain(std::vector<std::string_view>{"a@example.com", "a@example.com"}).ok());
  auto d = from_domain(std::vector<std::string_view>{"a@example.com"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, "example.com");
}

TEST(DmarcFromHeader, LongDomainsAreRefused) {
  std::string label(64, 'a');
  EXPECT_FALSE(from_domain("x@" + label + ".example").ok());
  std::string name;
  for (int i = 0; i < 50; ++i) name += "abcd.";
  EXPECT_FALSE(from_domain("x@" + name + "example").ok());  // 257 octets
}

}  // namespace
}  // namespace tern::dmarc
