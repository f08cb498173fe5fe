#include "mailauth/signing.h"

#include <gtest/gtest.h>

#include <fstream>
#include <filesystem>

#include "dkim/keygen.h"
#include "dkim/verifier.h"

namespace tern::mailauth {
namespace {

namespace fsys = std::filesystem;

struct Key {
  std::string path;
  std::string record;
};

Key write_key(dkim::KeyType type, const std::string& name) {
  auto key = dkim::generate_key(type);
  EXPECT_TRUE(key.ok());
  auto path = (fsys::temp_directory_path() / ("tern-signing-" + name + ".pem")).string();
  std::ofstream(path) << key->private_pem;
  return {path, key->dns_record};
}

// Signs `message` fed in two pieces cut at `split`.
std::string sign(const SigningKeys& keys, std::string_view message, std::size_t split) {
  MessageSigning signing(keys);
  signing.feed(message.substr(0, split));
  signing.feed(message.substr(split));
  auto fields = signing.finish(1796634186);
  EXPECT_TRUE(fields.ok());
  return fields.ok() ? *fields : "";
}

// Every signature on `signed_message` passes with these key records.
int passing(const std::string& signed_message, const std::map<std::string, std::string>& records) {
  dkim::Verifier verifier;
  verifier.feed(signed_message);
  verifier.finish();
  int pass = 0;
  for (std::size_t i = 0; i < verifier.signature_count(); ++i) {
    auto name = verifier.key_query(i);
    auto found = name ? records.find(*name) : records.end();
    auto key = found == records.end() ? dkim::KeyAnswer::not_found() : dkim::KeyAnswer::found({found->second});
    pass += verifier.verify(i, key, 1796634186).status == dkim::Status::kPass;
  }
  return pass;
}

// The From domain (or a parent) picks the keys; both selectors sign; the
// signatures verify wherever the message was cut; other domains are not
// signed.
TEST(Signing, FromDomainPicksTheKeysWhereverTheMessageIsCut) {
  auto rsa = write_key(dkim::KeyType::kRsa, "rsa");
  auto ed = write_key(dkim::KeyType::kEd25519, "ed");
  auto keys = SigningKeys::load({{"example.test", "rsa1", rsa.path}, {"example.test", "ed1", ed.path}});
  ASSERT_TRUE(keys.ok()) << keys.error().text;
  std::map<std::string, std::string> records{{"rsa1._domainkey.example.test", rsa.record},
                                             {"ed1._domainkey.example.test", ed.record}};
  std::string message = "Received: from x\r\n\tby y\r\nFrom: Alice <alice@sub.example.test>\r\nTo: b@c.test\r\n"
                        "Subject: hi\r\n\r\nbody line\r\n\r\n";
  for (std::size_t split = 0; split <= message.size(); split += 7) {
    auto fields = sign(**keys, message, split);
    EXPECT_EQ(passing(fields + message, records), 2) << "split " << split << "\n" << fields;
  }
  EXPECT_EQ(sign(**keys, "From: someone@other.test\r\n\r\nbody\r\n", 3), "");
  EXPECT_EQ(sign(**keys, "Subject: no From\r\n\r\nbody\r\n", 3), "");
  EXPECT_EQ(sign(**keys, "From: a@example.test, b@other.test\r\n\r\nbody\r\n", 3), "");  // two domains
  auto body_changed = sign(**keys, message, 0) + message + "more\r\n";
  EXPECT_EQ(passing(body_changed, records), 0);
  fsys::remove(rsa.path);
  fsys::remove(ed.path);
}

TEST(Signing, UnreadableKeysNameTheirTable) {
  auto keys = SigningKeys::load({{"example.test", "s1", "/nonexistent/key.pem"}});
  ASSERT_FALSE(keys.ok());
  EXPECT_NE(keys.error().text.find("dkim.example.test"), std::string::npos) << keys.error().text;
}

}  // namespace
}  // namespace tern::mailauth
