#pragma once
// tern's configuration: a struct with defaults in code; the TOML file only
// overrides. Keys and meanings are documented in docs/configuration.md.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace tern::config {

// What a listening port is for. "mx": mail from other servers (port 25),
// STARTTLS offered, AUTH over TLS. "submission": mail clients (port 587,
// RFC 6409): STARTTLS, and MAIL only after AUTH. "submissions": the same
// with TLS from the first byte (port 465, RFC 8314 3.3).
enum class ListenerRole { kMx, kSubmission, kSubmissions };

struct Listener {
  std::string address = "127.0.0.1:2525";  // host:port, [v6]:port
  std::string host;                        // parsed from address
  std::uint16_t port = 0;
  ListenerRole role = ListenerRole::kMx;
};

std::string_view role_name(ListenerRole role);

// The server's certificate (PEM; the file may hold the chain after it) and
// its private key (PEM). Both or neither: without them no listener offers
// TLS and a "submissions" listener is a configuration error.
struct Tls {
  std::string certificate;
  std::string key;
  bool enabled() const { return !certificate.empty(); }
};

// SMTP AUTH (RFC 4954) and the user database.
struct Auth {
  std::string users_file;  // default: data_dir + "/users"
  // Failed AUTH attempts in one session before 421 4.7.0 and close.
  std::size_t max_failures = 5;
  // The delay before the reply to a failed AUTH: this, doubled for each
  // earlier recent failure from the same client address (capped at 32x).
  std::chrono::seconds failure_delay{1};
  // Whether the Received header names the login (Postfix:
  // smtpd_sasl_authenticated_header).
  bool show_login = false;
  // Envelope senders a login may use besides its own address: login ->
  // addresses, or "@domain" for every address of a domain.
  std::map<std::string, std::vector<std::string>> senders;
};

// Where the mail of a local domain is stored: "maildir" (data_dir/mail),
// or a mail store over LMTP (RFC 2033): "lmtp:unix:/run/dovecot/lmtp",
// "lmtp:127.0.0.1:24", "lmtp:[::1]:24".
struct MailStore {
  enum class Kind { kMaildir, kLmtpUnix, kLmtpTcp };
  Kind kind = Kind::kMaildir;
  std::string path;  // kLmtpUnix: the socket
  std::string host;  // kLmtpTcp: an IP address or host name
  std::uint16_t port = 0;
  std::string text = "maildir";  // as configured: names the store in logs and queues
  bool lmtp() const { return kind != Kind::kMaildir; }
};

// Parses a `delivery` value; none when malformed.
std::optional<MailStore> parse_mail_store(std::string_view text);

// [domain."example.org"]: a local domain whose settings override [local].
struct Domain {
  std::optional<std::vector<std::string>> users;  // lower-cased local parts
  std::optional<bool> accept_any_user;
  std::optional<MailStore> delivery;
  // Ask the LMTP store at RCPT time whether a recipient exists
  // (verify_recipients = "lmtp").
  bool verify_recipients = false;
};

struct Local {
  std::vector<std::string> domains{"localhost"};  // lower-cased; includes every [domain."x"]
  std::vector<std::string> users;                 // lower-cased local parts
  bool accept_any_user = false;
  std::string aliases;                   // the aliases file; empty: none
  std::string recipient_delimiter = "+";  // subaddressing (RFC 5233); empty: off
  MailStore delivery;
  // Where postmaster@ and abuse@ of every local domain go (RFC 5321 4.5.1,
  // RFC 2142) unless the aliases file says otherwise. Default:
  // postmaster@<the first local domain>.
  std::string postmaster;
  std::map<std::string, Domain> domain;  // by lower-cased name
};

struct Limits {
  std::uint64_t max_message_size = 26214400;
  std::size_t max_recipients = 100;
  std::size_t max_connections = 1000;
  std::size_t max_connections_per_ip = 50;
  std::size_t max_command_line_length = 512;
  std::size_t max_line_length = 1000;
  std::size_t max_errors = 20;
  std::size_t max_received_headers = 100;
  std::size_t max_recipient_overshoot = 1000;  // RCPTs past max_recipients that are no error
  std::size_t max_junk_commands = 100;         // NOOP/RSET/VRFY/HELP that are no error
  // How long one policy check may take (SPF, DKIM keys, DMARC: DNS); then
  // it is a temporary error (spf.action_temperror...).
  std::chrono::seconds check_timeout{20};
  std::chrono::seconds command_timeout{300};  // also for every write to the client  // RFC 5321 4.5.3.2.7: at least 5 minutes
  std::chrono::seconds data_timeout{600};
};

struct Queue {
  // First retry after a temporary delivery failure (Postfix: minimal_backoff_time).
  std::chrono::seconds retry_interval{300};
  // The interval doubles per attempt up to this (maximal_backoff_time).
  std::chrono::seconds max_retry_interval{3600};
  // Then the recipient fails and a bounce is sent (maximal_queue_lifetime).
  std::chrono::seconds max_lifetime{5 * 86400};
  // One delay DSN after this; 0 = never (delay_warning_time).
  std::chrono::seconds delay_warning{4 * 3600};
};

struct Relay {
  // Clients that may send mail to other domains (Postfix: mynetworks,
  // whose default covers the local machine only).
  std::vector<std::string> networks{"127.0.0.0/8", "::1/128"};
  std::string smarthost;  // "host:port": all outbound mail goes there; empty: MX
  // TLS to the smarthost: "may" (STARTTLS when offered), "required" (no
  // mail without STARTTLS), "implicit" (TLS from the first byte, port 465,
  // RFC 8314). Postfix: smtp_tls_security_level, smtp_tls_wrappermode.
  std::string smarthost_tls = "may";
  // SMTP AUTH at the smarthost (RFC 4954), only ever over TLS. Postfix:
  // smtp_sasl_password_maps.
  std::string smarthost_username;
  std::string smarthost_password;
};

struct Outbound {
  std::uint16_t port = 25;  // the destination port (tests use a loopback port)
  // Connections open at once, in all and to one destination (a domain, or
  // the smarthost). Postfix: default_process_limit, and
  // default_destination_concurrency_limit.
  std::size_t max_connections = 100;
  std::size_t max_connections_per_destination = 20;
  // Messages waiting for a connection to one destination; more wait in the
  // queue and are tried again shortly, so that one slow destination cannot
  // take every place among the messages being delivered.
  std::size_t max_waiting_per_destination = 200;
  // How long the remote server may take (RFC 5321 4.5.3.2): to accept the
  // connection (Postfix: smtp_connect_timeout); to reply to the greeting and
  // each command (at least 5 minutes, 4.5.3.2.1-4, 4.5.3.2.7); to reply
  // after the end of the data (at least 10 minutes, 4.5.3.2.6).
  std::chrono::seconds connect_timeout{30};
  std::chrono::seconds command_timeout{300};
  std::chrono::seconds data_timeout{600};
};

struct Dns {
  std::vector<std::string> servers;  // "ip:port"; empty: /etc/resolv.conf
};

// /metrics (Prometheus) and the dashboard. Off unless an address is given.
struct Http {
  std::string address;  // "ip:port"; empty: no HTTP server
  std::string host;
  std::uint16_t port = 0;
};

// Mail authentication (RFC 7208 SPF, RFC 6376 DKIM, RFC 7489 DMARC, RFC
// 8617 ARC, SRS). Checks run on mail arriving on "mx" listeners; their
// results go in Authentication-Results (RFC 8601). What a result does:
enum class Action {
  kAnnotate,  // deliver, with the result in Authentication-Results
  kReject,    // 550 at end of data (RFC 7372 codes)
  kDefer,     // 451 at end of data: the client tries again later
};
std::string_view action_name(Action action);

struct Spf {
  bool verify = true;
  Action action_fail = Action::kAnnotate;        // or kReject: 550 5.7.23
  Action action_temperror = Action::kAnnotate;   // or kDefer: 451 4.7.24
};

struct DkimKey {
  std::string domain;    // lower case: mail whose From: is at it is signed
  std::string selector;  // the key record is at <selector>._domainkey.<domain>
  std::string key;       // PEM private key file (RSA or Ed25519)
};

// [dkim] verify; [dkim."example.org"] (or [[dkim."example.org"]] for several
// selectors) the signing keys.
struct Dkim {
  bool verify = true;
  std::vector<DkimKey> keys;
};

struct Dmarc {
  bool verify = true;
  // What mail failing DMARC at a domain with p=reject gets (RFC 7489 6.6.3).
  Action action_reject = Action::kReject;  // or kAnnotate
  Action action_temperror = Action::kAnnotate;  // or kDefer
};

// The Sender Rewriting Scheme for mail forwarded to other domains: the
// reverse-path becomes SRS0=...@domain, so SPF passes at the next hop,
// and bounces to it are sent back to the original sender.
struct Srs {
  std::string secret;  // empty: no SRS
  std::string domain;  // the rewritten addresses' domain; default: the hostname
  std::chrono::seconds max_age{21 * 86400};  // older SRS addresses are refused
  bool enabled() const { return !secret.empty(); }
  // The secret is what keeps SRS addresses from being an open relay for
  // bounces: shorter than this it can be guessed (accepted, with a warning).
  static constexpr std::size_t kAdvisedSecretSize = 16;
  bool secret_short() const { return enabled() && secret.size() < kAdvisedSecretSize; }
};

// ARC (RFC 8617): verify arriving chains; seal forwarded mail.
struct Arc {
  bool verify = true;
  std::string domain;  // the sealing identity (d=); empty: no sealing
  std::string selector;
  std::string key;
  bool sealing() const { return !domain.empty(); }
};

struct Config {
  std::string hostname;  // default: the system's host name
  std::string data_dir = "var";
  std::string log_level = "info";
  std::string log_format = "text";  // or "json": one JSON object a line
  std::vector<Listener> listeners;
  Local local;
  Limits limits;
  Queue queue;
  Relay relay;
  Outbound outbound;
  Dns dns;
  Http http;
  Tls tls;
  Auth auth;
  Spf spf;
  Dkim dkim;
  Dmarc dmarc;
  Srs srs;
  Arc arc;
};

// The configuration used when no file is given: SMTP on 127.0.0.1:2525,
// data in ./var, local domain "localhost", every local part accepted.
extern const std::string_view kEmbeddedDefault;

// Parses TOML text. Errors name the file, line, column and key:
//   "tern.toml:12:1: unknown key 'limits.max_foo'".
Result<Config> parse(std::string_view text, std::string_view source_name);
Result<Config> load_file(const std::string& path);

// "30s", "5m", "4h", "5d" (and "0").
std::optional<std::chrono::seconds> parse_duration(std::string_view text);

// "host:port" or "[v6]:port" (listeners, smarthost, DNS servers).
bool parse_host_port(Listener& listener);

}  // namespace tern::config
