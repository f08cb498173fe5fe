#pragma once
// ARC chain validation (RFC 8617 5.2), streamed and without I/O, like
// dkim::Verifier. The caller feeds the message once, in chunks cut
// anywhere; the body hashes of the ARC-Message-Signatures run as the body
// arrives. At the end the verifier names the key records it needs; the
// caller looks them up (TXT at selector._domainkey.domain) and hands the
// answers to verify().
//
//   arc::Verifier v;
//   for (chunk : message) v.feed(chunk);
//   v.finish();
//   arc::KeyAnswers keys;
//   for (const auto& name : v.key_queries()) keys[name] = lookup_txt(name);
//   arc::ChainResult r = v.verify(keys, now);
//   // r.status: arc=none/pass/fail; cv= of the set we add when sealing
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "arc/chain.h"
#include "dkim/canon.h"
#include "dkim/header.h"
#include "dkim/verifier.h"

namespace tern::arc {

// Key record answers by name, as key_queries() spells them (lower case).
// A name with no entry counts as a failed lookup.
using KeyAnswers = std::map<std::string, dkim::KeyAnswer>;

struct ChainResult {
  ChainStatus status = ChainStatus::kNone;
  std::string reason;            // why not pass (log, A-R comment); empty on pass
  std::uint32_t instances = 0;   // N, the highest instance; 0 when there is no chain
  // RFC 8617 5.2 step 5, for header.oldest-pass (10.2), set on pass: 0 when
  // every AMS validates, else the instance after the newest one that does not.
  std::uint32_t oldest_pass = 0;
  // Fail because a key lookup failed (not because of the message): the
  // caller may try again later rather than act on the failure.
  bool temporary = false;
  std::string seal_domain;       // d= of the newest ARC-Seal, when the chain passes
};

struct VerifierOptions {
  // A header section over this is not kept: a message with ARC header
  // fields in it cannot be validated (fail).
  std::size_t max_header_bytes = 256 * 1024;
};

class Verifier {
 public:
  explicit Verifier(VerifierOptions options = {});

  // The message as it arrives: header section, empty line, body; CRLF line ends.
  void feed(std::string_view chunk);
  void finish();

  // After finish(): the highest instance (0: no ARC sets).
  std::uint32_t instances() const { return instances_; }
  // The key records verify() needs, "selector._domainkey.domain" in lower
  // case, each once; empty when the result does not depend on keys.
  std::vector<std::string> key_queries() const;
  // `now` is Unix time, for an AMS x= (RFC 6376 3.5).
  ChainResult verify(const KeyAnswers& keys, std::int64_t now) const;

 private:
  struct Set {
    std::optional<dkim::Signature> ams;   // nullopt: `ams_error` says why
    std::string ams_error;
    std::size_t hasher = 0;               // index into hashers_
    std::optional<SealTags> seal;         // parsed at the end of the header
  };
  struct Hashed {
    dkim::Canonicalization canon;
    std::optional<std::uint64_t> limit;
    dkim::BodyHasher hasher;
    std::string digest;                   // after finish()
  };
  struct Check {
    bool ok = false;
    bool temporary = false;
    std::string why;
  };

  void start_body();
  Check check_ams(std::size_t set, const std::vector<dkim::HeaderField>& fields, const Chain& chain,
                  const KeyAnswers& keys, std::int64_t now) const;
  Check check_seal(std::size_t set, const Chain& chain, const KeyAnswers& keys) const;
  static Check verify_signature(const KeyAnswers& keys, const std::string& key_name, dkim::Algorithm a,
                                std::string_view data, std::string_view signature);
  ChainResult fail(std::string why, bool temporary = false) const;

  VerifierOptions options_;
  dkim::HeaderSection headers_;
  std::uint32_t instances_ = 0;
  std::vector<Set> sets_;
  std::vector<Hashed> hashers_;
  std::optional<ChainResult> known_;       // decided without keys (none, structure)
  bool body_ = false;
  bool finished_ = false;
};

}  // namespace tern::arc
