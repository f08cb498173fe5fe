#pragma once
// Just enough DER (X.690) to read an RSA public key from a key record's p=:
// SubjectPublicKeyInfo (RFC 5280 4.1, RFC 3279 2.3.1) or the bare PKCS#1
// RSAPublicKey (RFC 8017 A.1.1) that some publish. OpenSSL 3's generic
// decoder (d2i_PUBKEY) costs ~250 us a key here; reading the two integers
// and building the key from them costs ~15 us, which matters at one key per
// signature checked.
#include <optional>
#include <string_view>

namespace tern::dkim {

struct RsaPublicNumbers {
  std::string_view modulus;   // big-endian, no leading zero octet
  std::string_view exponent;  // likewise
};

// nullopt unless `der` is one of the two structures for an rsaEncryption
// key with positive integers. Octets after the outer element are ignored,
// as OpenSSL's d2i functions do.
std::optional<RsaPublicNumbers> parse_rsa_public_key(std::string_view der);

}  // namespace tern::dkim
