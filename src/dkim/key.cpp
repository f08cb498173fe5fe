#include "dkim/key.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "base/base64.h"
#include "dkim/der.h"
#include "dkim/signature.h"
#include "dkim/tags.h"

namespace tern::dkim {
namespace {

bool list_has(std::string_view list, std::string_view item) {
  for (auto each : split_colon_list(list)) {
    if (each == item) return true;
  }
  return false;
}

struct BnDeleter {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct ParamBldDeleter {
  void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); }
};
struct ParamDeleter {
  void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
};
struct PKeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};

BIGNUM* to_bn(std::string_view bytes) {
  return BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()),
                   nullptr);
}

// The key from its modulus and exponent (see der.h for why not d2i_PUBKEY).
PKeyPtr decode_rsa(const std::string& der) {
  auto numbers = parse_rsa_public_key(der);
  if (!numbers) return nullptr;
  std::unique_ptr<BIGNUM, BnDeleter> n(to_bn(numbers->modulus)), e(to_bn(numbers->exponent));
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldDeleter> build(OSSL_PARAM_BLD_new());
  if (!n || !e || !build || !OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) ||
      !OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, e.get())) {
    return nullptr;
  }
  std::unique_ptr<OSSL_PARAM, ParamDeleter> params(OSSL_PARAM_BLD_to_param(build.get()));
  std::unique_ptr<EVP_PKEY_CTX, PKeyCtxDeleter> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  return PKeyPtr(key);
}

PKeyPtr decode_ed25519(const std::string& raw) {
  if (raw.size() != 32) return nullptr;  // RFC 8463 4: the bare public key
  auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  return PKeyPtr(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, p, raw.size()));
}

Result<void> decode_key(std::string_view p, KeyRecord& record) {
  auto der = base64_decode(remove_whitespace(p));
  if (!der) return perm_error("key p= is not base64");
  record.key = record.type == KeyType::kRsa ? decode_rsa(*der) : decode_ed25519(*der);
  ERR_clear_error();  // failed attempts leave errors queued on this thread
  if (!record.key) return perm_error("key p= does not decode");
  if (record.type == KeyType::kRsa && EVP_PKEY_get_bits(record.key.get()) < kMinRsaBits) {
    return perm_error("RSA key under 1024 bits (RFC 8301 3.2)");
  }
  return {};
}

}  // namespace

Result<KeyRecord> parse_key_record(std::string_view text) {
  auto tags = parse_tag_list(text);
  if (!tags) return perm_error("key record is not a tag list");
  KeyRecord record;
  // 3.6.1 v=: if present it is first and "DKIM1"; other records are discarded.
  if (auto v = find_tag(*tags, "v"); v && (*v != "DKIM1" || tags->front().name != "v")) {
    return perm_error("key record v= is not DKIM1");
  }
  if (auto k = find_tag(*tags, "k")) {
    if (*k == "rsa") record.type = KeyType::kRsa;
    else if (*k == "ed25519") record.type = KeyType::kEd25519;
    else return perm_error("unknown key type k=" + std::string(*k));
  }
  if (auto h = find_tag(*tags, "h")) record.allows_sha256 = list_has(*h, "sha256");
  if (auto s = find_tag(*tags, "s")) record.for_email = list_has(*s, "*") || list_has(*s, "email");
  if (auto t = find_tag(*tags, "t")) {
    record.testing = list_has(*t, "y");
    record.strict = list_has(*t, "s");
  }
  auto p = find_tag(*tags, "p");
  if (!p) return perm_error("key record has no p=");
  if (remove_whitespace(*p).empty()) {
    record.revoked = true;
    return record;
  }
  auto decoded = decode_key(*p, record);
  if (!decoded) return decoded.error();
  return record;
}

}  // namespace tern::dkim
