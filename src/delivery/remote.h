#pragma once
// Remote delivery over SMTP: one message to the recipients of one domain,
// through a smarthost or the domain's MX hosts (RFC 5321 5.1), driving a pure
// smtp::client::Session over an Asio socket.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "dns/resolver.h"
#include "proto/envelope.h"
#include "smtp/client/session.h"

namespace tern::delivery {

struct RemoteConfig {
  std::string helo_name;                   // our host name
  std::uint16_t port = 25;                 // [outbound] port
  std::string smarthost;                   // "host:port" or empty: MX routing
  // RFC 5321 4.5.3.2: initial 220 5 min, MAIL/RCPT 5 min, DATA 2 min, data
  // block 3 min, end of data 10 min. Connecting gets its own limit.
  std::chrono::seconds connect_timeout{30};
  std::chrono::seconds command_timeout{300};
  std::chrono::seconds data_start_timeout{120};
  std::chrono::seconds data_block_timeout{180};
  std::chrono::seconds end_of_data_timeout{600};
};

// The message as the remote delivery sees it: envelope fields and where its
// content is (the queue file, from `offset`).
struct RemoteMessage {
  smtp::client::Message message;  // reverse-path, recipients (of one domain), size, body...
  int fd = -1;
  std::uint64_t offset = 0;
};

struct RemoteOutcome {
  std::vector<smtp::client::RecipientResult> results;  // one per recipient, in order
  std::string remote_mta;    // the host that gave the results, for DSNs: "mx.example" or "[192.0.2.1]"
  std::string connected_to;  // "host[address]", for the log
};

class RemoteDelivery {
 public:
  // How far a conversation got: content octets sent, and whether it stopped
  // for the TLS handshake (RFC 3207), after which it goes on over TLS.
  struct Progress {
    std::uint64_t sent = 0;
    bool start_tls = false;
  };

  RemoteDelivery(boost::asio::any_io_executor executor, dns::Resolver& resolver, RemoteConfig config);

  boost::asio::awaitable<RemoteOutcome> deliver(RemoteMessage message, std::string domain);

 private:
  struct Target {
    std::string host;
    std::uint16_t port;
  };
  boost::asio::awaitable<Result<std::vector<Target>>> targets(const std::string& domain);
  boost::asio::awaitable<bool> try_host(const Target& target, const RemoteMessage& message,
                                        RemoteOutcome& outcome);
  boost::asio::awaitable<void> continue_over_tls(boost::asio::ip::tcp::socket& socket,
                                                 smtp::client::Session& session, const RemoteMessage& message,
                                                 const Target& target, Progress& progress);

  boost::asio::any_io_executor executor_;
  dns::Resolver& resolver_;
  RemoteConfig config_;
  std::mt19937 random_;
  boost::asio::ssl::context tls_context_;
  std::set<std::string> tls_failed_;  // hosts whose TLS handshake failed: plaintext next time
};

}  // namespace tern::delivery
