// Signing: the deterministic vectors byte for byte, round trips through the
// verifier with both key types, tampered copies, key generation.
#include "dkim/signer.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <cstdio>

#include "base/base64.h"
#include "dkim/keygen.h"
#include "dkim/test_support.h"

namespace tern::dkim {
namespace {

using test::conformance_path;
using test::read_file;
using test::verify_message;

// keys/rfc8463-ed25519-seed.b64 is the bare RFC 8032 seed: wrap it in
// PKCS#8 (RFC 8410 7) to load it like any PEM key.
std::string ed25519_pem_from_seed(const std::string& seed_b64) {
  auto seed = base64_decode(seed_b64.substr(0, seed_b64.find_first_of("\r\n")));
  EXPECT_TRUE(seed && seed->size() == 32);
  std::string der("\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20", 16);
  return "-----BEGIN PRIVATE KEY-----\n" + base64_encode(der + *seed) + "\n-----END PRIVATE KEY-----\n";
}

std::vector<HeaderField> fields_of(const HeaderSection& headers) { return headers.fields(); }

HeaderSection parse_headers(std::string_view message) {
  HeaderSection headers(1 << 20);
  headers.feed(message);
  headers.finish();
  return headers;
}

SignerOptions vector_options(std::string domain) {
  return {.domain = std::move(domain),
          .selector = "brisbane",
          .header_canon = Canonicalization::kSimple,
          .body_canon = Canonicalization::kSimple,
          .headers = {"From", "To", "Subject", "Date", "Message-ID"},
          .oversigned = {}};
}

std::string signature_field(const std::string& signed_message) {
  return signed_message.substr(0, signed_message.find("\r\nFrom:") + 2);
}

TEST(SignVectors, RsaIsReproducedByteForByteAtEverySplit) {
  auto input = read_file(conformance_path("messages/go-msgauth-sign-input.eml"));
  auto want = signature_field(read_file(conformance_path("messages/go-msgauth-sign-rsa.eml")));
  auto signer = Signer::create(vector_options("example.org"),
                               read_file(conformance_path("keys/rfc6376-example-rsa1024.pem")));
  ASSERT_TRUE(signer) << signer.error().detail;
  for (std::size_t split = 0; split <= input.size(); ++split) {
    MessageSigner m({&*signer});
    m.feed(input.substr(0, split));
    m.feed(input.substr(split));
    auto fields = m.finish(424242);
    ASSERT_TRUE(fields) << fields.error().detail;
    ASSERT_EQ(fields->size(), 1u);
    ASSERT_EQ((*fields)[0], want) << "split " << split;
  }
}

// The Ed25519 vector's first line is 82 characters: our own layout keeps
// lines within 78 and so differs, and b= with it. Signing the vector's own
// layout gives its b= exactly; our layout verifies.
TEST(SignVectors, Ed25519IsReproducedInTheVectorsLayout) {
  auto input = read_file(conformance_path("messages/go-msgauth-sign-input.eml"));
  auto want = signature_field(read_file(conformance_path("messages/go-msgauth-sign-ed25519.eml")));
  auto pem = ed25519_pem_from_seed(read_file(conformance_path("keys/rfc8463-ed25519-seed.b64")));
  auto signer = Signer::create(vector_options("football.example.com"), pem);
  ASSERT_TRUE(signer) << signer.error().detail;
  EXPECT_EQ(signer->algorithm(), Algorithm::kEd25519Sha256);
  auto headers = parse_headers(input);
  auto fields = fields_of(headers);
  auto layout = want.substr(0, want.find("\r\n b=") + 5);
  auto names = signer->header_names(fields);
  auto field = signer->sign_field(fields, names, layout);
  ASSERT_TRUE(field);
  EXPECT_EQ(*field, want);

  MessageSigner m({&*signer});
  m.feed(input);
  auto ours = m.finish(424242);
  ASSERT_TRUE(ours);
  test::Zone zone = {{"brisbane._domainkey.football.example.com",
                      "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}};
  auto results = verify_message((*ours)[0] + input, zone, 424242, 100);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status, Status::kPass) << results[0].reason;
}

constexpr std::string_view kMessage =
    "From: Alice <alice@example.com>\r\n"
    "To: Bob <bob@example.net>,\r\n Carol <carol@example.net>\r\n"
    "Subject: Lunch  on\r\n\tFriday?\r\n"
    "Date: Fri, 11 Jul 2025 21:00:37 +0000\r\n"
    "Message-ID: <1@example.com>\r\n"
    "X-Unsigned: anything\r\n"
    "\r\n"
    "Shall we meet at noon?  \r\n"
    "\r\n"
    "-- \r\n"
    "Alice\r\n";

struct Keys {
  Signer rsa, ed25519;
  test::Zone zone;
};

// One key of each type for the whole run: RSA generation takes a while.
const GeneratedKey& test_key(KeyType type) {
  static const GeneratedKey rsa = *generate_key(KeyType::kRsa);
  static const GeneratedKey ed25519 = *generate_key(KeyType::kEd25519);
  return type == KeyType::kRsa ? rsa : ed25519;
}

Keys make_keys(SignerOptions options = {.domain = "example.com", .selector = "k"}) {
  const auto* rsa_key = &test_key(KeyType::kRsa);
  const auto* ed_key = &test_key(KeyType::kEd25519);
  auto rsa_options = options;
  rsa_options.selector = "rsa";
  auto ed_options = options;
  ed_options.selector = "ed";
  auto rsa = Signer::create(rsa_options, rsa_key->private_pem);
  auto ed = Signer::create(ed_options, ed_key->private_pem);
  EXPECT_TRUE(rsa && ed);
  return {std::move(*rsa), std::move(*ed),
          {{"rsa._domainkey." + options.domain, rsa_key->dns_record},
           {"ed._domainkey." + options.domain, ed_key->dns_record}}};
}

std::string sign_both(const Keys& keys, std::string_view message, std::size_t chunk = 17) {
  MessageSigner m({&keys.rsa, &keys.ed25519});
  EXPECT_EQ(m.body_hash_count(), 1u);  // relaxed and SHA-256 for both: one body hash
  for (std::size_t at = 0; at < message.size(); at += chunk) m.feed(message.substr(at, chunk));
  auto fields = m.finish(1700000000);
  EXPECT_TRUE(fields);
  return (*fields)[0] + (*fields)[1] + std::string(message);
}

std::vector<std::string> verify(const Keys& keys, std::string_view message) {
  std::vector<std::string> out;
  for (const auto& r : verify_message(message, keys.zone, 1700000001, 13)) {
    out.push_back(std::string(status_name(r.status)) + (r.reason.empty() ? "" : ": " + r.reason));
  }
  return out;
}

const std::vector<std::string> kBothPass = {"pass", "pass"};

TEST(RoundTrip, BothKeyTypesVerify) {
  auto keys = make_keys();
  auto message = sign_both(keys, kMessage);
  EXPECT_EQ(verify(keys, message), kBothPass);
  EXPECT_NE(message.find("a=rsa-sha256;"), std::string::npos);
  EXPECT_NE(message.find("a=ed25519-sha256;"), std::string::npos);
  // Relaxed/relaxed survives refolding and trailing whitespace and empty lines.
  std::string refolded(kMessage);
  refolded.replace(refolded.find("Subject: Lunch  on\r\n\t"), 21, "Subject:  Lunch on ");
  auto signed_fields = message.substr(0, message.size() - kMessage.size());
  EXPECT_EQ(verify(keys, signed_fields + refolded + "\r\n\r\n"), kBothPass);
}

TEST(RoundTrip, SignatureFieldLayout) {
  auto keys = make_keys();
  auto message = sign_both(keys, kMessage);
  auto header_end = message.find("\r\nFrom:");
  std::string_view fields(message.data(), header_end + 2);
  std::size_t start = 0;
  while (start < fields.size()) {
    auto end = fields.find("\r\n", start);
    EXPECT_LE(end - start, 78u) << fields.substr(start, end - start);
    start = end + 2;
  }
  // Over-signing: From, To, Subject and Date once more than present.
  EXPECT_NE(fields.find("h=From:From:Subject:Subject:Date:Date:To:To:Message-ID;"), std::string::npos)
      << fields;
  EXPECT_NE(fields.find("t=1700000000;"), std::string::npos);
}

TEST(RoundTrip, TamperedCopiesFail) {
  auto keys = make_keys();
  auto message = sign_both(keys, kMessage);
  auto tampered = [&](std::string_view from, std::string_view to) {
    auto copy = message;
    auto at = copy.rfind(from);
    EXPECT_NE(at, std::string::npos) << from;
    return verify(keys, copy.replace(at, from.size(), to));
  };
  auto both = [](std::string why) { return std::vector<std::string>{"fail: " + why, "fail: " + why}; };
  EXPECT_EQ(tampered("noon", "nine"), both("body hash did not verify"));
  EXPECT_EQ(tampered("Friday", "Monday"), both("signature did not verify"));
  EXPECT_EQ(tampered("From: Alice", "From: Mallory <m@evil.example>\r\nFrom: Alice"),
            both("signature did not verify"));  // an added From breaks the over-signed h=
  EXPECT_EQ(tampered("X-Unsigned: anything", "X-Unsigned: changed"), kBothPass);
  EXPECT_EQ(tampered("Alice\r\n", "Alice\r\nPS: added\r\n"), both("body hash did not verify"));
}

TEST(RoundTrip, ExpiryAndIdentity) {
  auto keys = make_keys({.domain = "example.com", .selector = "k", .identity = "alice@mail.example.com",
                         .expire_after = 3600});
  auto message = sign_both(keys, kMessage);
  EXPECT_NE(message.find("x=1700003600;"), std::string::npos);
  EXPECT_NE(message.find("i=alice@mail.example.com;"), std::string::npos);
  EXPECT_EQ(verify(keys, message), kBothPass);
  auto late = verify_message(message, keys.zone, 1700003601, 100);
  ASSERT_EQ(late.size(), 2u);
  EXPECT_EQ(late[0].status, Status::kPermError);
  EXPECT_EQ(late[0].identity, "alice@mail.example.com");
}

TEST(RoundTrip, SimpleCanonicalizationAndOneHashPerCanonicalization) {
  auto keys = make_keys();
  auto simple_options = keys.rsa.options();
  simple_options.header_canon = simple_options.body_canon = Canonicalization::kSimple;
  simple_options.selector = "simple";
  auto key = generate_key(KeyType::kEd25519);
  ASSERT_TRUE(key);
  auto simple = Signer::create(simple_options, key->private_pem);
  ASSERT_TRUE(simple);
  keys.zone["simple._domainkey.example.com"] = key->dns_record;
  MessageSigner m({&keys.rsa, &keys.ed25519, &*simple});
  EXPECT_EQ(m.body_hash_count(), 2u);
  m.feed(kMessage);
  auto fields = m.finish(1700000000);
  ASSERT_TRUE(fields);
  ASSERT_EQ(fields->size(), 3u);
  auto message = (*fields)[0] + (*fields)[1] + (*fields)[2] + std::string(kMessage);
  EXPECT_EQ(verify(keys, message), (std::vector<std::string>{"pass", "pass", "pass"}));
}

TEST(RoundTrip, EmptyBodyAndNoBody) {
  auto keys = make_keys();
  EXPECT_EQ(verify(keys, sign_both(keys, "From: a@example.com\r\n\r\n")), kBothPass);
  EXPECT_EQ(verify(keys, sign_both(keys, "From: a@example.com\r\n")), kBothPass);
}

TEST(Signer, KeysThatAreRefused) {
  SignerOptions options{.domain = "example.com", .selector = "s"};
  EXPECT_FALSE(Signer::create(options, "not a key"));
  PKeyPtr small(EVP_RSA_gen(768));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), small.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  auto refused = Signer::create(options, std::string(data, static_cast<std::size_t>(size)));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().detail.find("1024"), std::string::npos);
  auto key = generate_key(KeyType::kEd25519);
  ASSERT_TRUE(key);
  EXPECT_FALSE(Signer::create({.domain = "bad domain", .selector = "s"}, key->private_pem));
  EXPECT_FALSE(Signer::load(options, "/nonexistent/key.pem"));
}

TEST(Signer, LoadsPemFiles) {
  auto path = testing::TempDir() + "/dkim_test_key.pem";
  for (auto type : {KeyType::kRsa, KeyType::kEd25519}) {
    const auto* key = &test_key(type);
    std::FILE* file = std::fopen(path.c_str(), "wb");
    ASSERT_TRUE(file);
    std::fwrite(key->private_pem.data(), 1, key->private_pem.size(), file);
    std::fclose(file);
    auto signer = Signer::load({.domain = "example.com", .selector = "s"}, path);
    ASSERT_TRUE(signer) << signer.error().detail;
    EXPECT_EQ(key_type_of(signer->algorithm()), type);
  }
  std::remove(path.c_str());
  auto pkcs1 = Signer::load({.domain = "example.com", .selector = "s"},
                            conformance_path("keys/rfc8463-rsa1024.pem"));
  EXPECT_TRUE(pkcs1);
}

TEST(Keygen, RecordsArePublishable) {
  const auto* rsa = &test_key(KeyType::kRsa);
  EXPECT_EQ(rsa->dns_record.rfind("v=DKIM1; k=rsa; p=MIIBIjAN", 0), 0u) << rsa->dns_record;
  EXPECT_NE(rsa->private_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  const auto* ed = &test_key(KeyType::kEd25519);
  EXPECT_EQ(ed->dns_record.rfind("v=DKIM1; k=ed25519; p=", 0), 0u);
  EXPECT_EQ(ed->dns_record.size(), std::string("v=DKIM1; k=ed25519; p=").size() + 44);
  EXPECT_FALSE(generate_key(KeyType::kRsa, 512));
}

}  // namespace
}  // namespace tern::dkim
