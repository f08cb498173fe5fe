#pragma once
// Session ticket keys (RFC 5077, RFC 8446 4.6.1) that rotate: a ticket is
// sealed with the current key and opened with the current or the previous
// one, and a key lives two rotation periods at most. OpenSSL's own keys
// would live as long as the process, so that whoever reads them later could
// open every TLS 1.2 session resumed with a recorded ticket. Shared by the
// SSL_CTXs that reloads replace, so tickets survive a certificate renewal.
// Used on the network thread only.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

using SSL_CTX = struct ssl_ctx_st;

namespace tern::net {

class TicketKeys {
 public:
  struct Key {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aes{};
    std::array<unsigned char, 32> hmac{};
    std::chrono::steady_clock::time_point born;
  };
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  explicit TicketKeys(std::chrono::seconds rotation = std::chrono::hours(12), Clock clock = {});
  ~TicketKeys();

  // The key new tickets are sealed with (a fresh one once the current is a
  // rotation period old).
  const Key& current();
  // The key a ticket names: the current one, or the previous one (then the
  // client gets a new ticket). nullopt: unknown or expired.
  struct Found {
    const Key* key;
    bool renew;
  };
  std::optional<Found> find(const unsigned char* name);

  // Makes `ctx` seal and open its tickets with these keys.
  void install(SSL_CTX* ctx);

 private:
  std::chrono::steady_clock::time_point now() const;
  void fill(Key& key) const;

  std::chrono::seconds rotation_;
  Clock clock_;
  Key current_;
  std::optional<Key> previous_;
};

}  // namespace tern::net
