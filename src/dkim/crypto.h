#pragma once
// OpenSSL 3 objects owned by unique_ptr, and the few EVP calls DKIM makes:
// SHA-256, and RSASSA-PKCS1-v1_5 / Ed25519 signatures (RFC 6376 3.3,
// RFC 8463 3). Nothing here throws; failures are false or empty results.
#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

namespace tern::dkim {

struct PKeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using PKeyPtr = std::unique_ptr<EVP_PKEY, PKeyDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

enum class KeyType { kRsa, kEd25519 };

// Incremental SHA-256, the only hash DKIM still accepts (RFC 8301 3.1).
class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  std::string finish();  // 32 octets; empty if OpenSSL failed
  bool ok() const { return ok_; }

 private:
  MdCtxPtr ctx_;
  bool ok_ = false;
};

std::string sha256(std::string_view data);

// `data` is the canonicalized header hash input (RFC 6376 3.7). RSA signs it
// with SHA-256 inside; Ed25519 signs its SHA-256 (RFC 8463 3: PureEdDSA over
// the hash). Empty on failure.
std::string sign_data(EVP_PKEY* key, KeyType type, std::string_view data);
bool verify_data(EVP_PKEY* key, KeyType type, std::string_view data, std::string_view signature);

}  // namespace tern::dkim
