#pragma once
// DKIM verification (RFC 6376 6), streamed and without I/O. The caller feeds
// the message once, in chunks cut anywhere; the body hashes run as the body
// arrives, one per distinct (body canonicalization, l=). At the end the
// verifier names the key records it needs; the caller looks them up (TXT
// at selector._domainkey.domain) and hands each answer to verify().
//
//   Verifier v;
//   for (chunk : message) v.feed(chunk);
//   v.finish();
//   for (i = 0; i < v.signature_count(); ++i) {
//     KeyAnswer key;                       // unused when key_query(i) is empty
//     if (auto name = v.key_query(i)) key = lookup_txt(*name);
//     results.push_back(v.verify(i, key, now));
//   }
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dkim/canon.h"
#include "dkim/header.h"
#include "dkim/signature.h"

namespace tern::dkim {

// RFC 8601 2.7.1 result names.
enum class Status { kPass, kFail, kNeutral, kPolicy, kTempError, kPermError };
std::string_view status_name(Status s);

struct SignatureResult {
  Status status = Status::kPermError;
  std::string reason;     // why it did not pass (log, A-R comment); empty on pass
  std::string domain;     // d=  (header.d)
  std::string identity;   // i=  (header.i), "@" + d= when absent
  std::string selector;   // s=  (header.s)
  std::string algorithm;  // a=  (header.a)
  std::string b_prefix;   // the first 8 characters of b= (header.b, RFC 6008)
  bool testing = false;   // the key says t=y: the domain is testing DKIM
};

// The answer to a key query: the TXT records found (each one's strings
// joined), none (NXDOMAIN or no TXT: PERMFAIL no key), or a DNS failure.
struct KeyAnswer {
  enum class Kind { kFound, kNotFound, kTempFail };
  Kind kind = Kind::kTempFail;
  std::vector<std::string> records;

  static KeyAnswer found(std::vector<std::string> records) { return {Kind::kFound, std::move(records)}; }
  static KeyAnswer not_found() { return {Kind::kNotFound, {}}; }
  static KeyAnswer temp_fail() { return {Kind::kTempFail, {}}; }
};

struct VerifierOptions {
  // A header section over this is not kept: the message counts as having
  // one unusable signature (permerror).
  std::size_t max_header_bytes = 256 * 1024;
  // DKIM-Signature fields past this many are not looked at (RFC 6376 6.1:
  // verifiers may limit the signatures they try).
  std::size_t max_signatures = 10;
  // false: a signature whose l= leaves part of the body unsigned gets
  // "policy" instead of "pass" (RFC 6376 8.2).
  bool accept_body_length = true;
};

class Verifier {
 public:
  explicit Verifier(VerifierOptions options = {});

  // The message as it arrives: header section, empty line, body; CRLF line ends.
  void feed(std::string_view chunk);
  void finish();

  // After finish(). Signatures are numbered top to bottom.
  std::size_t signature_count() const { return entries_.size(); }
  // DKIM-Signature fields that max_signatures left out.
  std::size_t ignored_signatures() const { return ignored_; }
  // The key signature `i` needs ("selector._domainkey.domain"), or nullopt
  // when its result is already known (a syntax error): verify() then
  // ignores the key it is given.
  std::optional<std::string> key_query(std::size_t i) const;
  // Every distinct key_query, in order.
  std::vector<std::string> key_queries() const;
  // `now` is Unix time, for x= (RFC 6376 3.5).
  SignatureResult verify(std::size_t i, const KeyAnswer& key, std::int64_t now) const;

 private:
  struct Entry {
    std::size_t field = 0;           // index into the header fields
    std::optional<Signature> sig;    // nullopt: `result` is final
    SignatureResult result;          // identification, and the status when final
    std::size_t hasher = 0;          // index into hashers_
  };

  void start_body();
  void add_entry(std::size_t field, std::string_view text);
  SignatureResult check_record(const Entry& e, std::string_view record) const;

  VerifierOptions options_;
  HeaderSection headers_;
  std::vector<Entry> entries_;
  struct Hashed {
    Canonicalization canon;
    std::optional<std::uint64_t> limit;
    BodyHasher hasher;
    std::string digest;           // after finish()
  };
  std::vector<Hashed> hashers_;
  std::size_t ignored_ = 0;
  bool body_ = false;
  bool finished_ = false;
};

}  // namespace tern::dkim
