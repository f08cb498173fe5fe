#include "net/ticket_keys.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

namespace tern::net {
namespace {

using namespace std::chrono_literals;

struct FakeClock {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1000)};
  TicketKeys::Clock function() {
    return [this] { return now; };
  }
};

TEST(TicketKeys, RotateAndExpire) {
  FakeClock clock;
  TicketKeys keys(12h, clock.function());
  auto first = keys.current().name;
  EXPECT_EQ(keys.current().name, first);
  clock.now += 11h;
  ASSERT_TRUE(keys.find(first.data()));
  EXPECT_FALSE(keys.find(first.data())->renew);
  clock.now += 2h;  // 13 h: a new current key, the first one opens tickets still
  auto second = keys.current().name;
  EXPECT_NE(second, first);
  ASSERT_TRUE(keys.find(first.data()));
  EXPECT_TRUE(keys.find(first.data())->renew);
  clock.now += 12h;  // the first key is two periods old: gone
  EXPECT_FALSE(keys.find(first.data()));
  ASSERT_TRUE(keys.find(second.data()));
  clock.now += 48h;  // long idle: the old current key is not kept as previous either
  EXPECT_FALSE(keys.find(second.data()));
  unsigned char unknown[16] = {};
  EXPECT_FALSE(keys.find(unknown));
}

// A server SSL_CTX with a fresh self-signed P-256 certificate.
SSL_CTX* server_context() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("mx.example.test"), -1, -1, 0);
  X509_set_issuer_name(cert, X509_get_subject_name(cert));
  X509_sign(cert, key, EVP_sha256());
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(ctx, cert);
  SSL_CTX_use_PrivateKey(ctx, key);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);  // tickets only
  SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>("t"), 1);
  X509_free(cert);
  EVP_PKEY_free(key);
  return ctx;
}

// One handshake over a socketpair; returns the client's session (with its
// ticket) and whether it was resumed from `offer`.
struct Handshake {
  SSL_SESSION* session = nullptr;
  bool resumed = false;
};

Handshake handshake(SSL_CTX* server_ctx, SSL_CTX* client_ctx, SSL_SESSION* offer) {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  fcntl(fds[1], F_SETFL, O_NONBLOCK);
  SSL* server = SSL_new(server_ctx);
  SSL* client = SSL_new(client_ctx);
  SSL_set_fd(server, fds[0]);
  SSL_set_fd(client, fds[1]);
  SSL_set_accept_state(server);
  SSL_set_connect_state(client);
  if (offer) SSL_set_session(client, offer);
  for (int i = 0; i < 20; ++i) {
    SSL_do_handshake(client);
    SSL_do_handshake(server);
  }
  // TLS 1.3 tickets come after the handshake: let the client read them.
  char buffer[16];
  SSL_write(server, "x", 1);
  SSL_read(client, buffer, sizeof buffer);
  Handshake result{SSL_get1_session(client), SSL_session_reused(client) == 1};
  // A connection freed without a shutdown marks its session not resumable.
  SSL_set_shutdown(client, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_free(client);
  SSL_free(server);
  close(fds[0]);
  close(fds[1]);
  return result;
}

class TicketResumption : public ::testing::TestWithParam<int> {};

TEST_P(TicketResumption, TicketsOpenAcrossARotationAndNotAfterTwo) {
  FakeClock clock;
  auto keys = std::make_shared<TicketKeys>(12h, clock.function());
  SSL_CTX* server_ctx = server_context();
  keys->install(server_ctx);
  SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_max_proto_version(client_ctx, GetParam());

  auto first = handshake(server_ctx, client_ctx, nullptr);
  ASSERT_NE(first.session, nullptr);
  ASSERT_EQ(SSL_SESSION_has_ticket(first.session), 1);
  EXPECT_FALSE(first.resumed);
  auto again = handshake(server_ctx, client_ctx, first.session);
  EXPECT_TRUE(again.resumed);
  clock.now += 13h;  // rotated: the old key still opens the ticket
  auto after_rotation = handshake(server_ctx, client_ctx, first.session);
  EXPECT_TRUE(after_rotation.resumed);
  clock.now += 12h;  // two periods: the first ticket's key is gone
  auto expired = handshake(server_ctx, client_ctx, first.session);
  EXPECT_FALSE(expired.resumed);

  for (auto* s : {first.session, again.session, after_rotation.session, expired.session}) SSL_SESSION_free(s);
  SSL_CTX_free(client_ctx);
  SSL_CTX_free(server_ctx);
}

INSTANTIATE_TEST_SUITE_P(Versions, TicketResumption, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION));

}  // namespace
}  // namespace tern::net
