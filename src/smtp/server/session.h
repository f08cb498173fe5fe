#pragma once
// The SMTP server session, RFC 5321 (with PIPELINING, SIZE, 8BITMIME,
// SMTPUTF8, CHUNKING/BINARYMIME, ENHANCEDSTATUSCODES, DSN, STARTTLS and
// AUTH): a pure state machine. Bytes go in through receive(), replies come
// out of take_output(). It never touches sockets, files or clocks: what it
// needs from the world it asks its SessionHost (check → policy → apply), and
// what takes time (the TLS handshake, checking a password, making a message
// durable) it asks of its driver, which resumes it with the outcome.
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "proto/command.h"
#include "proto/data_reader.h"
#include "proto/envelope.h"
#include "proto/header_fixer.h"
#include "proto/sasl.h"

namespace tern::smtp::server {

struct SessionLimits {
  std::uint64_t max_message_size = 26214400;
  std::size_t max_recipients = 100;
  std::size_t max_command_line_length = 512;  // RFC 5321 4.5.3.1.4, incl. CRLF
  std::size_t max_line_length = 1000;         // RFC 5321 4.5.3.1.6, incl. CRLF
  std::size_t max_errors = 20;
  std::size_t max_received_headers = 100;
  // RCPTs past max_recipients get 452 4.5.3 and do not count as errors up
  // to this many per transaction: a client with more recipients sends the
  // rest in another transaction (RFC 5321 4.5.3.1.10; Postfix:
  // smtpd_recipient_overshoot_limit).
  std::size_t max_recipient_overshoot = 1000;
  // NOOP, RSET, VRFY and HELP are free up to this many per session (until a
  // message is accepted); each one more counts as an error (Postfix:
  // smtpd_junk_command_limit).
  std::size_t max_junk_commands = 100;
  // Failed AUTH commands before 421 4.7.0 and close.
  std::size_t max_auth_failures = 5;
};

// What the listener offers (config::ListenerRole and [tls], [auth]).
struct SessionOptions {
  bool starttls = false;       // a certificate is configured: STARTTLS (RFC 3207)
  bool auth_required = false;  // submission (RFC 6409 4.3): MAIL only after AUTH
  bool show_login = false;     // the Received header names the login
};

// The TLS session the driver established, for the Received header (RFC
// 3848) and the log.
struct TlsInfo {
  std::string version;  // "TLSv1.3"
  std::string cipher;   // "TLS_AES_256_GCM_SHA384"
  int bits = 0;
};

enum class AuthVerdict { kOk, kBadCredentials, kUnavailable };

// Where a policy decision is waited for.
enum class PolicyStage { kMail, kRcpt, kData };

// What the session asks of the world. The production host is the policy
// layer plus the spool; unit tests use a fake.
class SessionHost {
 public:
  virtual ~SessionHost() = default;
  // Policy: may this forward-path receive mail here? (550 5.1.1, 554 5.7.1
  // ...) `login` is the authenticated user, empty before AUTH.
  virtual Result<void> check_recipient(const proto::Path& recipient, std::string_view login) = 0;
  // Checks that take time (DNS for SPF and DKIM, a store asked whether a
  // user exists): after a stage's own checks passed, true when the host
  // decides it later. The session then waits (awaiting_policy()) until the
  // driver calls policy_decided() (DESIGN.md 5: check → policy → apply).
  // kMail: `path` is the reverse-path; kRcpt: the forward-path; kData: the
  // message is complete and not yet committed, `path` is the reverse-path.
  virtual bool defers(PolicyStage, const proto::Path&) { return false; }
  // Policy for an authenticated client: may `login` send as this
  // reverse-path? (553 5.7.1; Postfix: reject_sender_login_mismatch)
  virtual Result<void> check_sender(const proto::Path&, std::string_view) { return {}; }
  // ETRN (RFC 1985): start delivery of the queued mail for `domain` (and
  // its subdomains). Returns how many messages were waiting; an Error is
  // the reply (459 not allowed, 458 unable).
  virtual Result<std::size_t> etrn(std::string_view, bool) {
    return Error{458, "4.3.0", "Unable to queue messages", ""};
  }
  // Starts storing a message for `envelope`; returns its queue id.
  virtual Result<std::string> begin_message(const proto::Envelope& envelope) = 0;
  // Appends message content (already unstuffed, CRLF line ends).
  virtual Result<void> write_message(std::string_view content) = 0;
  // Drops the message begun last (rejected, reset or connection lost).
  virtual void discard_message() = 0;
  // Wall-clock time for the Received header.
  virtual std::time_t now() = 0;
};

class Session {
 public:
  Session(SessionHost& host, SessionLimits limits, std::string hostname, std::string session_id,
          std::string client_address, SessionOptions options = {});

  // The 220 greeting (RFC 5321 4.3.1), queued as output.
  void start();
  // A 421 instead of the greeting (too many connections); the session closes.
  void refuse(std::string_view enhanced, std::string_view text);
  // Feeds bytes from the client. Processes every complete command in order
  // (RFC 2920 pipelining) until the input runs out, the session closes, or a
  // message waits to be made durable (awaiting_commit()).
  void receive(std::string_view bytes);
  // The driver made the message durable (or failed to): replies 250 or 4xx,
  // then goes on with any pipelined input already received.
  void committed(const Result<void>& result);
  // STARTTLS was answered 220: the driver shakes hands, then calls
  // tls_established() (or closes the connection).
  bool wants_tls() const { return state_ == State::kStartingTls; }
  // TLS is up, after STARTTLS or (implicit TLS, RFC 8314) before start():
  // the session starts over (RFC 3207 4.2: a new EHLO is needed).
  void tls_established(TlsInfo info);
  // An AUTH exchange is complete: the driver checks take_credentials()
  // (off the network thread, it is slow on purpose) and calls
  // authenticated() with the verdict.
  bool awaiting_auth() const { return state_ == State::kAuthenticating; }
  proto::SaslCredentials take_credentials();
  void authenticated(AuthVerdict verdict);
  const std::string& login() const { return login_; }
  // A stage the host deferred (SessionHost::defers): the driver finds out
  // and calls policy_decided() with the verdict (go on, or the reply to
  // give: a MAIL or RCPT refused, a message rejected at end of data).
  // Pipelined commands after it wait, and are answered in order.
  bool awaiting_policy() const { return state_ == State::kAwaitingPolicy; }
  PolicyStage policy_stage() const { return pending_.stage; }
  const proto::Path& policy_path() const { return pending_.path; }
  void policy_decided(const Result<void>& verdict);
  // The HELO/EHLO argument, for the policy (SPF checks it, RFC 7208 2.3).
  const std::string& helo() const { return helo_; }
  // The envelope of the mail transaction in progress.
  const proto::Envelope& envelope() const { return envelope_; }
  std::size_t auth_failures() const { return auth_failures_; }
  // Timeouts, RFC 5321 4.5.3.2: 421 and close.
  void timed_out();
  // tern is stopping (RFC 5321 3.8): 421 4.3.2 and close; a message in
  // progress is dropped (it was never acknowledged).
  void shut_down();
  // The connection is gone: drop any message in progress, send nothing.
  void abort();

  std::string take_output() { return std::exchange(output_, {}); }
  bool has_output() const { return !output_.empty(); }
  bool awaiting_commit() const { return state_ == State::kCommitting; }
  bool closed() const { return state_ == State::kClosed; }
  // True while reading message content (the driver uses the data timeout).
  bool in_data() const { return state_ == State::kData || state_ == State::kBdat; }
  const std::string& queue_id() const { return queue_id_; }

 private:
  enum class State {
    kCommand, kData, kBdat, kAuthResponse,        // reading input
    kCommitting, kStartingTls, kAuthenticating, kAwaitingPolicy,  // waiting for the driver
    kClosed,
  };

  void process();
  bool reading_input() const;
  std::optional<std::string> take_line(std::size_t limit, bool& too_long);
  bool process_command_line();  // false: no complete line buffered
  bool process_auth_response();
  void dispatch(const proto::CommandLine& command);
  void on_ehlo(const proto::CommandLine& command, bool extended);
  void on_mail(const proto::CommandLine& command);
  void on_rcpt(const proto::CommandLine& command);
  void on_data(const proto::CommandLine& command);
  void on_bdat(const proto::CommandLine& command);
  void on_rset();
  void on_junk(const proto::CommandLine& command);
  void on_etrn(const proto::CommandLine& command);
  void on_starttls(const proto::CommandLine& command);
  void on_auth(const proto::CommandLine& command);
  void auth_step(proto::SaslServer::Status status);
  void auth_failed(int code, std::string_view enhanced, std::string_view text);
  std::vector<std::string> ehlo_keywords() const;
  std::string protocol_name() const;
  std::string received_comments() const;
  bool is_duplicate(const proto::Mailbox& mailbox);
  void add_recipient(const proto::Path& path, proto::RcptParameters params);
  void begin_transaction(const proto::Path& path, proto::MailParameters params);
  void await_policy(PolicyStage stage, const proto::Path& path);
  void process_data();
  void process_bdat();
  void bdat_chunk_done();
  bool begin_message();
  void write_content(std::string_view content);
  void finish_message();
  std::string received_header() const;
  void reset_transaction();

  // A 4xx/5xx reply counts toward max_errors unless `counts` is false.
  void reply(int code, std::string_view enhanced, std::string_view text, bool counts = true);
  void reply_error(const Error& error);
  void count_error();
  void close_with_421(std::string_view enhanced, std::string_view text);
  void log_command(std::string_view verb, int code) const;

  SessionHost& host_;
  SessionLimits limits_;
  SessionOptions options_;
  std::string hostname_;
  std::string session_id_;
  std::string client_address_;

  State state_ = State::kCommand;
  std::string input_;   // received, not yet processed
  std::string output_;  // replies not yet sent
  bool discarding_long_line_ = false;
  // Errors and junk commands count until a message is accepted: a client
  // that gets its mail through is not the one the limits are for.
  std::size_t errors_ = 0;
  std::size_t junk_commands_ = 0;
  std::string last_verb_;  // for the log line of replies that end a message

  // The HELO/EHLO state, RFC 5321 4.1.4.
  std::string helo_;
  bool extended_ = false;

  // TLS (RFC 3207) and AUTH (RFC 4954).
  std::optional<TlsInfo> tls_;
  std::unique_ptr<proto::SaslServer> sasl_;  // the exchange in progress
  std::string login_;                          // after 235
  std::size_t auth_failures_ = 0;

  // The mail transaction in progress.
  bool in_transaction_ = false;
  proto::Envelope envelope_;
  std::set<std::string> recipient_keys_;  // to accept a repeated RCPT once
  struct Pending {
    PolicyStage stage = PolicyStage::kMail;
    proto::Path path;
    proto::MailParameters mail;
    proto::RcptParameters rcpt;
  } pending_;                              // the stage the driver is deciding
  std::size_t recipient_overshoot_ = 0;   // RCPTs refused as too many
  std::string queue_id_;
  bool message_open_ = false;
  std::uint64_t message_size_ = 0;
  std::unique_ptr<proto::DataReader> data_reader_;
  proto::ReceivedCounter received_counter_;
  std::optional<proto::HeaderFixer> header_fixer_;  // authenticated submission only
  std::string content_buffer_;
  std::uint64_t bdat_remaining_ = 0;
  bool bdat_last_ = false;
  bool bdat_seen_ = false;
  std::optional<Error> message_error_;  // the reply owed after the data ends
  std::optional<Error> bdat_reject_;    // the reply owed after a BDAT chunk out of sequence
};

}  // namespace tern::smtp::server
