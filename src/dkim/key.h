#pragma once
// DKIM key records, the TXT records at selector._domainkey.domain
// (RFC 6376 3.6.1, RFC 8463 4), parsed into a usable public key.
#include <string_view>

#include "base/result.h"
#include "dkim/crypto.h"

namespace tern::dkim {

// RFC 8301 3.2: RSA keys under 1024 bits are not valid signatures' keys.
inline constexpr int kMinRsaBits = 1024;

struct KeyRecord {
  KeyType type = KeyType::kRsa;  // k=, rsa by default
  bool revoked = false;          // p= empty: the key was revoked
  bool testing = false;          // t=y: the domain is testing DKIM
  bool strict = false;           // t=s: i= must be in d= itself, not a subdomain
  bool allows_sha256 = true;     // h= absent or naming sha256
  bool for_email = true;         // s= absent, "*" or naming "email"
  PKeyPtr key;                   // null when revoked
};

// A permanent error when the record is unusable: not a tag list, v= not
// DKIM1 or not first, p= missing, unknown k=, a key that does not decode, or
// an RSA key under kMinRsaBits. p= is SubjectPublicKeyInfo DER for RSA (a
// bare PKCS#1 RSAPublicKey is accepted too) and the raw 32-octet public key
// for Ed25519.
Result<KeyRecord> parse_key_record(std::string_view text);

}  // namespace tern::dkim
