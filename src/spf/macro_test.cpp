#include "spf/macro.h"

#include <gtest/gtest.h>

#include "spf/address.h"

namespace tern::spf {
namespace {

// RFC 7208 7.4's setting.
MacroContext example(const char* ip = "192.0.2.3") {
  ClientAddress client(boost::asio::ip::make_address(ip));
  MacroContext c;
  c.sender = "strong-bad@email.example.com";
  c.local_part = "strong-bad";
  c.sender_domain = "email.example.com";
  c.domain = "email.example.com";
  c.ip = client.dotted();
  c.validated = "mx.example.org";
  c.ip_version = client.version();
  c.helo = "mx.example.org";
  c.client_ip = client.readable();
  c.receiver = "example.net";
  c.timestamp = 1400000000;
  return c;
}

std::string domain(std::string_view text, const MacroContext& c = example()) {
  auto out = expand(text, c, MacroUse::kDomainSpec);
  return out ? *out : "<error>";
}

TEST(SpfMacro, Rfc7208Section74Examples) {
  const std::pair<const char*, const char*> cases[] = {
      {"%{s}", "strong-bad@email.example.com"},
      {"%{o}", "email.example.com"},
      {"%{d}", "email.example.com"},
      {"%{d4}", "email.example.com"},
      {"%{d3}", "email.example.com"},
      {"%{d2}", "example.com"},
      {"%{d1}", "com"},
      {"%{dr}", "com.example.email"},
      {"%{d2r}", "example.email"},
      {"%{l}", "strong-bad"},
      {"%{l-}", "strong.bad"},
      {"%{lr}", "strong-bad"},
      {"%{lr-}", "bad.strong"},
      {"%{l1r-}", "strong"},
      {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
      {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
      {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
      {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
      {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
  };
  for (const auto& [text, expansion] : cases) EXPECT_EQ(domain(text), expansion) << text;
  EXPECT_EQ(domain("%{ir}.%{v}._spf.%{d2}", example("2001:db8::cb01")),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
}

TEST(SpfMacro, OtherLettersAndEscapes) {
  EXPECT_EQ(domain("%{p}"), "mx.example.org");
  EXPECT_EQ(domain("%{p2}"), "example.org");
  EXPECT_EQ(domain("%{h}"), "mx.example.org");
  EXPECT_EQ(domain("%{i}"), "192.0.2.3");
  EXPECT_EQ(domain("%{v}"), "in-addr");
  EXPECT_EQ(domain("%{v}", example("2001:db8::1")), "ip6");
  EXPECT_EQ(domain("a%%b%_c%-d"), "a%b c%20d");                  // RFC 7208 7.1
  EXPECT_EQ(domain("%{d9999999999999999999999}"), "email.example.com");  // more parts than there are
  EXPECT_EQ(domain("%{dR}"), "com.example.email");               // "r" is case-insensitive too
  EXPECT_EQ(domain("%{l.-+,/_=}"), "strong.bad");                // every delimiter
  auto c = example();
  c.local_part = "foo-bar+zip+quux";
  EXPECT_EQ(domain("%{l2r+-}", c), "bar.foo");                     // several delimiters
  c.local_part = "a..b";
  EXPECT_EQ(domain("%{l}", c), "a..b");                           // empty parts stay
}

TEST(SpfMacro, UpperCaseLettersAreUrlEscaped) {
  // RFC 7208 7.3: everything but RFC 3986 unreserved characters.
  auto c = example();
  c.local_part = "~jack&jill=up-a_b3.c";
  EXPECT_EQ(domain("%{L}", c), "~jack%26jill%3Dup-a_b3.c");
  c.helo = "JUMPIN' JUPITER";
  EXPECT_EQ(domain("%{H}", c), "JUMPIN%27%20JUPITER");
  c.helo = "[192.0.2.1]";
  EXPECT_EQ(domain("%{H}", c), "%5B192.0.2.1%5D");
  EXPECT_EQ(domain("%{S}"), "strong-bad%40email.example.com");
  EXPECT_EQ(domain("%{D2}"), "example.com");
}

TEST(SpfMacro, ExplanationOnlyLetters) {
  // RFC 7208 7.3: c, r and t only in exp text.
  for (const char* text : {"%{c}", "%{r}", "%{t}", "%{C}"}) {
    EXPECT_FALSE(expand(text, example(), MacroUse::kDomainSpec)) << text;
    EXPECT_FALSE(valid_macro_string(text, MacroUse::kDomainSpec)) << text;
  }
  auto six = example("2001:db8::cb01");
  EXPECT_EQ(expand("%{c} is queried as %{ir}.%{v}.arpa", six, MacroUse::kExplanation),
            "2001:db8::cb01 is queried as "
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  EXPECT_EQ(expand("from %{c} to %{r} at %{t}", example(), MacroUse::kExplanation),
            "from 192.0.2.3 to example.net at 1400000000");
  // Spaces belong to explanations only.
  EXPECT_EQ(expand("This is a test.", example(), MacroUse::kExplanation), "This is a test.");
  EXPECT_FALSE(expand("a b", example(), MacroUse::kDomainSpec));
}

TEST(SpfMacro, SyntaxErrors) {
  // RFC 7208 7.1: '%' must be followed by '{', '%', '_' or '-'.
  const char* bad[] = {"%", "a%", "%a", "%(ir)", "%{", "%{}", "%{d", "%{d2", "%{x}", "%{a}", "%{d0}", "%{d00}",
                       "%{dr2}", "%{d2rr}", "%{d!}", "%{ d}", "%{d }", "foo%.bar", "%%%", "tab\there", "\x80",
                       "ok%{d}}%"};
  for (const char* text : bad) {
    EXPECT_FALSE(valid_macro_string(text, MacroUse::kExplanation)) << text;
    EXPECT_FALSE(expand(text, example(), MacroUse::kExplanation)) << text;
  }
  EXPECT_TRUE(valid_macro_string("", MacroUse::kModifier));
  EXPECT_TRUE(valid_macro_string("%{t}", MacroUse::kModifier));  // never expanded: any letter
  EXPECT_TRUE(valid_macro_string("}{", MacroUse::kDomainSpec));
}

TEST(SpfMacro, DomainSpecSyntax) {
  // RFC 7208 7.1: it ends in a macro-expand or "." toplabel [ "." ].
  for (const char* good : {"example.com", "example.com.", "%{d}", "x.%{d}", "%{d}.com", "foo.xn--zckzah",
                           "foo:bar/baz.example.com", "a.1-2", "%{d}%%", ".com", "mail.example...com"}) {
    EXPECT_TRUE(valid_domain_spec(good)) << good;
  }
  for (const char* bad : {"", "com", "com.", "%{d}.", "foo-bar", "abc.123", "1.2.3.4", "example.-com", "example.com-",
                          "example.com:8080", "example.com/24", "example.com..", "%{c}.example.com",
                          "a b.example.com", "%{d}com"}) {
    EXPECT_FALSE(valid_domain_spec(bad)) << bad;
  }
}

TEST(SpfMacro, TargetNamesAreTruncatedFromTheLeft) {
  EXPECT_EQ(target_name("example.com."), "example.com");
  EXPECT_EQ(target_name("Example.COM"), "Example.COM");
  std::string label(63, 'a');
  std::string kept = label + "." + label + "." + label + ".example.com";  // 203
  std::string fits = std::string(49, 'y') + "." + kept;                    // 253
  EXPECT_EQ(target_name(fits), fits);
  EXPECT_EQ(target_name(fits + "."), fits);  // the trailing dot goes first
  EXPECT_EQ(target_name("y" + fits), kept);   // 254: the leftmost label goes
  EXPECT_EQ(target_name(label + "." + label + "." + kept), kept);  // several labels go
  // Exactly 253 characters, labels of 63: kept whole.
  std::string exact(253, 'a');
  for (std::size_t i = 63; i < exact.size(); i += 64) exact[i] = '.';
  EXPECT_EQ(target_name(exact), exact);
  EXPECT_FALSE(target_name(""));
  EXPECT_FALSE(target_name("."));
  EXPECT_FALSE(target_name("a..b"));
  EXPECT_FALSE(target_name(std::string(64, 'a') + ".com"));
  EXPECT_FALSE(target_name(std::string(300, 'a')));
  EXPECT_FALSE(target_name("back\\slash.example.com"));
  EXPECT_FALSE(target_name(std::string("nul\0.example.com", 16)));
  EXPECT_EQ(target_name("macro%percent  space%20url-space.example.com"),
            "macro%percent  space%20url-space.example.com");
}

TEST(SpfMacro, CheckDomainIsAMultiLabelName) {
  // RFC 7208 4.3.
  for (const char* good : {"example.com", "example.com.", "a.b.c.example", "_spf.example.com", "x.xn--zckzah"}) {
    EXPECT_TRUE(valid_check_domain(good)) << good;
  }
  for (const char* bad : {"", ".", "A2345678", "[1.2.3.5]", "[IPv6:::1]", "a...example.com", "1.2.3.4",
                          "JUMPIN' JUPITER", ".example.com"}) {
    EXPECT_FALSE(valid_check_domain(bad)) << bad;
  }
  EXPECT_TRUE(valid_check_domain(std::string(63, 'a') + ".example.com"));
  EXPECT_FALSE(valid_check_domain(std::string(64, 'a') + ".example.com"));
}

TEST(SpfMacro, KnowsWhenPIsNeeded) {
  EXPECT_TRUE(uses_validated_name("%{p}.example.com"));
  EXPECT_TRUE(uses_validated_name("connect from %{P2r}"));
  EXPECT_FALSE(uses_validated_name("%{d}.example.com"));
  EXPECT_FALSE(uses_validated_name("p.example.com %%{p}"));
  EXPECT_FALSE(uses_validated_name("%{p"));
}

TEST(SpfMacro, EveryCutOfAMacroStringExpandsOrFailsCleanly) {
  const std::string text = "%{ir}.%{v}.%{L2r-+}%%%_%-.%{d3}.%{p}.%{c}.%{t}.%{R}x";
  ASSERT_TRUE(expand(text, example(), MacroUse::kExplanation));
  for (std::size_t i = 0; i <= text.size(); ++i) {
    for (auto use : {MacroUse::kDomainSpec, MacroUse::kExplanation, MacroUse::kModifier}) {
      (void)expand(text.substr(0, i), example(), use);
      (void)expand(text.substr(i), example(), use);
      (void)valid_domain_spec(text.substr(0, i));
    }
  }
}

}  // namespace
}  // namespace tern::spf
