#include "arc/chain.h"

#include "base/base64.h"
#include "base/text.h"
#include "dkim/tags.h"

namespace tern::arc {
namespace {

// instance = 1*2DIGIT, 1 to 50 (RFC 8617 4.2.1).
std::optional<std::uint32_t> parse_instance(std::string_view text) {
  if (text.empty() || text.size() > 2) return std::nullopt;
  std::uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (value < 1 || value > kMaxInstances) return std::nullopt;
  return value;
}

Error seal_error(std::string detail) {
  return Error{550, "5.7.29", "ARC-Seal unusable", std::move(detail)};
}

}  // namespace

std::string_view status_name(ChainStatus s) {
  switch (s) {
    case ChainStatus::kNone: return "none";
    case ChainStatus::kPass: return "pass";
    case ChainStatus::kFail: return "fail";
  }
  return "fail";
}

std::optional<FieldKind> field_kind(std::string_view name) {
  if (iequals(name, kSealField)) return FieldKind::kSeal;
  if (iequals(name, kMessageSignatureField)) return FieldKind::kMessageSignature;
  if (iequals(name, kAuthResultsField)) return FieldKind::kAuthResults;
  return std::nullopt;
}

std::optional<std::uint32_t> instance_of(FieldKind kind, std::string_view value) {
  if (kind != FieldKind::kAuthResults) {
    auto tags = dkim::parse_tag_list(value);
    if (!tags) return std::nullopt;
    auto i = dkim::find_tag(*tags, "i");
    return i ? parse_instance(*i) : std::nullopt;
  }
  // RFC 8617 4.1.1: the AAR value starts with the instance tag, "i=N;",
  // before the Authentication-Results payload, which is not a tag list.
  auto semicolon = value.find(';');
  if (semicolon == std::string_view::npos) return std::nullopt;
  auto tag = dkim::trim_fws(value.substr(0, semicolon));
  auto eq = tag.find('=');
  if (eq == std::string_view::npos || dkim::trim_fws(tag.substr(0, eq)) != "i") return std::nullopt;
  return parse_instance(dkim::trim_fws(tag.substr(eq + 1)));
}

Result<SealTags> parse_seal(std::string_view value) {
  auto tags = dkim::parse_tag_list(value);
  if (!tags) return seal_error("ARC-Seal is not a tag list");
  for (auto name : {"i", "cv", "a", "b", "d", "s"}) {
    if (!dkim::find_tag(*tags, name)) return seal_error(std::string("ARC-Seal has no ") + name + "=");
  }
  // RFC 8617 4.1.3: the seal's scope is fixed by 5.1.1, so it has no h=.
  if (dkim::find_tag(*tags, "h")) return seal_error("ARC-Seal has an h= tag");
  SealTags seal;
  auto instance = parse_instance(*dkim::find_tag(*tags, "i"));
  if (!instance) return seal_error("ARC-Seal i= is not an instance 1-50");
  seal.instance = *instance;
  auto cv = *dkim::find_tag(*tags, "cv");
  if (cv == "none") seal.cv = ChainStatus::kNone;
  else if (cv == "pass") seal.cv = ChainStatus::kPass;
  else if (cv == "fail") seal.cv = ChainStatus::kFail;
  else return seal_error("ARC-Seal cv= is not none, pass or fail");
  auto a = *dkim::find_tag(*tags, "a");
  if (a == "rsa-sha256") seal.algorithm = dkim::Algorithm::kRsaSha256;
  else if (a == "ed25519-sha256") seal.algorithm = dkim::Algorithm::kEd25519Sha256;
  else return seal_error("ARC-Seal a= is not rsa-sha256 or ed25519-sha256");
  auto b = base64_decode(dkim::remove_whitespace(*dkim::find_tag(*tags, "b")));
  if (!b || b->empty()) return seal_error("ARC-Seal b= is not base64");
  seal.signature = std::move(*b);
  seal.domain = *dkim::find_tag(*tags, "d");
  seal.selector = *dkim::find_tag(*tags, "s");
  if (!dkim::valid_domain(seal.domain)) return seal_error("ARC-Seal d= is not a domain name");
  if (!dkim::valid_domain(seal.selector, true)) return seal_error("ARC-Seal s= is not a selector");
  return seal;
}

Chain collect_chain(const std::vector<dkim::HeaderField>& fields) {
  Chain chain;
  // One slot per instance and kind; a second field for a slot is an error.
  std::vector<ArcSet> slots(kMaxInstances);
  auto fail = [&](std::string why) {
    chain.sets.clear();
    chain.error = std::move(why);
  };
  for (const auto& f : fields) {
    auto kind = field_kind(f.name);
    if (!kind) continue;
    chain.any = true;
    auto value = f.text.substr(f.text.find(':') + 1);
    auto instance = instance_of(*kind, value);
    if (!instance) {
      if (chain.error.empty()) fail(std::string(f.name) + " has no instance 1-50");
      continue;
    }
    chain.highest = std::max(chain.highest, *instance);
    auto& set = slots[*instance - 1];
    auto& slot = *kind == FieldKind::kSeal ? set.seal
                 : *kind == FieldKind::kMessageSignature ? set.message_signature
                                                         : set.auth_results;
    if (!slot.empty() && chain.error.empty()) {
      fail("two " + std::string(f.name) + " fields for i=" + std::to_string(*instance));
    }
    slot = f.text;
  }
  if (!chain.error.empty() || !chain.any) return chain;
  for (std::uint32_t i = 0; i < chain.highest; ++i) {
    const auto& set = slots[i];
    if (set.auth_results.empty() || set.message_signature.empty() || set.seal.empty()) {
      fail("ARC set i=" + std::to_string(i + 1) + " is incomplete");
      return chain;
    }
  }
  slots.resize(chain.highest);
  chain.sets = std::move(slots);
  return chain;
}

std::vector<std::string_view> seal_scope(const std::vector<ArcSet>& sets, std::size_t upto) {
  std::vector<std::string_view> scope;
  for (std::size_t i = 0; i < upto && i < sets.size(); ++i) {
    scope.push_back(sets[i].auth_results);
    scope.push_back(sets[i].message_signature);
    if (i + 1 < upto) scope.push_back(sets[i].seal);
  }
  return scope;
}

}  // namespace tern::arc
