#include "net/ticket_keys.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <cstring>
#include <stdexcept>

namespace tern::net {
namespace {

void random_bytes(unsigned char* out, std::size_t size) {
  if (RAND_bytes(out, static_cast<int>(size)) != 1) throw std::runtime_error("RAND_bytes failed");
}

void wipe(TicketKeys::Key& key) { OPENSSL_cleanse(&key, sizeof key); }

bool set_hmac_key(EVP_MAC_CTX* hmac, TicketKeys::Key& key) {
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac.data(), key.hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  return EVP_MAC_CTX_set_params(hmac, params) == 1;
}

// OpenSSL's ticket key callback (SSL_CTX_set_tlsext_ticket_key_evp_cb):
// 1 = sealed/opened, 2 = opened with an old key (issue a new ticket),
// 0 = unknown key (full handshake), -1 = error.
int ticket_callback(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* hmac,
                    int seal) {
  auto* keys = static_cast<TicketKeys*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (!keys) return -1;
  if (seal) {
    auto& key = const_cast<TicketKeys::Key&>(keys->current());
    std::memcpy(name, key.name.data(), key.name.size());
    if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) return -1;
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) != 1) return -1;
    return set_hmac_key(hmac, key) ? 1 : -1;
  }
  auto found = keys->find(name);
  if (!found) return 0;
  auto& key = const_cast<TicketKeys::Key&>(*found->key);
  if (!set_hmac_key(hmac, key)) return -1;
  if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) != 1) return -1;
  return found->renew ? 2 : 1;
}

}  // namespace

TicketKeys::TicketKeys(std::chrono::seconds rotation, Clock clock) : rotation_(rotation), clock_(std::move(clock)) {
  fill(current_);
}

TicketKeys::~TicketKeys() {
  wipe(current_);
  if (previous_) wipe(*previous_);
}

std::chrono::steady_clock::time_point TicketKeys::now() const {
  return clock_ ? clock_() : std::chrono::steady_clock::now();
}

void TicketKeys::fill(Key& key) const {
  random_bytes(key.name.data(), key.name.size());
  random_bytes(key.aes.data(), key.aes.size());
  random_bytes(key.hmac.data(), key.hmac.size());
  key.born = now();
}

const TicketKeys::Key& TicketKeys::current() {
  auto age = now() - current_.born;
  if (age < rotation_) return current_;
  if (previous_) wipe(*previous_);
  previous_.reset();
  // A current key past two periods is not kept as the previous one: no key
  // opens tickets for longer than two rotation periods.
  if (age < 2 * rotation_) previous_ = current_;
  fill(current_);
  return current_;
}

std::optional<TicketKeys::Found> TicketKeys::find(const unsigned char* name) {
  const auto& key = current();  // rotates first: an old previous key is gone
  if (std::memcmp(name, key.name.data(), key.name.size()) == 0) return Found{&key, false};
  if (previous_ && std::memcmp(name, previous_->name.data(), previous_->name.size()) == 0) {
    return Found{&*previous_, true};
  }
  return std::nullopt;
}

void TicketKeys::install(SSL_CTX* ctx) {
  SSL_CTX_set_app_data(ctx, this);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_callback);
}

}  // namespace tern::net
