#include "dkim/verifier.h"

#include "base/text.h"
#include "dkim/key.h"
#include "dkim/tags.h"

namespace tern::dkim {
namespace {

SignatureResult final_result(Status status, std::string reason, SignatureResult ids) {
  ids.status = status;
  ids.reason = std::move(reason);
  return ids;
}

// What identifies a signature in Authentication-Results (RFC 8601 2.7.1,
// RFC 6008), taken from the tags even when the signature is unusable.
SignatureResult identify(std::string_view value) {
  SignatureResult ids;
  auto tags = parse_tag_list(value);
  if (!tags) return ids;
  auto text = [&](std::string_view name) { return std::string(find_tag(*tags, name).value_or("")); };
  ids.domain = text("d");
  ids.identity = find_tag(*tags, "i") ? text("i") : "@" + ids.domain;
  ids.selector = text("s");
  ids.algorithm = text("a");
  ids.b_prefix = remove_whitespace(text("b")).substr(0, 8);
  return ids;
}

}  // namespace

std::string_view status_name(Status s) {
  switch (s) {
    case Status::kPass: return "pass";
    case Status::kFail: return "fail";
    case Status::kNeutral: return "neutral";
    case Status::kPolicy: return "policy";
    case Status::kTempError: return "temperror";
    case Status::kPermError: return "permerror";
  }
  return "permerror";
}

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

void Verifier::start_body() {
  body_ = true;
  if (headers_.overflowed()) {
    auto why = "header section over " + std::to_string(options_.max_header_bytes) + " octets";
    entries_.push_back({0, std::nullopt, final_result(Status::kPermError, why, {}), 0});
    return;
  }
  auto fields = headers_.fields();
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (!iequals(fields[i].name, kSignatureField)) continue;
    if (entries_.size() == options_.max_signatures) {
      ++ignored_;
      continue;
    }
    add_entry(i, fields[i].text);
  }
}

void Verifier::add_entry(std::size_t field, std::string_view text) {
  auto value = text.substr(text.find(':') + 1);
  Entry e{field, std::nullopt, identify(value), 0};
  auto parsed = parse_signature(value);
  if (!parsed) {
    e.result = final_result(Status::kPermError, parsed.error().detail, std::move(e.result));
    entries_.push_back(std::move(e));
    return;
  }
  e.sig = std::move(*parsed);
  // One body hash per distinct (canonicalization, l=): signatures that agree
  // share it (all hashes are SHA-256).
  auto& sig = *e.sig;
  for (e.hasher = 0; e.hasher < hashers_.size(); ++e.hasher) {
    const auto& h = hashers_[e.hasher];
    if (h.canon == sig.body_canon && h.limit == sig.body_length) break;
  }
  if (e.hasher == hashers_.size()) {
    hashers_.push_back({sig.body_canon, sig.body_length, BodyHasher(sig.body_canon, sig.body_length), {}});
  }
  entries_.push_back(std::move(e));
}

std::optional<std::string> Verifier::key_query(std::size_t i) const {
  if (i >= entries_.size() || !entries_[i].sig) return std::nullopt;
  return entries_[i].sig->key_name();
}

std::vector<std::string> Verifier::key_queries() const {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    auto name = key_query(i);
    if (!name) continue;
    bool seen = false;
    for (const auto& n : names) seen = seen || iequals(n, *name);
    if (!seen) names.push_back(std::move(*name));
  }
  return names;
}

SignatureResult Verifier::verify(std::size_t i, const KeyAnswer& key, std::int64_t now) const {
  if (i >= entries_.size()) return final_result(Status::kPermError, "no such signature", {});
  const auto& e = entries_[i];
  if (!e.sig) return e.result;
  if (!finished_) return final_result(Status::kTempError, "message not finished", e.result);
  if (e.sig->expiration && now >= 0 && static_cast<std::uint64_t>(now) > *e.sig->expiration) {
    return final_result(Status::kPermError, "signature expired (x=)", e.result);
  }
  if (key.kind == KeyAnswer::Kind::kTempFail) {
    return final_result(Status::kTempError, "key lookup failed", e.result);
  }
  if (key.kind == KeyAnswer::Kind::kNotFound || key.records.empty()) {
    return final_result(Status::kPermError, "no key for signature", e.result);
  }
  // 3.6.2.2: several records are undefined; any one that verifies will do,
  // otherwise the first one's answer stands.
  std::optional<SignatureResult> first;
  for (const auto& record : key.records) {
    auto r = check_record(e, record);
    if (r.status == Status::kPass || r.status == Status::kPolicy) return r;
    if (!first) first = std::move(r);
  }
  return *first;
}

SignatureResult Verifier::check_record(const Entry& e, std::string_view record) const {
  const auto& sig = *e.sig;
  auto parsed = parse_key_record(record);
  if (!parsed) return final_result(Status::kPermError, parsed.error().detail, e.result);
  const auto& key = *parsed;
  auto ids = e.result;
  ids.testing = key.testing;
  // RFC 6376 6.1.2: the key's own restrictions.
  if (key.revoked) return final_result(Status::kPermError, "key revoked", ids);
  if (key.type != key_type_of(sig.algorithm)) {
    return final_result(Status::kPermError, "key type does not match a=", ids);
  }
  if (!key.allows_sha256) return final_result(Status::kPermError, "key h= excludes sha256", ids);
  if (!key.for_email) return final_result(Status::kPermError, "key s= excludes email", ids);
  if (key.strict && !iequals(sig.identity_domain(), sig.domain)) {
    return final_result(Status::kPermError, "key t=s and i= is a subdomain of d=", ids);
  }
  // 6.1.3: the body hash, then the signature over the header fields.
  const auto& body = hashers_[e.hasher];
  if (sig.body_length && *sig.body_length > body.hasher.canonical_length()) {
    return final_result(Status::kFail, "body shorter than l=", ids);
  }
  if (body.digest.empty() || body.digest != sig.body_hash) {
    return final_result(Status::kFail, "body hash did not verify", ids);
  }
  auto fields = headers_.fields();
  auto data = header_hash_input(fields, sig.signed_headers, sig.header_canon, fields[e.field].text);
  if (!verify_data(key.key.get(), key.type, data, sig.signature)) {
    return final_result(Status::kFail, "signature did not verify", ids);
  }
  if (!options_.accept_body_length && sig.body_length &&
      *sig.body_length < body.hasher.canonical_length()) {
    return final_result(Status::kPolicy, "l= leaves part of the body unsigned", ids);
  }
  return final_result(Status::kPass, "", ids);
}

}  // namespace tern::dkim
