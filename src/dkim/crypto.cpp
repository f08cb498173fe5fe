#include "dkim/crypto.h"

#include <openssl/err.h>

namespace tern::dkim {
namespace {

const unsigned char* bytes(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

// RSA hashes inside the signature; Ed25519 takes no digest of its own and is
// given the SHA-256 of the data instead (RFC 8463 3).
bool init(EVP_MD_CTX* ctx, EVP_PKEY* key, KeyType type, bool signing) {
  const EVP_MD* md = type == KeyType::kRsa ? EVP_sha256() : nullptr;
  return signing ? EVP_DigestSignInit(ctx, nullptr, md, nullptr, key) == 1
                 : EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, key) == 1;
}

// What is signed: the data for RSA, its SHA-256 for Ed25519.
std::string_view signed_input(KeyType type, std::string_view data, std::string& digest) {
  if (type == KeyType::kRsa) return data;
  digest = sha256(data);
  return digest;
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  ok_ = ctx_ && EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) == 1;
}

void Sha256::update(std::string_view data) {
  if (ok_ && !data.empty()) ok_ = EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) == 1;
}

std::string Sha256::finish() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!ok_ || EVP_DigestFinal_ex(ctx_.get(), digest, &size) != 1) return {};
  ok_ = false;  // finished: a second finish() is an error, not a hash of nothing
  return std::string(reinterpret_cast<char*>(digest), size);
}

std::string sha256(std::string_view data) {
  Sha256 hash;
  hash.update(data);
  return hash.finish();
}

std::string sign_data(EVP_PKEY* key, KeyType type, std::string_view data) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || !init(ctx.get(), key, type, true)) {
    ERR_clear_error();
    return {};
  }
  std::string digest;
  auto input = signed_input(type, data, digest);
  std::size_t size = 0;
  std::string signature;
  if (EVP_DigestSign(ctx.get(), nullptr, &size, bytes(input), input.size()) == 1) {
    signature.resize(size);
    auto* out = reinterpret_cast<unsigned char*>(signature.data());
    if (EVP_DigestSign(ctx.get(), out, &size, bytes(input), input.size()) == 1) {
      signature.resize(size);
      return signature;
    }
  }
  ERR_clear_error();  // the thread's error queue would otherwise grow with every failure
  return {};
}

bool verify_data(EVP_PKEY* key, KeyType type, std::string_view data, std::string_view signature) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || !init(ctx.get(), key, type, false)) {
    ERR_clear_error();
    return false;
  }
  std::string digest;
  auto input = signed_input(type, data, digest);
  bool ok = EVP_DigestVerify(ctx.get(), bytes(signature), signature.size(), bytes(input),
                             input.size()) == 1;
  if (!ok) ERR_clear_error();
  return ok;
}

}  // namespace tern::dkim
