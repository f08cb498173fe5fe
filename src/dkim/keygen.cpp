#include "dkim/keygen.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "base/base64.h"
#include "dkim/key.h"

namespace tern::dkim {
namespace {

Error keygen_error(std::string detail) {
  ERR_clear_error();
  return Error{451, "4.3.0", "DKIM key generation failed", std::move(detail)};
}

// p=: SubjectPublicKeyInfo DER for RSA, the raw 32 octets for Ed25519.
std::string public_key_bytes(EVP_PKEY* key, KeyType type) {
  if (type == KeyType::kEd25519) {
    std::string raw(32, '\0');
    std::size_t size = raw.size();
    if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &size) != 1) {
      return {};
    }
    raw.resize(size);
    return raw;
  }
  int size = i2d_PUBKEY(key, nullptr);
  if (size <= 0) return {};
  std::string der(static_cast<std::size_t>(size), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_PUBKEY(key, &p) != size) return {};
  return der;
}

std::string private_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return {};
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

}  // namespace

Result<GeneratedKey> generate_key(KeyType type, int rsa_bits) {
  if (type == KeyType::kRsa && (rsa_bits < kMinRsaBits || rsa_bits > 16384)) {
    return keygen_error("RSA key size out of range: " + std::to_string(rsa_bits));
  }
  PKeyPtr key(type == KeyType::kRsa ? EVP_RSA_gen(static_cast<unsigned>(rsa_bits))
                                    : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) return keygen_error("OpenSSL could not generate the key");
  auto pub = public_key_bytes(key.get(), type);
  auto pem = private_pem(key.get());
  if (pub.empty() || pem.empty()) return keygen_error("OpenSSL could not encode the key");
  auto k = type == KeyType::kRsa ? "rsa" : "ed25519";
  return GeneratedKey{std::move(pem), std::string("v=DKIM1; k=") + k + "; p=" + base64_encode(pub)};
}

}  // namespace tern::dkim
