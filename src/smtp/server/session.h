#pragma once
// The SMTP server session, RFC 5321 (with PIPELINING, SIZE, 8BITMIME,
// SMTPUTF8, CHUNKING/BINARYMIME, ENHANCEDSTATUSCODES and DSN): a pure state
// machine. Bytes go in through receive(), replies come out of take_output().
// It never touches sockets, files or clocks: what it needs from the world it
// asks its SessionHost (check → policy → apply).
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "base/result.h"
#include "proto/command.h"
#include "proto/data_reader.h"
#include "proto/envelope.h"

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
};

// What the session asks of the world. The production host is the policy
// layer plus the spool; unit tests use a fake.
class SessionHost {
 public:
  virtual ~SessionHost() = default;
  // Policy: may this forward-path receive mail here? (550 5.1.1, 554 5.7.1 ...)
  virtual Result<void> check_recipient(const proto::Path& recipient) = 0;
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
          std::string client_address);

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
  enum class State { kCommand, kData, kBdat, kCommitting, kClosed };

  void process();
  bool process_command_line();  // false: no complete line buffered
  void dispatch(const proto::CommandLine& command);
  void on_ehlo(const proto::CommandLine& command, bool extended);
  void on_mail(const proto::CommandLine& command);
  void on_rcpt(const proto::CommandLine& command);
  void on_data(const proto::CommandLine& command);
  void on_bdat(const proto::CommandLine& command);
  void on_rset();
  void on_junk(const proto::CommandLine& command);
  bool is_duplicate(const proto::Mailbox& mailbox);
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

  // The mail transaction in progress.
  bool in_transaction_ = false;
  proto::Envelope envelope_;
  std::set<std::string> recipient_keys_;  // to accept a repeated RCPT once
  std::size_t recipient_overshoot_ = 0;   // RCPTs refused as too many
  std::string queue_id_;
  bool message_open_ = false;
  std::uint64_t message_size_ = 0;
  std::unique_ptr<proto::DataReader> data_reader_;
  proto::ReceivedCounter received_counter_;
  std::string content_buffer_;
  std::uint64_t bdat_remaining_ = 0;
  bool bdat_last_ = false;
  bool bdat_seen_ = false;
  std::optional<Error> message_error_;  // the reply owed after the data ends
  std::optional<Error> bdat_reject_;    // the reply owed after a BDAT chunk out of sequence
};

}  // namespace tern::smtp::server
