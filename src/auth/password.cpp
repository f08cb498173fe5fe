#include "auth/password.h"

#include <crypt.h>
#include <openssl/crypto.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>

namespace tern::auth {
namespace {

static_assert(kMaxPasswordLength + 1 == CRYPT_MAX_PASSPHRASE_SIZE);

// Prefixes of the schemes accepted. libxcrypt's crypt_checksalt() calls
// "$5$" legacy, but SHA-256-crypt with its 5000 rounds is what some
// Dovecot installations hold; DES and MD5-crypt are the weak ones left out.
constexpr std::array<std::string_view, 8> kSchemes{"$y$", "$gy$", "$7$", "$2b$", "$2y$", "$2a$", "$6$", "$5$"};

Error failure(std::string detail) { return Error{451, "4.3.0", "password hashing failed", std::move(detail)}; }

// struct crypt_data is 32 KB: on the heap, never on a (coroutine) stack
// frame. Zeroed before use (crypt_rn requires it) and after (it held the
// password).
struct CryptData {
  CryptData() : data(std::make_unique<crypt_data>()) {}
  ~CryptData() { OPENSSL_cleanse(data.get(), sizeof(crypt_data)); }
  CryptData(const CryptData&) = delete;
  CryptData& operator=(const CryptData&) = delete;
  std::unique_ptr<crypt_data> data;
};

bool acceptable_password(std::string_view password) {
  return !password.empty() && password.size() <= kMaxPasswordLength &&
         password.find('\0') == std::string_view::npos;
}

}  // namespace

bool is_supported_hash(std::string_view hash) {
  bool scheme = false;
  for (auto prefix : kSchemes) {
    if (hash.starts_with(prefix) && hash.size() > prefix.size()) scheme = true;
  }
  if (!scheme || hash.size() >= CRYPT_OUTPUT_SIZE) return false;
  for (unsigned char c : hash) {
    if (c <= ' ' || c >= 0x7f || c == ':') return false;
  }
  return true;
}

Result<std::string> hash_password(std::string_view password) {
  if (password.empty()) return failure("empty password");
  if (!acceptable_password(password)) return failure("password holds NUL or is too long");
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> setting{};
  // count 0: libxcrypt's default cost; rbytes null: the salt comes from the
  // kernel's random source.
  if (!crypt_gensalt_rn("$y$", 0, nullptr, 0, setting.data(), static_cast<int>(setting.size()))) {
    return failure(std::string("crypt_gensalt_rn: ") + std::strerror(errno));
  }
  std::string phrase(password);
  CryptData data;
  const char* hash = crypt_rn(phrase.c_str(), setting.data(), data.data.get(), sizeof(crypt_data));
  OPENSSL_cleanse(phrase.data(), phrase.size());
  if (!hash) return failure(std::string("crypt_rn: ") + std::strerror(errno));
  return std::string(hash);
}

bool verify_password(std::string_view password, std::string_view hash) {
  if (!is_supported_hash(hash)) return false;
  bool usable = acceptable_password(password);
  // An unusable password is still hashed (as an empty one): the reply takes
  // as long as for any other wrong password.
  std::string phrase(usable ? password : std::string_view{});
  std::string setting(hash);
  CryptData data;
  const char* computed = crypt_rn(phrase.c_str(), setting.c_str(), data.data.get(), sizeof(crypt_data));
  OPENSSL_cleanse(phrase.data(), phrase.size());
  if (!computed) return false;
  std::size_t length = std::strlen(computed);
  // The lengths are public (the hash's own format fixes them); only the
  // octets are compared in constant time.
  if (length != hash.size()) return false;
  return CRYPTO_memcmp(computed, hash.data(), length) == 0 && usable;
}

}  // namespace tern::auth
