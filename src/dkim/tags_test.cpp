// Tag lists, DKIM-Signature fields and key records (RFC 6376 3.2, 3.5, 3.6.1).
#include <gtest/gtest.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "base/base64.h"
#include "dkim/der.h"

#include "dkim/key.h"
#include "dkim/signature.h"
#include "dkim/tags.h"

namespace tern::dkim {
namespace {

TEST(TagList, ParsesNamesAndTrimmedValues) {
  auto tags = parse_tag_list(" v=1;\r\n\ta = rsa-sha256 ; h=from : to\t;");
  ASSERT_TRUE(tags);
  ASSERT_EQ(tags->size(), 3u);
  EXPECT_EQ((*tags)[1].name, "a");
  EXPECT_EQ((*tags)[1].value, "rsa-sha256");
  EXPECT_EQ(*find_tag(*tags, "h"), "from : to");
  EXPECT_FALSE(find_tag(*tags, "H"));  // names are case-sensitive
}

TEST(TagList, EmptyValuesAndLists) {
  EXPECT_EQ(parse_tag_list("")->size(), 0u);
  EXPECT_EQ(parse_tag_list("  ")->size(), 0u);
  auto tags = parse_tag_list("v=DKIM1; p=");
  ASSERT_TRUE(tags);
  EXPECT_EQ(*find_tag(*tags, "p"), "");
}

TEST(TagList, RejectsWhatTheGrammarDoesNot) {
  EXPECT_FALSE(parse_tag_list("a=1; a=2"));    // duplicate: the whole list is invalid
  EXPECT_FALSE(parse_tag_list("a=1;;b=2"));    // empty tag-spec
  EXPECT_FALSE(parse_tag_list(";a=1"));
  EXPECT_FALSE(parse_tag_list("a=1;;"));
  EXPECT_FALSE(parse_tag_list("1a=x"));        // tag-name starts with ALPHA
  EXPECT_FALSE(parse_tag_list("a-b=x"));
  EXPECT_FALSE(parse_tag_list("novalue"));
  EXPECT_FALSE(parse_tag_list(std::string("a=x\0y", 5)));  // control character
  EXPECT_TRUE(parse_tag_list("a_1=x=y"));      // "=" is a VALCHAR
}

TEST(TagList, ColonListsAndWhitespace) {
  auto items = split_colon_list(" From :\r\n to::Subject ");
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0], "From");
  EXPECT_EQ(items[2], "Subject");
  EXPECT_EQ(remove_whitespace(" ab\r\n\tc d "), "abcd");
}

constexpr std::string_view kValid =
    " v=1; a=rsa-sha256; d=example.net; s=brisbane; c=relaxed/simple; q=dns/txt;"
    " i=@eng.example.net; t=1117574938; x=1118006938; l=200; h=from:to:subject:date;"
    " bh=MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=; b=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSb"
    " av+yuU4zGeeruD00lszZVoG4ZHRNiYzR; zz=unknown";

TEST(Signature, ParsesEveryTag) {
  auto sig = parse_signature(kValid);
  ASSERT_TRUE(sig) << sig.error().detail;
  EXPECT_EQ(sig->algorithm, Algorithm::kRsaSha256);
  EXPECT_EQ(sig->header_canon, Canonicalization::kRelaxed);
  EXPECT_EQ(sig->body_canon, Canonicalization::kSimple);
  EXPECT_EQ(sig->domain, "example.net");
  EXPECT_EQ(sig->identity, "@eng.example.net");
  EXPECT_EQ(sig->identity_domain(), "eng.example.net");
  EXPECT_EQ(sig->key_name(), "brisbane._domainkey.example.net");
  EXPECT_EQ(sig->signed_headers, (std::vector<std::string>{"from", "to", "subject", "date"}));
  EXPECT_EQ(*sig->body_length, 200u);
  EXPECT_EQ(*sig->timestamp, 1117574938u);
  EXPECT_EQ(*sig->expiration, 1118006938u);
  EXPECT_EQ(sig->body_hash, "12345678901234567890123456789012");
  EXPECT_EQ(sig->b_text.substr(0, 8), "dzdVyOfA");
}

TEST(Signature, DefaultsWhenOptionalTagsAreAbsent) {
  auto sig = parse_signature("v=1; a=ed25519-sha256; d=Example.COM; s=s1; h=From; bh=YQ==; b=YQ==");
  ASSERT_TRUE(sig) << sig.error().detail;
  EXPECT_EQ(sig->algorithm, Algorithm::kEd25519Sha256);
  EXPECT_EQ(sig->header_canon, Canonicalization::kSimple);
  EXPECT_EQ(sig->body_canon, Canonicalization::kSimple);
  EXPECT_EQ(sig->identity, "@Example.COM");
  EXPECT_FALSE(sig->body_length);
}

std::string with(std::string_view tag) {
  std::string base = "v=1; a=rsa-sha256; d=example.com; s=sel; h=from:to; bh=YQ==; b=YQ==";
  return base + "; " + std::string(tag);
}

std::string without(std::string_view tag) {
  std::string all = "v=1; a=rsa-sha256; d=example.com; s=sel; h=from:to; bh=YQ==; b=YQ==";
  auto at = all.find(std::string(tag) + "=");
  auto end = all.find(';', at);
  all.erase(at, end == std::string::npos ? std::string::npos : end - at + 2);
  return all;
}

TEST(Signature, PermanentErrors) {
  for (auto tag : {"v", "a", "b", "bh", "d", "h", "s"}) {
    EXPECT_FALSE(parse_signature(without(tag))) << "without " << tag;
  }
  auto error = [](std::string text) {
    auto sig = parse_signature(text);
    return sig ? std::string("parsed") : sig.error().detail;
  };
  EXPECT_NE(error(with("i=joe@example.org")), "parsed");           // i= not in d=
  EXPECT_NE(error(with("i=joe@badexample.com")), "parsed");        // suffix, not a subdomain
  EXPECT_EQ(error(with("i=joe@mail.EXAMPLE.com")), "parsed");
  EXPECT_NE(error(with("c=loose")), "parsed");
  EXPECT_NE(error(with("q=http")), "parsed");
  EXPECT_EQ(error(with("q=dns/txt:other")), "parsed");
  EXPECT_NE(error(with("l=12a")), "parsed");
  EXPECT_NE(error(with("t=200; x=100")), "parsed");                // x= not after t=
  EXPECT_NE(error("v=2; a=rsa-sha256; d=example.com; s=sel; h=from; bh=YQ==; b=YQ=="), "parsed");
  EXPECT_NE(error("v=1; a=rsa-sha256; d=example.com; s=sel; h=to:subject; bh=YQ==; b=YQ=="), "parsed");
  EXPECT_NE(error("v=1; a=rsa-sha1; d=example.com; s=sel; h=from; bh=YQ==; b=YQ=="), "parsed");
  EXPECT_NE(error("v=1; a=hmac-md5; d=example.com; s=sel; h=from; bh=YQ==; b=YQ=="), "parsed");
  EXPECT_NE(error("v=1; a=rsa-sha256; d=ex(ample.com; s=sel; h=from; bh=YQ==; b=YQ=="), "parsed");
  EXPECT_NE(error("v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=Y; b=YQ=="), "parsed");
  EXPECT_NE(error("v=1; v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=YQ==; b=YQ=="), "parsed");
}

// RFC 8617 4.1.2: the ARC-Message-Signature has no v= and its i= is the
// instance; as a DKIM-Signature the same text is an error.
TEST(Signature, ArcMessageSignatureSyntax) {
  auto ams = "i=2; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=sel; h=from; bh=YQ==; b=YQ==";
  auto sig = parse_signature(ams, SignatureKind::kArcMessage);
  ASSERT_TRUE(sig) << sig.error().detail;
  EXPECT_EQ(sig->identity, "@example.com");
  EXPECT_EQ(sig->header_canon, Canonicalization::kRelaxed);
  EXPECT_FALSE(parse_signature(ams));
  EXPECT_FALSE(parse_signature("i=2; a=rsa-sha256; d=example.com; s=sel; bh=YQ==; b=YQ==",
                               SignatureKind::kArcMessage));  // no h=
}

TEST(Signature, SignedHeaderCountIsBounded) {
  std::string h = "h=from";
  for (std::size_t i = 1; i < kMaxSignedHeaders; ++i) h += ":to";
  auto base = std::string("v=1; a=rsa-sha256; d=example.com; s=sel; bh=YQ==; b=YQ==; ");
  EXPECT_TRUE(parse_signature(base + h));
  EXPECT_FALSE(parse_signature(base + h + ":cc"));
}

TEST(TagList, ManyTagsAreParsedInLinearishTime) {
  std::string text;
  for (int i = 0; i < 50000; ++i) text += "t" + std::to_string(i) + "=x;";
  auto tags = parse_tag_list(text);
  ASSERT_TRUE(tags);
  EXPECT_EQ(tags->size(), 50000u);
  EXPECT_FALSE(parse_tag_list(text + "t777=y"));
}

TEST(Signature, HugeLengthSaturates) {
  auto sig = parse_signature(with("l=" + std::string(76, '9')));
  ASSERT_TRUE(sig);
  EXPECT_EQ(*sig->body_length, UINT64_MAX);
}

TEST(Signature, RemoveBValueKeepsEverythingElse) {
  EXPECT_EQ(remove_b_value("DKIM-Signature: a=x; b=abc\r\n def; bh=xyz\r\n"),
            "DKIM-Signature: a=x; b=; bh=xyz");
  EXPECT_EQ(remove_b_value("DKIM-Signature: bh=xyz;\r\n b = ab cd \r\n"),
            "DKIM-Signature: bh=xyz;\r\n b =");
}

TEST(Signature, DomainNames) {
  EXPECT_TRUE(valid_domain("example.com"));
  EXPECT_TRUE(valid_domain("xn--bcher-kva.example"));
  EXPECT_FALSE(valid_domain("legitimate.com(.attacker.com"));
  EXPECT_FALSE(valid_domain("a..b"));
  EXPECT_FALSE(valid_domain("-a.b"));
  EXPECT_FALSE(valid_domain("example.com."));
  EXPECT_FALSE(valid_domain("_x.example"));
  EXPECT_TRUE(valid_domain("_x.example", true));
}

constexpr std::string_view kRsaKey =
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYf"
    "cTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPN"
    "UYckcQ2QIDAQAB";

TEST(KeyRecord, ParsesRsaAndEd25519) {
  auto rsa = parse_key_record("v=DKIM1; k=rsa; t=y:s; h=sha1:sha256; s=email; p=" + std::string(kRsaKey));
  ASSERT_TRUE(rsa) << rsa.error().detail;
  EXPECT_EQ(rsa->type, KeyType::kRsa);
  EXPECT_TRUE(rsa->testing);
  EXPECT_TRUE(rsa->strict);
  EXPECT_TRUE(rsa->allows_sha256);
  EXPECT_TRUE(rsa->for_email);
  EXPECT_TRUE(rsa->key);
  auto ed = parse_key_record("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  ASSERT_TRUE(ed) << ed.error().detail;
  EXPECT_EQ(ed->type, KeyType::kEd25519);
  EXPECT_FALSE(ed->testing);
}

TEST(KeyRecord, FlagsThatForbid) {
  auto key = parse_key_record("h=sha1; s=im; p=" + std::string(kRsaKey));
  ASSERT_TRUE(key);
  EXPECT_FALSE(key->allows_sha256);
  EXPECT_FALSE(key->for_email);
  auto revoked = parse_key_record("v=DKIM1; p=");
  ASSERT_TRUE(revoked);
  EXPECT_TRUE(revoked->revoked);
  EXPECT_FALSE(revoked->key);
}

TEST(KeyRecord, Unusable) {
  EXPECT_FALSE(parse_key_record("v=DKIM2; p=" + std::string(kRsaKey)));
  EXPECT_FALSE(parse_key_record("k=rsa; v=DKIM1; p=" + std::string(kRsaKey)));  // v= not first
  EXPECT_FALSE(parse_key_record("v=DKIM1; k=dsa; p=" + std::string(kRsaKey)));
  EXPECT_FALSE(parse_key_record("v=DKIM1; k=rsa"));                               // no p=
  EXPECT_FALSE(parse_key_record("v=DKIM1; p=!!!!"));
  EXPECT_FALSE(parse_key_record("v=DKIM1; p=AAAA"));
  EXPECT_FALSE(parse_key_record("k=ed25519; p=" + std::string(kRsaKey)));         // not 32 octets
  EXPECT_FALSE(parse_key_record("k=rsa; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="));
}

// RFC 8301 3.2: RSA keys under 1024 bits are refused; 1024 is accepted.
TEST(KeyRecord, RsaKeySizeFloor) {
  auto record_for = [](unsigned bits) {
    PKeyPtr key(EVP_RSA_gen(bits));
    EXPECT_TRUE(key);
    std::string der(static_cast<std::size_t>(i2d_PUBKEY(key.get(), nullptr)), '\0');
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    i2d_PUBKEY(key.get(), &p);
    return "v=DKIM1; k=rsa; p=" + base64_encode(der);
  };
  auto small = parse_key_record(record_for(768));
  ASSERT_FALSE(small);
  EXPECT_NE(small.error().detail.find("1024"), std::string::npos);
  EXPECT_TRUE(parse_key_record(record_for(1024)));
}

TEST(KeyRecord, BarePkcs1RsaPublicKey) {
  auto spki = *base64_decode(kRsaKey);
  auto numbers = parse_rsa_public_key(spki);
  ASSERT_TRUE(numbers);
  EXPECT_EQ(numbers->modulus.size(), 128u);
  EXPECT_EQ(numbers->exponent, std::string_view("\x01\x00\x01", 3));
  auto pkcs1 = spki.substr(22);  // the BIT STRING's contents
  auto bare = parse_rsa_public_key(pkcs1);
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->modulus, numbers->modulus);
  EXPECT_TRUE(parse_key_record("p=" + base64_encode(pkcs1)));
}

TEST(KeyRecord, DerThatIsNotAnRsaKey) {
  auto spki = *base64_decode(kRsaKey);
  for (std::size_t size = 0; size < spki.size(); ++size) {
    EXPECT_FALSE(parse_rsa_public_key(spki.substr(0, size))) << "truncated to " << size;
  }
  EXPECT_TRUE(parse_rsa_public_key(spki + "trailing"));  // as d2i_PUBKEY
  auto other_oid = spki;
  other_oid[15] = '\x0a';  // 1.2.840.113549.1.1.10, RSASSA-PSS
  EXPECT_FALSE(parse_rsa_public_key(other_oid));
  EXPECT_TRUE(parse_rsa_public_key(std::string("\x30\x06\x02\x01\x7f\x02\x01\x03", 8)));
  EXPECT_FALSE(parse_rsa_public_key(std::string("\x30\x06\x02\x01\x80\x02\x01\x03", 8)));  // n < 0
  EXPECT_FALSE(parse_rsa_public_key(std::string("\x30\x80\x02\x01\x01\x02\x01\x01\x00\x00", 10)));
  EXPECT_FALSE(parse_rsa_public_key(std::string("\x30\x06\x02\x01\x00\x02\x01\x03", 8)));  // n = 0
}

}  // namespace
}  // namespace tern::dkim
