#include "spf/record.h"

#include <gtest/gtest.h>

namespace tern::spf {
namespace {

TEST(SpfRecord, RecognisesVersionOnlyFollowedBySpaceOrEnd) {
  EXPECT_TRUE(is_spf_record("v=spf1"));
  EXPECT_TRUE(is_spf_record("v=spf1 -all"));
  EXPECT_TRUE(is_spf_record("V=SpF1 ~all"));  // RFC 7208 4.5: case-insensitive
  EXPECT_FALSE(is_spf_record("v=spf10"));
  EXPECT_FALSE(is_spf_record("v=spf1mx"));     // pieces joined without a space
  EXPECT_FALSE(is_spf_record(" v=spf1 -all"));
  EXPECT_FALSE(is_spf_record("v=spf1\t-all"));
  EXPECT_FALSE(is_spf_record("v=spf"));
  EXPECT_FALSE(is_spf_record(""));
}

TEST(SpfRecord, ParsesEveryMechanismWithQualifiers) {
  auto r = parse_record(
      "v=spf1 +all -include:_spf.example.com ~a ?a:mail.example.com/24//64 mx/28 mx:%{d} ptr ptr:example.org "
      "ip4:192.0.2.0/24 ip6:2001:db8::/32 exists:%{ir}.%{v}._spf.%{d}");
  ASSERT_TRUE(r.ok()) << r.error().detail;
  const auto& m = r->mechanisms;
  ASSERT_EQ(m.size(), 11u);
  EXPECT_EQ(m[0].kind, MechanismKind::kAll);
  EXPECT_EQ(m[0].qualifier, Qualifier::kPass);
  EXPECT_EQ(m[1].kind, MechanismKind::kInclude);
  EXPECT_EQ(m[1].qualifier, Qualifier::kFail);
  EXPECT_EQ(m[1].domain_spec, "_spf.example.com");
  EXPECT_EQ(m[2].kind, MechanismKind::kA);
  EXPECT_EQ(m[2].qualifier, Qualifier::kSoftFail);
  EXPECT_EQ(m[2].domain_spec, "");
  EXPECT_EQ(m[2].cidr4, 32);
  EXPECT_EQ(m[2].cidr6, 128);
  EXPECT_EQ(m[3].qualifier, Qualifier::kNeutral);
  EXPECT_EQ(m[3].domain_spec, "mail.example.com");
  EXPECT_EQ(m[3].cidr4, 24);
  EXPECT_EQ(m[3].cidr6, 64);
  EXPECT_EQ(m[4].kind, MechanismKind::kMx);
  EXPECT_EQ(m[4].cidr4, 28);
  EXPECT_EQ(m[5].domain_spec, "%{d}");
  EXPECT_EQ(m[6].kind, MechanismKind::kPtr);
  EXPECT_EQ(m[7].domain_spec, "example.org");
  EXPECT_EQ(m[8].kind, MechanismKind::kIp4);
  EXPECT_EQ(m[8].cidr4, 24);
  EXPECT_EQ(m[8].network[0], 192);
  EXPECT_EQ(m[8].network[3], 0);
  EXPECT_EQ(m[9].kind, MechanismKind::kIp6);
  EXPECT_EQ(m[9].cidr6, 32);
  EXPECT_EQ(m[9].network[0], 0x20);
  EXPECT_EQ(m[9].network[1], 0x01);
  EXPECT_EQ(m[10].kind, MechanismKind::kExists);
  EXPECT_EQ(m[10].text, "exists:%{ir}.%{v}._spf.%{d}");
}

TEST(SpfRecord, NamesAreCaseInsensitive) {
  auto r = parse_record("v=spf1 IP4:192.0.2.1 MX A:example.com Include:example.net REDIRECT=example.org EXP=x.example.org");
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_EQ(r->mechanisms.size(), 4u);
  EXPECT_EQ(r->redirect, "example.org");
  EXPECT_EQ(r->exp, "x.example.org");
}

TEST(SpfRecord, ParsesModifiers) {
  auto r = parse_record("v=spf1 redirect=_spf.example.com exp=explain._spf.%{d} moo.cow-far_out=man:dog/cat default=+");
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_TRUE(r->mechanisms.empty());
  EXPECT_EQ(r->redirect, "_spf.example.com");
  EXPECT_EQ(r->exp, "explain._spf.%{d}");
  EXPECT_EQ(r->unknown_modifiers, (std::vector<std::string>{"moo.cow-far_out", "default"}));
}

TEST(SpfRecord, SpacesSeparateTermsAndMayTrail) {
  for (const char* text : {"v=spf1", "v=spf1 ", "v=spf1   -all", "v=spf1 -all   ", "v=spf1  a  -all "}) {
    auto r = parse_record(text);
    EXPECT_TRUE(r.ok()) << text;
  }
  EXPECT_EQ(parse_record("v=spf1  a  -all ")->mechanisms.size(), 2u);
}

TEST(SpfRecord, SplitsDomainSpecFromTrailingCidr) {
  struct Case {
    const char* term;
    const char* spec;
    int cidr4, cidr6;
  };
  const Case cases[] = {
      {"a", "", 32, 128},
      {"a/0", "", 0, 128},
      {"a//0", "", 32, 0},
      {"a/24//64", "", 24, 64},
      {"a:example.com/24", "example.com", 24, 128},
      {"a:example.com//128", "example.com", 32, 128},
      {"mx:example.com/32//0", "example.com", 32, 0},
      {"a:foo:bar/baz.example.com", "foo:bar/baz.example.com", 32, 128},  // ':' and '/' may be in a name
      {"a:%{d}/30", "%{d}", 30, 128},
  };
  for (const auto& c : cases) {
    auto r = parse_record(std::string("v=spf1 ") + c.term);
    ASSERT_TRUE(r.ok()) << c.term << ": " << r.error().detail;
    ASSERT_EQ(r->mechanisms.size(), 1u);
    EXPECT_EQ(r->mechanisms[0].domain_spec, c.spec) << c.term;
    EXPECT_EQ(r->mechanisms[0].cidr4, c.cidr4) << c.term;
    EXPECT_EQ(r->mechanisms[0].cidr6, c.cidr6) << c.term;
  }
}

TEST(SpfRecord, RejectsSyntaxErrorsAnywhere) {
  // Each is a permerror (RFC 7208 4.6: syntax errors anywhere in the record).
  const char* bad[] = {
      "v=spf1 ip4:1.2.3.4 -all moo",       // unknown mechanism, after a match
      "v=spf1 -all.", "v=spf1 -all:foo", "v=spf1 -all/8", "v=spf1 all/0",
      "v=spf1 ptr/0", "v=spf1 ptr:", "v=spf1 a:", "v=spf1 mx:", "v=spf1 a:/24",
      "v=spf1 include", "v=spf1 include:", "v=spf1 include:example.com/24",
      "v=spf1 exists", "v=spf1 exists:", "v=spf1 exists:example.com/24",
      "v=spf1 a/33", "v=spf1 a//129", "v=spf1 a/24/64", "v=spf1 a/032", "v=spf1 a/", "v=spf1 a//",
      "v=spf1 ip4", "v=spf1 ip4:", "v=spf1 ip4:1.2.3", "v=spf1 ip4:1.2.3.4/33", "v=spf1 ip4:1.2.3.4/032",
      "v=spf1 ip4:1.2.3.4//32", "v=spf1 ip4:1.2.3.4:8080", "v=spf1 ip4:01.2.3.4", "v=spf1 ip4:256.1.1.1",
      "v=spf1 ip4:1.2.3.4/", "v=spf1 ip4:::1", "v=spf1 ip6", "v=spf1 ip6::CAFE::BABE", "v=spf1 ip6:::1/129",
      "v=spf1 ip6:::1//33", "v=spf1 ip6:1.2.3.4", "v=spf1 ip6:fe80::1%eth0",
      "v=spf1 a:foo-bar", "v=spf1 a:museum", "v=spf1 a:museum.", "v=spf1 a:abc.123", "v=spf1 a:111.222.33.44",
      "v=spf1 a:example.-com", "v=spf1 a:example.com-", "v=spf1 a:example.com:8080",
      "v=spf1 a:%{a}.example.com", "v=spf1 a:%{r}.example.com", "v=spf1 a:%{c}.example.com",
      "v=spf1 a:%{t}.example.com", "v=spf1 exists:%(ir).sbl.example.com", "v=spf1 exists:foo%.sbl.example.com",
      "v=spf1 a:%{d0}.example.com", "v=spf1 a:%{d", "v=spf1 a:%{d}%",
      "v=spf1 redirect=", "v=spf1 exp=", "v=spf1 exp=-all", "v=spf1 redirect=-all ?all",
      "v=spf1 redirect=a.example.com redirect=b.example.com", "v=spf1 exp=a.example.com exp=b.example.com",
      "v=spf1 exp=%{r}.example.com", "v=spf1 redirect:example.com", "v=spf1 =all", "v=spf1 1up=foo",
      "v=spf1 -redirect=example.com", "v=spf1 foo=%abc", "v=spf1 moo.cow/far_out=man:dog/cat",
      "v=spf1 moo.cow:far_out=man:dog/cat", "v=spf1 *all",
      "v=spf1 a:ctrl.example.com\rptr -all",  // only spaces separate terms
      "v=spf1 ip4:192.0.2.5\n include:x.example.com", "v=spf1\xc2\x80" " a", "v=spf1 \x80" "a:example.net",
      "v=spf1 a:\xEF\xBB\xBFgarbage.example.net", "v=spf1 a:example.net \x96" "all",
  };
  for (const char* text : bad) {
    auto r = parse_record(text);
    EXPECT_FALSE(r.ok()) << "accepted: " << text;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, 550);
      EXPECT_EQ(r.error().enhanced, "5.7.24");
      EXPECT_FALSE(r.error().detail.empty());
    }
  }
  // A NUL inside the string itself (not where a C string ends).
  EXPECT_FALSE(parse_record(std::string("v=spf1 a:foo.example.com\0 -all", 30)).ok());
}

TEST(SpfRecord, AcceptsOddButValidTerms) {
  const char* good[] = {
      "v=spf1 a:foo.example.xn--zckzah",  // a dash in the toplabel
      "v=spf1 a:foo.example.com.",        // a trailing dot
      "v=spf1 a:mail.example...com",      // valid domain-spec, invalid name: no match at run time
      "v=spf1 a:%{H}.bar", "v=spf1 a:%{H}", "v=spf1 exists:%{l2r+-}.user.%{d2}",
      "v=spf1 a:macro%%percent%_%_space%-url-space.example.com",
      "v=spf1 ip6:::FFFF:1.2.3.4", "v=spf1 ip6:::1.1.1.1/0", "v=spf1 ip4:0.0.0.0/0",
      "v=spf1 default=pass", "v=spf1 default=+", "v=spf1 moo=", "v=spf1 match.sub-domains_9=yes",
      "v=spf1 exp=%{l}.%{D2}", "v=spf1 ptr:%{p}.example.com",
  };
  for (const char* text : good) {
    auto r = parse_record(text);
    EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().detail);
  }
}

TEST(SpfRecord, ErrorNamesTheTerm) {
  auto r = parse_record("v=spf1 ip4:192.0.2.1 a:example.com:8080 -all");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().detail.find("a:example.com:8080"), std::string::npos) << r.error().detail;
}

TEST(SpfRecord, EveryPrefixAndSuffixOfARecordParsesOrFailsCleanly) {
  // Odd inputs must give a value or an error, never a crash: every cut of a
  // record that uses each kind of term.
  const std::string text =
      "v=spf1 a:%{d}/24//64 mx//0 ptr:%{ir}.x.example.com ip4:192.0.2.0/24 ip6:2001:db8::/32 "
      "include:_spf.example.com exists:%{l1r-}.%{d} redirect=%{o} exp=e.%{d2} foo=%{s}";
  ASSERT_TRUE(parse_record(text).ok());
  for (std::size_t i = 0; i <= text.size(); ++i) {
    (void)parse_record(text.substr(0, i));
    (void)parse_record(text.substr(i));
    (void)parse_record("v=spf1 " + text.substr(i));
  }
}

}  // namespace
}  // namespace tern::spf
