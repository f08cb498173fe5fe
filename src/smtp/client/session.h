#pragma once
// The SMTP client session for outbound delivery (and LMTP, RFC 2033, for
// delivery to a mail store), RFC 5321 with PIPELINING
// (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531),
// CHUNKING and BINARYMIME (RFC 3030), DSN (RFC 3461), STARTTLS (RFC 3207)
// and ENHANCEDSTATUSCODES (RFC 2034): a pure state machine. Server bytes go
// in through receive(), commands and message data come out of take_output(),
// and next() tells the driver what to do. It never touches sockets, files,
// clocks or TLS: the driver reads, writes, runs the handshake and the timers
// (RFC 5321 4.5.3.2) and calls timed_out() when one fires.
//
// One message at a time; several per connection. Each recipient of a message
// ends with a result: the server's reply, or one the session made itself
// (a pre-check that needs no round trip, a lost connection).
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/address.h"
#include "proto/envelope.h"
#include "proto/esmtp.h"
#include "smtp/client/data_writer.h"
#include "smtp/client/reply_parser.h"

namespace tern::smtp::client {

struct SessionOptions {
  std::string helo_name;  // our host name for EHLO/HELO (RFC 5321 4.1.1.1)
  bool starttls = false;  // use STARTTLS when the server offers it (RFC 3207)
  // No mail without TLS: STARTTLS must be offered and succeed. Sessions
  // that authenticate need it too (the password never goes in the clear).
  bool require_tls = false;
  // The driver ran the TLS handshake before the greeting (implicit TLS,
  // RFC 8314 3.3): no STARTTLS.
  bool tls_on_connect = false;
  // AUTH (RFC 4954) after TLS with PLAIN (RFC 4616), or LOGIN for servers
  // without it, when a user name is given.
  std::string auth_username;
  std::string auth_password;
  // LMTP (RFC 2033) instead of SMTP: LHLO, and after the data one reply
  // per accepted recipient, each its own result. No name check (a store on
  // this host greets with our name).
  bool lmtp = false;
};

// One message, delivered in one mail transaction.
struct Message {
  proto::Path reverse_path;
  std::vector<proto::Recipient> recipients;  // with their NOTIFY/ORCPT (RFC 3461 4.1, 4.2)
  std::uint64_t size = 0;                    // octets of content, for SIZE= (RFC 1870 3)
  proto::Body body = proto::Body::k7Bit;     // 8BITMIME (RFC 6152), BINARYMIME (RFC 3030)
  bool smtputf8 = false;                     // addresses or header need UTF-8 (RFC 6531 3.4)
  proto::Ret ret = proto::Ret::kUnset;       // RFC 3461 4.3
  std::string envid;                         // RFC 3461 4.4, not xtext-encoded
};

struct RecipientResult {
  int code = 0;                  // the reply code; 0 while there is no final result
  std::string enhanced;          // RFC 3463; empty when the server gave none
  std::string text;
  std::string_view in_reply_to;  // "RCPT TO", "end of data"...; empty: the session made it

  bool pending() const { return code == 0; }
  bool delivered() const { return code >= 200 && code < 300; }
  bool temporary() const { return code >= 400 && code < 500; }
  bool permanent() const { return code >= 500; }
  // The enhanced status code, or its class alone ("4.0.0") when the server
  // gave none (RFC 3463 3.1), as a DSN's Status field needs one.
  std::string status() const;
  bool operator==(const RecipientResult&) const = default;
};

// What the driver must do next. Output comes first: while there is any,
// next() is kWrite.
enum class Next {
  kWrite,      // write take_output() to the server
  kRead,       // wait for the server; give its bytes to receive()
  kStartTls,   // run the TLS handshake, then tls_established() (or connection_lost())
  kSendBody,   // give the message content to send_body(), the last piece with last=true
  kDowngrade,  // an 8-bit body for a server without 8BITMIME: downgrade() or reject_8bit()
  kReady,      // no message in progress: send_message() or quit(); results() holds the last
  kDone,       // close the connection
};

class Session {
 public:
  explicit Session(SessionOptions options)
      : options_(std::move(options)), tls_active_(options_.tls_on_connect) {}

  // Starts the transaction for `message`: before the greeting (then it waits
  // for EHLO) or at kReady. On a closed session every recipient gets the
  // result that closed it.
  void send_message(Message message);
  // At kReady: ends the session (RFC 5321 4.1.1.10).
  void quit();

  // Bytes from the server, cut anywhere.
  void receive(std::string_view bytes);
  // The TLS handshake after kStartTls succeeded: EHLO again (RFC 3207 4.2).
  void tls_established();
  // At kSendBody: message content in pieces cut anywhere, with CRLF line
  // ends; the last piece (which may be empty) with `last`. Each piece is
  // encoded straight into the output (dot-stuffed for DATA, a chunk for
  // BDAT). Ignored at other times: the message failed meanwhile.
  void send_body(std::string_view piece, bool last = false);
  // At kDowngrade (RFC 6152 3 leaves the choice to the client): either the
  // driver will send a 7-bit form of the body, `size` octets long (SIZE is
  // checked again)...
  void downgrade(std::uint64_t size);
  // ...or the message is returned: every recipient fails with 554 5.6.3.
  void reject_8bit();
  // The connection broke, or a timer fired: recipients without a final
  // result get 451 4.4.2, and the session is closed.
  void connection_lost();
  void timed_out();

  Next next() const;
  // The command whose reply is due next ("greeting", "MAIL FROM", "end of
  // data"...; empty when none): picks the RFC 5321 4.5.3.2 timeout to run.
  std::string_view awaiting() const {
    return awaiting_.empty() ? std::string_view() : command_name(awaiting_.front());
  }
  std::string take_output() { return std::exchange(output_, {}); }
  const Capabilities& capabilities() const { return capabilities_; }
  bool tls_active() const { return tls_active_; }
  // True once every recipient of the last message has its final result.
  bool message_finished() const { return message_state_ == MessageState::kFinished; }
  const std::vector<RecipientResult>& results() const { return results_; }

 private:
  enum class State { kSetup, kStartTls, kIdle, kDowngrade, kTransaction, kBody, kQuitting, kClosed };
  enum class MessageState { kNone, kHeld, kActive, kFinished };
  // The replies the server owes, in the order of our commands: RFC 2920 3.1
  // matches them one by one.
  enum class Awaiting : std::uint8_t {
    kGreeting, kEhlo, kHelo, kStartTls, kAuth, kRset, kMail, kRcpt, kData,
    kLoneDot, kEndOfData, kBdat, kBdatLast, kQuit,
  };

  static std::string_view command_name(Awaiting what);
  void on_reply(const Reply& reply);
  void dispatch(Awaiting what, const Reply& reply);
  bool loops_back(const Reply& reply);
  void on_greeting(const Reply& reply);
  void on_ehlo(const Reply& reply);
  void on_helo(const Reply& reply);
  void on_starttls(const Reply& reply);
  void on_auth(const Reply& reply);
  void on_rset(const Reply& reply);
  void on_mail(const Reply& reply);
  void on_rcpt(const Reply& reply);
  void on_data(const Reply& reply);
  void on_bdat(const Reply& reply, bool last);
  void on_end_of_data(const Reply& reply);

  void send_command(std::string_view line, Awaiting what);
  void send_ehlo();
  void after_ehlo();
  bool needs_tls() const { return options_.require_tls || !options_.auth_username.empty(); }
  void start_auth();
  void setup_done();
  void start_transaction();
  std::optional<RecipientResult> precheck() const;
  void send_transaction();
  void send_mail_group();
  void after_rcpts();
  void start_body();
  void send_bdat_chunk(std::string_view piece, bool last);
  void maybe_finish();
  void fail_pending(const RecipientResult& result);
  void fail_message(const RecipientResult& result);
  void fail_setup(const Reply& reply, Awaiting what);
  void fail_setup(const RecipientResult& result);
  void close(const RecipientResult& result, bool send_quit);
  void protocol_error(std::string text);
  bool use_bdat() const { return capabilities_.chunking; }
  void end_of_data_sent(Awaiting what);
  void on_lmtp_reply(const Reply& reply);
  std::string mail_command() const;
  std::string rcpt_command(const proto::Recipient& recipient) const;

  SessionOptions options_;
  State state_ = State::kSetup;
  std::deque<Awaiting> awaiting_{Awaiting::kGreeting};
  ReplyParser parser_;
  std::string output_;
  Capabilities capabilities_;
  bool tls_active_ = false;
  bool transaction_open_ = false;  // the server holds a MAIL not yet ended: RSET first
  int auth_login_step_ = 0;        // AUTH LOGIN: user name sent (1), then password (2)
  RecipientResult closing_result_{451, "4.4.2", "Connection closed", {}};

  // The message in progress.
  Message message_;
  MessageState message_state_ = MessageState::kNone;
  std::vector<RecipientResult> results_;
  std::size_t rcpt_replies_ = 0;
  std::size_t accepted_ = 0;  // recipients with a 2xx to RCPT
  DataWriter writer_;
};

}  // namespace tern::smtp::client
