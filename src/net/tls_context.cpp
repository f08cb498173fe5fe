#include "net/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>

namespace tern::net {
namespace {

// TLS 1.2 ciphers with forward secrecy and AEAD only, the server's order
// first (Mozilla's "intermediate" list). TLS 1.3 suites are OpenSSL's.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr unsigned char kSessionIdContext[] = "tern";

std::string openssl_error() {
  auto code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

Error config_error(std::string message) { return Error{0, "", std::move(message), ""}; }

// Reads a PEM file the way check-config reports it: missing or unreadable
// (with the system's reason), or not PEM of the expected kind.
Result<void> check_readable(const std::string& key, const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "r");
  if (!file) return config_error(fmt::format("'{}': cannot read {}: {}", key, path, std::strerror(errno)));
  std::fclose(file);
  return {};
}

std::string time_text(const ASN1_TIME* time) {
  BIO* bio = BIO_new(BIO_s_mem());
  ASN1_TIME_print(bio, time);
  char* data = nullptr;
  auto size = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return text;
}

std::string subject_text(X509* certificate) {
  char text[512] = {};
  X509_NAME_oneline(X509_get_subject_name(certificate), text, sizeof text - 1);
  return text;
}

EVP_PKEY* read_private_key(const std::string& path) {
  BIO* bio = BIO_new_file(path.c_str(), "r");
  if (!bio) return nullptr;
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return key;
}

void configure(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(ctx, kTls12Ciphers);
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // An idle connection holds no read or write buffer (about 34 KB less);
  // writes go out in pieces from the connection's own string.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Resumption: session tickets (stateless; TLS 1.2 and 1.3) and the
  // server's session cache for TLS 1.2 clients without tickets.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof kSessionIdContext - 1);
  SSL_CTX_set_num_tickets(ctx, 1);
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::load(const config::Tls& tls, std::shared_ptr<TicketKeys> ticket_keys) {
  if (auto r = check_readable("tls.certificate", tls.certificate); !r) return r.error();
  if (auto r = check_readable("tls.key", tls.key); !r) return r.error();
  ERR_clear_error();
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (!raw) return config_error("TLS: " + openssl_error());
  std::shared_ptr<TlsContext> context(new TlsContext(raw));
  configure(raw);
  if (SSL_CTX_use_certificate_chain_file(raw, tls.certificate.c_str()) != 1) {
    return config_error(fmt::format("'tls.certificate': {} is not a PEM certificate ({})", tls.certificate,
                                    openssl_error()));
  }
  EVP_PKEY* key = read_private_key(tls.key);
  if (!key) {
    return config_error(fmt::format("'tls.key': {} is not a PEM private key ({})", tls.key, openssl_error()));
  }
  bool paired = SSL_CTX_use_PrivateKey(raw, key) == 1 && SSL_CTX_check_private_key(raw) == 1;
  EVP_PKEY_free(key);
  if (!paired) {
    ERR_clear_error();
    return config_error(fmt::format("'tls.key': {} does not match 'tls.certificate' {}", tls.key, tls.certificate));
  }
  if (ticket_keys) {
    ticket_keys->install(raw);
    context->ticket_keys_ = std::move(ticket_keys);
  }
  if (X509* certificate = SSL_CTX_get0_certificate(raw)) {
    context->subject_ = subject_text(certificate);
    context->not_after_ = time_text(X509_get0_notAfter(certificate));
  }
  return context;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

}  // namespace tern::net
