#pragma once
// Shared by the ARC tests: the test keys in src/arc/testdata, a message, and
// helpers that seal and verify whole messages.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "arc/sealer.h"
#include "arc/verifier.h"

namespace tern::arc {

// gtest prints statuses by name.
inline void PrintTo(ChainStatus s, std::ostream* os) { *os << status_name(s); }

}  // namespace tern::arc

namespace tern::arc::test {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline std::string testdata(const std::string& name) {
  return std::string(TERN_SOURCE_DIR) + "/src/arc/testdata/" + name;
}

// The key record of a test key, without its final newline.
inline std::string record(const std::string& name) {
  auto text = read_file(testdata(name));
  return text.substr(0, text.find('\n'));
}

using Zone = std::map<std::string, std::string>;  // key name -> TXT record

// Three forwarders' keys: two RSA, one Ed25519.
inline const Zone& zone() {
  static const Zone z = {{"arc1._domainkey.lists.example", record("rsa2048.txt")},
                         {"ed1._domainkey.relay.example", record("ed25519.txt")},
                         {"arc2._domainkey.forward.example", record("rsa2048.txt")}};
  return z;
}

inline Sealer make_sealer(std::string domain, std::string selector, const std::string& key) {
  auto sealer = Sealer::create({.domain = std::move(domain), .selector = std::move(selector)},
                               read_file(testdata(key)));
  EXPECT_TRUE(sealer) << sealer.error().detail;
  return std::move(*sealer);
}
inline const Sealer& lists() {
  static const Sealer s = make_sealer("lists.example", "arc1", "rsa2048.pem");
  return s;
}
inline const Sealer& relay() {
  static const Sealer s = make_sealer("relay.example", "ed1", "ed25519.pem");
  return s;
}
inline const Sealer& forward() {
  static const Sealer s = make_sealer("forward.example", "arc2", "rsa2048.pem");
  return s;
}

inline constexpr std::int64_t kNow = 1700000000;

inline const std::string kMessage =
    "Received: from mail.origin.example by mx.lists.example; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    "From: Alice <alice@origin.example>\r\n"
    "To: list@lists.example\r\n"
    "Subject: Quarterly  report\r\n"
    "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    "Message-ID: <report-42@origin.example>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "The numbers are in.\r\n"
    "  Indented line\t with tabs.\r\n"
    "\r\n"
    "Regards,\r\nAlice\r\n\r\n\r\n";

// The message fed in pieces of `chunk` octets, or cut once at `split`
// when chunk is 0, and its chain verified against `keys`.
inline ChainResult verify(std::string_view message, const Zone& keys = zone(), std::size_t chunk = 0,
                          std::size_t split = 0, VerifierOptions options = {}) {
  Verifier v(options);
  if (chunk == 0) {
    v.feed(message.substr(0, split));
    v.feed(message.substr(split));
  } else {
    for (std::size_t at = 0; at < message.size(); at += chunk) v.feed(message.substr(at, chunk));
  }
  v.finish();
  KeyAnswers answers;
  for (const auto& name : v.key_queries()) {
    auto found = keys.find(name);
    answers[name] = found == keys.end() ? dkim::KeyAnswer::not_found() : dkim::KeyAnswer::found({found->second});
  }
  return v.verify(answers, kNow);
}

// The set `sealer` adds to `message`, or the error text.
inline Result<SealedSet> seal_set(const Sealer& sealer, std::string_view message, ChainStatus cv,
                                  std::string_view auth_results, std::size_t split = 0) {
  MessageSealer m(sealer);
  m.feed(message.substr(0, split));
  m.feed(message.substr(split));
  return m.finish({.chain = cv, .authentication_results = auth_results, .now = kNow});
}

// A forwarder's hop: verify the arriving chain, add `footer` to the body
// (as a mailing list might), seal with the arriving status and an
// Authentication-Results naming it, return the message with the set on top.
inline std::string hop(const Sealer& sealer, const std::string& arriving_message, const std::string& authserv_id,
                       std::string_view footer = {}) {
  auto arriving = verify(arriving_message);
  auto message = arriving_message + std::string(footer);
  auto ar = authserv_id + ";\r\n\tspf=pass smtp.mailfrom=origin.example;\r\n\tarc=" +
            std::string(status_name(arriving.status));
  auto set = seal_set(sealer, message, arriving.status, ar);
  EXPECT_TRUE(set) << set.error().detail;
  if (!set) return message;
  EXPECT_EQ(set->instance, arriving.instances + 1) << set->skipped;
  std::string out;
  for (const auto& f : set->fields) out += f;
  return out + message;
}

inline std::string replace(std::string text, std::string_view from, std::string_view to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

}  // namespace tern::arc::test
