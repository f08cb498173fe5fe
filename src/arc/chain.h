#pragma once
// The Authenticated Received Chain (RFC 8617) as header fields: the three
// field names, the instance tag, the ARC-Seal's tags, and the sets of a
// header section gathered by instance. Shared by the Verifier and the
// sealer; pure.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "dkim/header.h"
#include "dkim/signature.h"

namespace tern::arc {

inline constexpr std::string_view kSealField = "ARC-Seal";
inline constexpr std::string_view kMessageSignatureField = "ARC-Message-Signature";
inline constexpr std::string_view kAuthResultsField = "ARC-Authentication-Results";

// RFC 8617 4.2.1: instances run from 1 to 50; a chain beyond is invalid.
inline constexpr std::uint32_t kMaxInstances = 50;

// The chain validation status (RFC 8617 4.4), which is also the cv= value
// of a seal (4.1.3) and the arc= result in Authentication-Results (10.2).
enum class ChainStatus { kNone, kPass, kFail };
std::string_view status_name(ChainStatus s);  // "none", "pass", "fail"

enum class FieldKind { kSeal, kMessageSignature, kAuthResults };
// Which ARC header field `name` is (compared without regard to case).
std::optional<FieldKind> field_kind(std::string_view name);

// The instance of an ARC header field given its value (after the colon):
// i= of the tag list for AS and AMS; for the AAR the leading "i=N;"
// (RFC 8617 4.1.1). nullopt when missing or not 1..kMaxInstances.
std::optional<std::uint32_t> instance_of(FieldKind kind, std::string_view value);

// ARC-Seal tags (RFC 8617 4.1.3).
struct SealTags {
  std::uint32_t instance = 0;                             // i=
  ChainStatus cv = ChainStatus::kNone;                    // cv=
  dkim::Algorithm algorithm = dkim::Algorithm::kRsaSha256;  // a=
  std::string signature;                                  // b=, decoded
  std::string domain;                                     // d=
  std::string selector;                                   // s=

  std::string key_name() const { return selector + "._domainkey." + domain; }
};

// Errors say why the seal is unusable (a missing tag, an h= tag, which the
// seal must not have, an unknown a= or cv=, ...).
Result<SealTags> parse_seal(std::string_view value);

// One ARC set: its three whole fields (name to final CRLF).
struct ArcSet {
  std::string_view auth_results;
  std::string_view message_signature;
  std::string_view seal;
};

struct Chain {
  std::vector<ArcSet> sets;  // sets[k] is instance k + 1; empty when `error` is set
  std::uint32_t highest = 0;  // the highest instance seen, even in an invalid chain
  bool any = false;           // some ARC header field is present
  std::string error;          // the structure is invalid (RFC 8617 4.2.1, 5.2 step 3)
};

// Gathers the ARC header fields of a header section into sets and checks
// the structure: every field has an instance, each instance 1..N has
// exactly one field of each kind, no gaps, N at most kMaxInstances.
Chain collect_chain(const std::vector<dkim::HeaderField>& fields);

// What the ARC-Seal of instance `upto` signs (RFC 8617 5.1.1): the sets
// 1..upto in increasing instance order, each as AAR, AMS, AS, except that
// the seal of `upto` itself is left out (it is the signature field).
std::vector<std::string_view> seal_scope(const std::vector<ArcSet>& sets, std::size_t upto);

}  // namespace tern::arc
