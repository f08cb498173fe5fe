#pragma once
// One outbound SMTP connection to one host, carrying one message after
// another (RFC 5321 3.3: several transactions per session). It drives a pure
// smtp::client::Session over an Asio socket, with opportunistic STARTTLS
// (RFC 3207) and the RFC 5321 4.5.3.2 timeouts.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "smtp/client/session.h"

namespace tern::delivery {

// A host to connect to: a name (resolved to A/AAAA) or an IP address.
struct Target {
  std::string host;
  std::uint16_t port;
};

struct RemoteConfig {
  std::string helo_name;                   // our host name
  std::uint16_t port = 25;                 // [outbound] port
  std::string smarthost;                   // "host:port" or empty: MX routing
  // [relay] smarthost_tls and AUTH; they apply to every connection, as a
  // smarthost takes all outbound mail.
  enum class Tls { kMay, kRequired, kImplicit };
  Tls tls = Tls::kMay;
  std::string auth_username;
  std::string auth_password;
  // tern's own [[listener]] addresses: connecting to one is a mail loop.
  std::vector<boost::asio::ip::tcp::endpoint> own_listeners;
  std::size_t max_connections = 100;       // [outbound] max_connections
  std::size_t max_connections_per_destination = 20;
  // Messages waiting for a connection to one destination. Each holds a place
  // among the messages being delivered (and its queue file open): one slow
  // destination must not take them all. Past this, a message waits in the
  // queue instead and is tried again shortly (RemoteOutcome::not_attempted).
  std::size_t max_waiting_per_destination = 200;
  // An open connection with nothing to send waits this long for another
  // job of its destination before QUIT (Postfix: smtp_connection_cache_time_limit).
  std::chrono::milliseconds idle_time{2000};
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
  smtp::client::Message message;  // reverse-path, recipients (of one domain), size (with the prefix), body...
  int fd = -1;
  std::uint64_t offset = 0;
  std::string prefix = {};  // header fields sent before the file's content (CRLF line ends)
};

// What the connections share: the TLS client context, and the hosts whose
// handshake failed, which get plaintext on the next attempt.
struct TlsClient {
  TlsClient();
  boost::asio::ssl::context context;
  std::set<std::string> failed_hosts;
};

class RemoteConnection {
 public:
  // The results of one transaction, one per recipient in order.
  struct Transaction {
    std::vector<smtp::client::RecipientResult> results;
    bool content_sent = false;  // some of the message went out: it may have arrived
  };

  RemoteConnection(boost::asio::any_io_executor executor, const RemoteConfig& config, TlsClient& tls);
  ~RemoteConnection();

  // Connects to the first of `addresses` that answers (closing any earlier
  // connection); false when none did.
  boost::asio::awaitable<bool> connect(const Target& target, const std::vector<boost::asio::ip::address>& addresses);
  // One mail transaction; on a new connection the greeting and EHLO (and
  // STARTTLS) come first.
  boost::asio::awaitable<Transaction> send(const RemoteMessage& message);
  // True while another message may be sent.
  bool ready() const;
  // QUIT, when the session is still open.
  boost::asio::awaitable<void> quit();

  // RFC 3464 2.3.5 Remote-MTA: the host's name, or the address in brackets
  // when there is no name (a smarthost given as an IP address).
  const std::string& remote_mta() const { return remote_mta_; }
  const std::string& connected_to() const { return connected_to_; }  // "host[address]", for the log
  std::size_t messages() const { return messages_; }  // transactions on this connection
  // connect() skipped an address that is one of tern's own listeners.
  bool looped_back() const { return looped_back_; }
  // The server's EHLO keywords (none before EHLO, or after HELO).
  smtp::client::Capabilities capabilities() const { return session_ ? session_->capabilities() : smtp::client::Capabilities{}; }

 private:
  boost::asio::awaitable<void> converse(const RemoteMessage* message, std::uint64_t& sent);
  boost::asio::awaitable<void> start_tls();
  boost::asio::awaitable<bool> handshake();

  boost::asio::any_io_executor executor_;
  const RemoteConfig& config_;
  TlsClient& tls_client_;
  Target target_;
  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
  std::optional<smtp::client::Session> session_;
  std::string remote_mta_;
  std::string connected_to_;
  std::size_t messages_ = 0;
  bool looped_back_ = false;
};

}  // namespace tern::delivery
