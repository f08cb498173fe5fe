#pragma once
// The DKIM-Signature header field (RFC 6376 3.5): parsing and the checks of
// 6.1.1 that need no key, and the field as it enters its own hash (3.7).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "dkim/canon.h"
#include "dkim/crypto.h"
#include "dkim/header.h"

namespace tern::dkim {

inline constexpr std::string_view kSignatureField = "DKIM-Signature";

// h= names at most this many fields. RFC 6376 sets no bound; real
// signatures list a few dozen (twice that over-signed). The bound keeps a
// header section of a few hundred KiB from becoming megabytes of names.
inline constexpr std::size_t kMaxSignedHeaders = 256;

enum class Algorithm { kRsaSha256, kEd25519Sha256 };

std::string_view algorithm_name(Algorithm a);  // "rsa-sha256", "ed25519-sha256"
KeyType key_type_of(Algorithm a);

struct Signature {
  Algorithm algorithm = Algorithm::kRsaSha256;             // a=
  std::string signature;                                   // b=, decoded
  std::string b_text;                                      // b= as base64, whitespace removed
  std::string body_hash;                                   // bh=, decoded
  Canonicalization header_canon = Canonicalization::kSimple;  // c=, header part
  Canonicalization body_canon = Canonicalization::kSimple;    // c=, body part
  std::string domain;                                      // d= (SDID)
  std::string identity;                                    // i= (AUID), "@" + d= by default
  std::string selector;                                    // s=
  std::vector<std::string> signed_headers;                 // h=, in order
  std::optional<std::uint64_t> body_length;                // l=
  std::optional<std::uint64_t> timestamp;                  // t=
  std::optional<std::uint64_t> expiration;                 // x=

  // Where the key record is published (RFC 6376 3.6.2.1).
  std::string key_name() const { return selector + "._domainkey." + domain; }
  // The domain part of i=.
  std::string_view identity_domain() const;
};

// The ARC-Message-Signature (RFC 8617 4.1.2) is a DKIM-Signature without
// v= and whose i= is the ARC instance, not an AUID: both are left to the
// caller (identity is "@" + d=).
enum class SignatureKind { kDkim, kArcMessage };

// `value` is the field value (after "DKIM-Signature:"). Errors are
// permanent (PERMFAIL in RFC 6376 6.1.1 terms); their detail says why.
Result<Signature> parse_signature(std::string_view value, SignatureKind kind = SignatureKind::kDkim);

// RFC 6376 3.7: the field as hashed, "with the value of the b= tag
// (including all surrounding whitespace) deleted". `field` is the whole
// field; its final CRLF is left out too (the field is hashed without it).
std::string remove_b_value(std::string_view field);

// RFC 6376 3.7: what the signature signs. The fields `names` (h=) picks
// from `fields`, canonicalized, then `signature_field` (the DKIM-Signature
// field itself) without its b= value, canonicalized, without its final CRLF.
std::string header_hash_input(const std::vector<HeaderField>& fields,
                              const std::vector<std::string>& names, Canonicalization c,
                              std::string_view signature_field);
// The same over fields already chosen, hashed in the order given (the
// ARC-Seal takes the ARC sets by instance, RFC 8617 5.1.1, not by name).
std::string header_hash_input(const std::vector<std::string_view>& fields, Canonicalization c,
                              std::string_view signature_field);

// A domain name: dot-separated labels of letters, digits and inner hyphens
// (RFC 6376 3.5 d=, domain-name from RFC 5321 4.1.2); octets above 0x7f are
// let through as U-labels (RFC 8616). Selectors may also hold "_".
bool valid_domain(std::string_view name, bool allow_underscore = false);

// The permanent error of an unusable signature or key (RFC 6376 6.1.1).
Error perm_error(std::string detail);

}  // namespace tern::dkim
