#include "arc/verifier.h"

#include "base/text.h"
#include "dkim/crypto.h"
#include "dkim/key.h"

namespace tern::arc {
namespace {

std::string field_value(std::string_view field) {
  return std::string(field.substr(field.find(':') + 1));
}

std::string instance_label(std::string_view field, std::size_t set) {
  return std::string(field) + " i=" + std::to_string(set + 1) + ": ";
}

// The key's own restrictions (RFC 6376 6.1.2, which ARC keeps: RFC 8617
// 4.1.2 and 4.1.3 use DKIM keys as they are); "" when it may verify.
std::string key_problem(const dkim::KeyRecord& key, dkim::Algorithm a) {
  if (key.revoked) return "key revoked";
  if (key.type != dkim::key_type_of(a)) return "key type does not match a=";
  if (!key.allows_sha256) return "key h= excludes sha256";
  if (!key.for_email) return "key s= excludes email";
  return {};
}

}  // namespace

Verifier::Verifier(VerifierOptions options) : options_(options), headers_(options.max_header_bytes) {}

void Verifier::feed(std::string_view chunk) {
  if (finished_) return;
  if (!body_) {
    chunk.remove_prefix(headers_.feed(chunk));
    if (!headers_.complete()) return;
    start_body();
  }
  for (auto& h : hashers_) h.hasher.feed(chunk);
}

void Verifier::finish() {
  if (finished_) return;
  if (!body_) {
    headers_.finish();  // no empty line: all header, empty body
    start_body();
  }
  for (auto& h : hashers_) h.digest = h.hasher.finish();
  finished_ = true;
}

ChainResult Verifier::fail(std::string why, bool temporary) const {
  return ChainResult{ChainStatus::kFail, std::move(why), instances_, 0, temporary, {}};
}

// What needs no key is decided here, at the end of the header section:
// RFC 8617 5.2 steps 1 to 3. The AMS body hashes start only for a chain
// that may still pass.
void Verifier::start_body() {
  body_ = true;
  if (headers_.overflowed()) {
    known_ = fail("header section over " + std::to_string(options_.max_header_bytes) + " octets");
    return;
  }
  auto fields = headers_.fields();
  auto chain = collect_chain(fields);
  instances_ = chain.highest;
  if (!chain.any) {  // step 1: no sets, no chain
    known_ = ChainResult{ChainStatus::kNone, "no ARC sets", 0, 0, false, {}};
    return;
  }
  if (!chain.error.empty()) {  // step 3 (and more than 50 sets, step 1)
    known_ = fail(chain.error);
    return;
  }
  auto n = chain.sets.size();
  sets_.resize(n);
  for (std::size_t k = 0; k < n; ++k) {
    auto seal = parse_seal(field_value(chain.sets[k].seal));
    if (!seal) {
      known_ = fail(instance_label(kSealField, k) + seal.error().detail);
      return;
    }
    sets_[k].seal = std::move(*seal);
  }
  // Step 2: the newest sealer already found the chain failed.
  if (sets_[n - 1].seal->cv == ChainStatus::kFail) {
    known_ = fail(instance_label(kSealField, n - 1) + "cv=fail");
    return;
  }
  // Step 3: cv=none at i=1 only, pass everywhere else (RFC 8617 4.1.3).
  for (std::size_t k = 0; k < n; ++k) {
    auto want = k == 0 ? ChainStatus::kNone : ChainStatus::kPass;
    if (sets_[k].seal->cv != want) {
      known_ = fail(instance_label(kSealField, k) + "cv=" + std::string(status_name(sets_[k].seal->cv)));
      return;
    }
  }
  // Every AMS gets its body hash (the older ones for oldest-pass, step 5);
  // those that agree on canonicalization and l= share one.
  for (std::size_t k = 0; k < n; ++k) {
    auto& set = sets_[k];
    auto parsed = dkim::parse_signature(field_value(chain.sets[k].message_signature),
                                        dkim::SignatureKind::kArcMessage);
    if (!parsed) {
      set.ams_error = parsed.error().detail;
      continue;
    }
    set.ams = std::move(*parsed);
    for (set.hasher = 0; set.hasher < hashers_.size(); ++set.hasher) {
      const auto& h = hashers_[set.hasher];
      if (h.canon == set.ams->body_canon && h.limit == set.ams->body_length) break;
    }
    if (set.hasher == hashers_.size()) {
      auto c = set.ams->body_canon;
      auto l = set.ams->body_length;
      hashers_.push_back({c, l, dkim::BodyHasher(c, l), {}});
    }
  }
}

std::vector<std::string> Verifier::key_queries() const {
  std::vector<std::string> names;
  if (known_ || !body_) return names;
  auto add = [&](const std::string& name) {
    auto lower = to_lower(name);
    for (const auto& n : names) {
      if (n == lower) return;
    }
    names.push_back(std::move(lower));
  };
  for (auto k = sets_.size(); k-- > 0;) {
    if (sets_[k].ams) add(sets_[k].ams->key_name());
    add(sets_[k].seal->key_name());
  }
  return names;
}

ChainResult Verifier::verify(const KeyAnswers& keys, std::int64_t now) const {
  if (!finished_) return fail("message not finished");
  if (known_) return *known_;
  auto fields = headers_.fields();
  auto chain = collect_chain(fields);  // as in start_body(): the same sets
  auto n = sets_.size();
  // Step 4: the newest AMS, which covers the message as it is now.
  auto newest = check_ams(n - 1, fields, chain, keys, now);
  if (!newest.ok) return fail(instance_label(kMessageSignatureField, n - 1) + newest.why, newest.temporary);
  // Step 6: every seal, newest first.
  for (auto k = n; k-- > 0;) {
    auto seal = check_seal(k, chain, keys);
    if (!seal.ok) return fail(instance_label(kSealField, k) + seal.why, seal.temporary);
  }
  // Step 5, done last since only a passing chain reports it: the older
  // AMSs from N-1 down, stopping at the first that does not validate.
  ChainResult result{ChainStatus::kPass, {}, instances_, 0, false, sets_[n - 1].seal->domain};
  for (auto k = n - 1; k-- > 0;) {
    if (!check_ams(k, fields, chain, keys, now).ok) {
      result.oldest_pass = static_cast<std::uint32_t>(k + 2);
      break;
    }
  }
  return result;
}

Verifier::Check Verifier::check_ams(std::size_t k, const std::vector<dkim::HeaderField>& fields,
                                    const Chain& chain, const KeyAnswers& keys, std::int64_t now) const {
  const auto& set = sets_[k];
  if (!set.ams) return {false, false, set.ams_error};
  const auto& sig = *set.ams;
  for (const auto& name : sig.signed_headers) {
    // RFC 8617 4.1.2: the AMS must not sign ARC-Seal fields.
    if (iequals(name, kSealField)) return {false, false, "h= names ARC-Seal"};
  }
  if (sig.expiration && now >= 0 && static_cast<std::uint64_t>(now) > *sig.expiration) {
    return {false, false, "signature expired (x=)"};
  }
  const auto& body = hashers_[set.hasher];
  if (sig.body_length && *sig.body_length > body.hasher.canonical_length()) {
    return {false, false, "body shorter than l="};
  }
  if (body.digest.empty() || body.digest != sig.body_hash) return {false, false, "body hash did not verify"};
  auto data = dkim::header_hash_input(fields, sig.signed_headers, sig.header_canon,
                                      chain.sets[k].message_signature);
  return verify_signature(keys, sig.key_name(), sig.algorithm, data, sig.signature);
}

// RFC 8617 5.1.1: relaxed header canonicalization, always, over the sets
// 1..i in instance order; no body.
Verifier::Check Verifier::check_seal(std::size_t k, const Chain& chain, const KeyAnswers& keys) const {
  const auto& seal = *sets_[k].seal;
  auto data = dkim::header_hash_input(seal_scope(chain.sets, k + 1), dkim::Canonicalization::kRelaxed,
                                      chain.sets[k].seal);
  return verify_signature(keys, seal.key_name(), seal.algorithm, data, seal.signature);
}

Verifier::Check Verifier::verify_signature(const KeyAnswers& keys, const std::string& key_name,
                                           dkim::Algorithm a, std::string_view data,
                                           std::string_view signature) {
  auto found = keys.find(to_lower(key_name));
  if (found == keys.end()) return {false, true, "no answer for key " + key_name};
  const auto& answer = found->second;
  if (answer.kind == dkim::KeyAnswer::Kind::kTempFail) return {false, true, "key lookup failed"};
  if (answer.kind == dkim::KeyAnswer::Kind::kNotFound || answer.records.empty()) {
    return {false, false, "no key at " + key_name};
  }
  // Several records: any one that verifies will do (RFC 6376 3.6.2.2),
  // otherwise the first one's answer stands.
  std::string first;
  for (const auto& record : answer.records) {
    auto key = dkim::parse_key_record(record);
    std::string why = key ? key_problem(*key, a) : key.error().detail;
    if (why.empty() && !dkim::verify_data(key->key.get(), key->type, data, signature)) {
      why = "signature did not verify";
    }
    if (why.empty()) return {true, false, {}};
    if (first.empty()) first = std::move(why);
  }
  return {false, false, first};
}

}  // namespace tern::arc
