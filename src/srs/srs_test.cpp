#include "srs/srs.h"

#include <gtest/gtest.h>

#include <cctype>

#include "base/text.h"

namespace tern::srs {
namespace {

constexpr std::time_t kDay = 86400;
constexpr std::time_t kNow = 1700000000;  // day 19675, timestamp "G3"

const Srs kSrs{.secret = "tern-srs-test-secret", .domain = "srs.example.net"};

std::string reversed(std::string_view address, std::time_t now = kNow, const Srs& srs = kSrs) {
  auto out = reverse(srs, address, now);
  return out ? *out : "<" + out.error().enhanced + ">";
}

// The reply a refused address gets: all four fields, and a permanent code.
void expect_refused(std::string_view address, const char* enhanced, std::time_t now = kNow) {
  auto out = reverse(kSrs, address, now);
  ASSERT_FALSE(out) << address << " gave " << *out;
  EXPECT_EQ(out.error().code, 550) << address;
  EXPECT_EQ(out.error().enhanced, enhanced) << address;
  EXPECT_FALSE(out.error().text.empty());
  EXPECT_FALSE(out.error().detail.empty());
}

// postsrsd's own unit test (tests/unit/test_srs2.c).
TEST(Srs, MatchesPostsrsd) {
  const Srs postsrsd{.secret = "tops3cr3t", .domain = "example.com"};
  EXPECT_EQ(forward(postsrsd, "test@otherdomain.com", 1577836860), "SRS0=vmyz=2W=otherdomain.com=test@example.com");
  EXPECT_EQ(forward(postsrsd, "test@example.com", 1577836860), "test@example.com");
  auto out = reverse(postsrsd, "SRS0=vmyz=2W=otherdomain.com=test@example.com", 1577836860);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "test@otherdomain.com");
}

// Expected values from srs_vectors.py, computed without tern's code.
TEST(Srs, KnownVectors) {
  const std::pair<const char*, const char*> cases[] = {
      {"alice@example.org", "SRS0=XOvQ=G3=example.org=alice@srs.example.net"},
      {"Bob.Smith@Example.COM", "SRS0=c88f=G3=Example.COM=Bob.Smith@srs.example.net"},
      {"a=b+c@example.org", "SRS0=ZP-j=G3=example.org=a=b+c@srs.example.net"},
      {"\"a b\"@example.org", "\"SRS0=zGZD=G3=example.org=a b\"@srs.example.net"},
      {"\"a@b\\\"c\"@example.org", "\"SRS0=vnr0=G3=example.org=a@b\\\"c\"@srs.example.net"},
  };
  for (auto [sender, srs] : cases) {
    EXPECT_EQ(forward(kSrs, sender, kNow), srs);
    EXPECT_EQ(reversed(srs), sender);
  }
  EXPECT_EQ(forward(kSrs, "x@example.org", 0), "SRS0=Age9=AA=example.org=x@srs.example.net");
  EXPECT_EQ(reversed("SRS0=Age9=AA=example.org=x@srs.example.net", 0), "x@example.org");
}

TEST(Srs, RoundTrips) {
  for (const char* sender : {"a@b.example", "first.last@example.org", "x=y=z@example.org", "SRS@example.org",
                             "srs0@example.org", "SRS2=a=b@example.org", "user+tag@[192.0.2.1]",
                             "\"quoted space\"@example.org", "\"back\\\\slash\"@example.org",
                             "j\xc3\xb6rg@b\xc3\xbc\x63her.example", "SRS1=x@example.org"}) {
    auto rewritten = forward(kSrs, sender, kNow);
    EXPECT_TRUE(rewritten.starts_with("SRS0=") || rewritten.starts_with("\"SRS0=")) << rewritten;
    EXPECT_TRUE(rewritten.ends_with("@srs.example.net")) << rewritten;
    EXPECT_EQ(reversed(rewritten), sender);
  }
}

TEST(Srs, NeedlessQuotesAreDropped) {
  auto rewritten = forward(kSrs, "\"alice\"@example.org", kNow);
  EXPECT_EQ(rewritten, "SRS0=XOvQ=G3=example.org=alice@srs.example.net");
  EXPECT_EQ(reversed(rewritten), "alice@example.org");
}

TEST(Srs, LeavesAloneWhatNeedsNoRewriting) {
  for (const char* sender : {"", "user@srs.example.net", "SRS0=XOvQ=G3=example.org=alice@srs.example.net",
                             "User@SRS.Example.NET", "postmaster", "user@", "@example.org", "a@[tag:x=y]",
                             "\"a@b\"", "\"\"@example.org"}) {
    EXPECT_EQ(forward(kSrs, sender, kNow), sender);
  }
}

// Another forwarder's SRS0 address becomes SRS1 (libsrs2's "guarded"
// scheme); bounces to it go back to that forwarder's SRS0 address.
TEST(Srs, Srs0FromAnotherForwarderBecomesSrs1) {
  auto rewritten = forward(kSrs, "SRS0=AbCd=XY=example.org=carol@fwd1.example", kNow);
  EXPECT_EQ(rewritten, "SRS1=1C54=fwd1.example==AbCd=XY=example.org=carol@srs.example.net");
  EXPECT_EQ(reversed(rewritten), "SRS0=AbCd=XY=example.org=carol@fwd1.example");
  // Their separator is kept, ours is '='.
  rewritten = forward(kSrs, "SRS0+AbCd=XY=example.org=carol@fwd1.example", kNow);
  EXPECT_EQ(rewritten, "SRS1=Wk_A=fwd1.example=+AbCd=XY=example.org=carol@srs.example.net");
  EXPECT_EQ(reversed(rewritten), "SRS0+AbCd=XY=example.org=carol@fwd1.example");
  // SRS1 has no timestamp: it does not expire here.
  EXPECT_EQ(reversed(rewritten, kNow + 1000 * kDay), "SRS0+AbCd=XY=example.org=carol@fwd1.example");
}

// An SRS1 address rewritten again keeps the first forwarder and its SRS0
// part; only the hash is ours.
TEST(Srs, Srs1IsRehashedNotNested) {
  auto rewritten = forward(kSrs, "SRS1=ZZZZ=fwd1.example==AbCd=XY=example.org=carol@fwd2.example", kNow);
  EXPECT_EQ(rewritten, "SRS1=1C54=fwd1.example==AbCd=XY=example.org=carol@srs.example.net");
  EXPECT_EQ(reversed(rewritten), "SRS0=AbCd=XY=example.org=carol@fwd1.example");
  rewritten = forward(kSrs, "srs1-ZZZZ=fwd1.example=+AbCd=XY=example.org=carol@fwd2.example", kNow);
  EXPECT_EQ(rewritten, "SRS1=Wk_A=fwd1.example=+AbCd=XY=example.org=carol@srs.example.net");
}

TEST(Srs, MalformedSrs1IsRewrittenAsAnOrdinaryAddress) {
  for (const char* sender : {"SRS1=@fwd2.example", "SRS1=hash@fwd2.example", "SRS1=hash=host@fwd2.example",
                             "SRS1==fwd1.example==x@fwd2.example", "SRS1=hash===x@fwd2.example",
                             "SRS1=hash=fwd1.example=@fwd2.example"}) {
    auto rewritten = forward(kSrs, sender, kNow);
    EXPECT_TRUE(rewritten.starts_with("SRS0=")) << rewritten;
    EXPECT_EQ(reversed(rewritten), sender);
  }
}

TEST(Srs, QuotedSrs0FromAnotherForwarder) {
  auto rewritten = forward(kSrs, "\"SRS0=AbCd=XY=example.org=a b\"@fwd1.example", kNow);
  EXPECT_TRUE(rewritten.starts_with("\"SRS1=")) << rewritten;
  EXPECT_EQ(reversed(rewritten), "\"SRS0=AbCd=XY=example.org=a b\"@fwd1.example");
}

// Mail systems may change the case of an address; the hash and timestamp
// are read without regard to it (libsrs2 lowercases the hashed fields).
TEST(Srs, CaseChangesAreAccepted) {
  const char* address = "SRS0=XOvQ=G3=example.org=alice@srs.example.net";
  EXPECT_EQ(reversed(to_lower(address)), "alice@example.org");
  std::string upper(address);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(reversed(upper), "ALICE@EXAMPLE.ORG");
  EXPECT_EQ(reversed("SRS0=XOvQ=g3=EXAMPLE.org=Alice@srs.example.net"), "Alice@EXAMPLE.org");
  EXPECT_EQ(reversed("srs1=1c54=FWD1.example==AbCd=XY=example.org=carol@srs.example.net"),
            "SRS0=AbCd=XY=example.org=carol@FWD1.example");
}

TEST(Srs, EverySeparatorAfterTheTag) {
  for (char sep : {'=', '+', '-'}) {
    std::string srs0 = std::string("SRS0") + sep + "XOvQ=G3=example.org=alice@srs.example.net";
    EXPECT_EQ(reversed(srs0), "alice@example.org") << srs0;
    std::string srs1 = std::string("SRS1") + sep + "1C54=fwd1.example==AbCd=XY=example.org=carol@srs.example.net";
    EXPECT_EQ(reversed(srs1), "SRS0=AbCd=XY=example.org=carol@fwd1.example") << srs1;
  }
  expect_refused("SRS0_XOvQ=G3=example.org=alice@srs.example.net", "5.1.1");
  expect_refused("SRS0.XOvQ=G3=example.org=alice@srs.example.net", "5.1.1");
}

TEST(Srs, OlderPostsrsdHashAlphabetIsAccepted) {
  EXPECT_EQ(reversed("SRS0=ZP+j=G3=example.org=a=b+c@srs.example.net"), "a=b+c@example.org");
  EXPECT_EQ(reversed("SRS1=Wk/A=fwd1.example=+AbCd=XY=example.org=carol@srs.example.net"),
            "SRS0+AbCd=XY=example.org=carol@fwd1.example");
}

TEST(Srs, TamperingIsRefused) {
  const std::string good = "SRS0=XOvQ=G3=example.org=alice@srs.example.net";
  for (std::size_t i = 5; i < 9; ++i) {  // each hash character
    std::string bad = good;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    expect_refused(bad, "5.1.1");
  }
  expect_refused("SRS0=XOvQ=G4=example.org=alice@srs.example.net", "5.1.1");    // timestamp
  expect_refused("SRS0=XOvQ=G3=example.com=alice@srs.example.net", "5.1.1");    // domain
  expect_refused("SRS0=XOvQ=G3=example.org=alice2@srs.example.net", "5.1.1");   // local part
  expect_refused("SRS0=XOvQ=G3=example.org=alic@srs.example.net", "5.1.1");
  expect_refused("SRS0=XOvQ=G3=example.orgalice=@srs.example.net", "5.1.1");    // fields moved
  expect_refused("SRS1=1C54=fwd2.example==AbCd=XY=example.org=carol@srs.example.net", "5.1.1");
  expect_refused("SRS1=1C54=fwd1.example==AbCd=XY=example.org=carl@srs.example.net", "5.1.1");
  expect_refused("SRS1=1C55=fwd1.example==AbCd=XY=example.org=carol@srs.example.net", "5.1.1");
  // Another secret's address.
  auto other = forward(Srs{.secret = "another-secret-456", .domain = "srs.example.net"}, "alice@example.org", kNow);
  expect_refused(other, "5.1.1");
}

TEST(Srs, ExpiresAfterMaxAge) {
  const char* address = "SRS0=XOvQ=G3=example.org=alice@srs.example.net";  // made on day 19675
  const std::time_t made = 19675 * kDay;
  EXPECT_EQ(reversed(address, made), "alice@example.org");
  EXPECT_EQ(reversed(address, made + 21 * kDay + kDay - 1), "alice@example.org");
  expect_refused(address, "5.1.6", made + 22 * kDay);
  expect_refused(address, "5.1.6", made - 1);  // from the future
  const Srs one_day{.secret = kSrs.secret, .domain = kSrs.domain, .max_age = std::chrono::hours(24)};
  EXPECT_EQ(reversed(address, made + kDay, one_day), "alice@example.org");
  EXPECT_EQ(reversed(address, made + 2 * kDay, one_day), "<5.1.6>");
  const Srs same_day{.secret = kSrs.secret, .domain = kSrs.domain, .max_age = std::chrono::hours(23)};
  EXPECT_EQ(reversed(address, made + kDay - 1, same_day), "alice@example.org");
  EXPECT_EQ(reversed(address, made + kDay, same_day), "<5.1.6>");
  // A forged address is invalid, whatever its timestamp says.
  expect_refused("SRS0=XOvR=G3=example.org=alice@srs.example.net", "5.1.1", made + 100 * kDay);
}

// Timestamps count days modulo 1024: an address from day 1023 of a cycle is
// 4 days old on day 3 of the next.
TEST(Srs, TimestampsWrapAround) {
  const std::time_t last_day = (20 * 1024 + 1023) * kDay;
  auto rewritten = forward(kSrs, "alice@example.org", last_day);
  EXPECT_TRUE(rewritten.starts_with("SRS0=")) << rewritten;
  EXPECT_NE(rewritten.find("=77="), std::string::npos) << rewritten;
  EXPECT_EQ(reversed(rewritten, last_day + 4 * kDay), "alice@example.org");
  EXPECT_EQ(reversed(rewritten, last_day + 21 * kDay), "alice@example.org");
  EXPECT_EQ(reversed(rewritten, last_day + 22 * kDay), "<5.1.6>");
  // 1024 days on the same timestamp is valid again: the scheme cannot tell.
  EXPECT_EQ(reversed(rewritten, last_day + 1024 * kDay), "alice@example.org");
}

TEST(Srs, MalformedAddressesAreRefused) {
  for (const char* address : {
           "", "@", "alice@srs.example.net", "SRS0", "SRS0=", "SRS0=@srs.example.net", "SRS0==", "SRS0===",
           "SRS0====", "SRS0=XOvQ@srs.example.net", "SRS0=XOvQ=G3@srs.example.net",
           "SRS0=XOvQ=G3=example.org@srs.example.net", "SRS0=XOvQ=G3=example.org=@srs.example.net",
           "SRS0=XOvQ=G3==alice@srs.example.net", "SRS0==G3=example.org=alice@srs.example.net",
           "SRS0=XOv=G3=example.org=alice@srs.example.net", "SRS0=XOvQ=G=example.org=alice@srs.example.net",
           "SRS0=XOvQ=G33=example.org=alice@srs.example.net", "SRS0=XOvQ=G1=example.org=alice@srs.example.net",
           "SRS1", "SRS1=", "SRS1=1C54@srs.example.net", "SRS1=1C54=fwd1.example@srs.example.net",
           "SRS1=1C54=fwd1.example=@srs.example.net", "SRS1=1C54==x@srs.example.net",
           "SRS1=1C5=fwd1.example==AbCd=XY=example.org=carol@srs.example.net", "SRS2=a=b=c=d@srs.example.net",
           "\"SRS0=XOvQ=G3=example.org=alice", "\"\"@srs.example.net", "\"@srs.example.net"}) {
    expect_refused(address, "5.1.1");
  }
}

TEST(Srs, NoCutOfAValidAddressIsAccepted) {
  const std::string good = "SRS0=XOvQ=G3=example.org=alice";
  for (std::size_t n = 0; n < good.size(); ++n) expect_refused(good.substr(0, n) + "@srs.example.net", "5.1.1");
  EXPECT_EQ(reversed(good), "alice@example.org");  // a bare local part is enough
  const std::string srs1 = "SRS1=1C54=fwd1.example==AbCd=XY=example.org=carol";
  for (std::size_t n = 0; n < srs1.size(); ++n) expect_refused(srs1.substr(0, n), "5.1.1");
}

TEST(Srs, HugeInputIsLinear) {
  std::string huge = "SRS0=XOvQ=G3=example.org=" + std::string(1 << 20, '=') + "@srs.example.net";
  expect_refused(huge, "5.1.1");
  expect_refused(std::string(1 << 20, '"'), "5.1.1");
  expect_refused("SRS1" + std::string(1 << 20, '-'), "5.1.1");
}

TEST(Srs, RecognisesSrsLocalParts) {
  for (const char* yes : {"SRS0=a", "srs0+a", "SrS1-a", "SRS1=", "\"SRS0=a b\"", "\"SRS1\\=x\""}) {
    EXPECT_TRUE(is_srs(yes)) << yes;
  }
  for (const char* no : {"", "SRS0", "SRS1", "SRS2=a", "SRS0_a", "SRS0.a", "xSRS0=a", "\"SRS0\"", "\"SRS0=a"}) {
    EXPECT_FALSE(is_srs(no)) << no;
  }
}

}  // namespace
}  // namespace tern::srs
