#pragma once
// The server side of TLS: one SSL_CTX, built from [tls] certificate and key,
// shared by every connection (DESIGN.md: an idle TLS connection stays
// small). A reload builds a new one; connections that began on the old one
// keep it (each SSL holds a reference) until they end.
#include <memory>
#include <string>

#include "base/result.h"
#include "config/config.h"
#include "net/ticket_keys.h"

using SSL_CTX = struct ssl_ctx_st;

namespace tern::net {

class TlsContext {
 public:
  // Loads and checks the certificate (with its chain) and the key. Errors
  // name the config key: "'tls.key': /etc/tern/key.pem does not match
  // 'tls.certificate'". Tickets are sealed with `ticket_keys` (shared by
  // the contexts of successive reloads, so that clients resume across a
  // renewal); without them, OpenSSL's own keys (check-config).
  static Result<std::shared_ptr<TlsContext>> load(const config::Tls& tls,
                                                  std::shared_ptr<TicketKeys> ticket_keys = nullptr);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* native() const { return ctx_; }
  // For the log: the certificate's subject and expiry.
  const std::string& subject() const { return subject_; }
  const std::string& not_after() const { return not_after_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}

  SSL_CTX* ctx_;
  std::shared_ptr<TicketKeys> ticket_keys_;  // the SSL_CTX points at them
  std::string subject_;
  std::string not_after_;
};

}  // namespace tern::net
