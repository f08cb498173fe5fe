#include "smtp/client/session.h"

#include <fmt/format.h>

#include <stdexcept>

#include "base/base64.h"
#include "base/text.h"

namespace tern::smtp::client {

using proto::Body;

namespace {

// With PIPELINING, BDAT chunks go out without waiting for each reply (RFC
// 3030 2, 4.2); this many unanswered ones at most, so that a server that failed
// the message early is heard before the whole body has been sent.
constexpr std::size_t kMaxChunksInFlight = 16;

RecipientResult from_reply(const Reply& reply, std::string_view in_reply_to) {
  return {reply.code, reply.enhanced, reply.text(), in_reply_to};
}

// A server's reply quoted inside one of ours: "535 5.7.8 Bad credentials".
std::string full_text(const Reply& reply) {
  auto out = std::to_string(reply.code);
  if (!reply.enhanced.empty()) out += " " + reply.enhanced;
  return out + " " + reply.text();
}

// RFC 5321 4.2, 4.3.1: the greeting and the first EHLO reply line start
// with the server's name.
std::string_view server_name(const Reply& reply) {
  if (reply.lines.empty()) return {};
  std::string_view first = reply.lines.front();
  return first.substr(0, first.find(' '));
}

std::string notify_value(unsigned notify) {
  if (notify & proto::kNotifyNever) return "NEVER";
  std::string out;
  auto add = [&](unsigned bit, std::string_view name) {
    if (!(notify & bit)) return;
    if (!out.empty()) out += ',';
    out += name;
  };
  add(proto::kNotifySuccess, "SUCCESS");
  add(proto::kNotifyFailure, "FAILURE");
  add(proto::kNotifyDelay, "DELAY");
  return out;
}

}  // namespace

std::string RecipientResult::status() const {
  if (!enhanced.empty() || code == 0) return enhanced;
  return fmt::format("{}.0.0", code / 100);
}

// --- The driver's calls ---------------------------------------------------

void Session::send_message(Message message) {
  if (message_state_ == MessageState::kHeld || message_state_ == MessageState::kActive) {
    throw std::logic_error("smtp client: send_message while a message is in progress");
  }
  message_ = std::move(message);
  results_.assign(message_.recipients.size(), {});
  rcpt_replies_ = 0;
  accepted_ = 0;
  message_state_ = MessageState::kHeld;
  if (state_ == State::kClosed || state_ == State::kQuitting) return fail_message(closing_result_);
  if (state_ == State::kIdle) start_transaction();
  // Otherwise EHLO is still under way: setup_done() starts it.
}

void Session::quit() {
  if (state_ != State::kIdle) return;
  send_command("QUIT", Awaiting::kQuit);
  state_ = State::kQuitting;
}

void Session::receive(std::string_view bytes) {
  // RFC 3207 4.2 (and the STARTTLS injection attacks): once the server said
  // 220 to STARTTLS, nothing more it sent in plaintext is read.
  while (!bytes.empty() && state_ != State::kClosed && state_ != State::kStartTls) {
    bytes.remove_prefix(parser_.feed(bytes));
    if (!parser_.ready()) break;
    auto reply = parser_.take();
    if (!reply) return protocol_error(reply.error().text);
    on_reply(*reply);
  }
}

void Session::tls_established() {
  if (state_ != State::kStartTls) return;
  // RFC 3207 4.2: forget what the server said before TLS, and ask again.
  tls_active_ = true;
  capabilities_ = {};
  parser_.reset();
  state_ = State::kSetup;
  send_ehlo();
}

void Session::send_body(std::string_view piece, bool last) {
  if (state_ != State::kBody) return;  // the message failed meanwhile: nothing more to send
  if (use_bdat()) {
    send_bdat_chunk(piece, last);
  } else {
    writer_.write(piece, output_);
    if (last) {
      writer_.finish(output_);
      end_of_data_sent(Awaiting::kEndOfData);
    }
  }
  if (last) state_ = State::kTransaction;
}

void Session::downgrade(std::uint64_t size) {
  if (state_ != State::kDowngrade) return;
  state_ = State::kIdle;
  message_.body = Body::k7Bit;
  message_.size = size;
  start_transaction();  // the SIZE check again, on the new size
}

void Session::reject_8bit() {
  if (state_ != State::kDowngrade) return;
  state_ = State::kIdle;
  // RFC 3463 3.7: X.6.3 conversion required but not supported.
  fail_message({554, "5.6.3", "Server does not support 8BITMIME", {}});
}

void Session::connection_lost() {
  if (state_ == State::kClosed) return;
  close({451, "4.4.2", "Connection lost", {}}, false);
}

void Session::timed_out() {
  if (state_ == State::kClosed) return;
  close({451, "4.4.2", "Timed out waiting for the server", {}}, false);
}

Next Session::next() const {
  if (!output_.empty()) return Next::kWrite;
  switch (state_) {
    case State::kClosed: return Next::kDone;
    case State::kStartTls: return Next::kStartTls;
    case State::kDowngrade: return Next::kDowngrade;
    case State::kIdle: return Next::kReady;
    case State::kBody: {
      // Without PIPELINING each BDAT waits for its reply (RFC 2920 3.1: only
      // then may commands be grouped; RFC 3030 4.2 shows BDAT pipelined).
      // LMTP waits too: BDAT LAST gets one reply per recipient (RFC 2033
      // 4.2), so it goes only once every chunk before it was taken; after
      // a refused chunk there would be no telling how many replies come.
      bool wait = use_bdat() && !awaiting_.empty() &&
                  (options_.lmtp || !capabilities_.pipelining || awaiting_.size() >= kMaxChunksInFlight);
      return wait ? Next::kRead : Next::kSendBody;
    }
    default: return Next::kRead;
  }
}

// --- Replies ------------------------------------------------------------

std::string_view Session::command_name(Awaiting what) {
  switch (what) {
    case Awaiting::kGreeting: return "greeting";
    case Awaiting::kEhlo: return "EHLO";  // or LHLO
    case Awaiting::kHelo: return "HELO";
    case Awaiting::kStartTls: return "STARTTLS";
    case Awaiting::kAuth: return "AUTH";
    case Awaiting::kRset: return "RSET";
    case Awaiting::kMail: return "MAIL FROM";
    case Awaiting::kRcpt: return "RCPT TO";
    case Awaiting::kData: return "DATA";
    case Awaiting::kBdat: return "BDAT";
    case Awaiting::kQuit: return "QUIT";
    case Awaiting::kLoneDot:
    case Awaiting::kEndOfData:
    case Awaiting::kBdatLast: return "end of data";
  }
  return "-";
}

void Session::on_reply(const Reply& reply) {
  auto name = awaiting_.empty() ? std::string_view("no command") : command_name(awaiting_.front());
  // RFC 5321 3.8: 421 may come at any time; the server is closing.
  if (reply.code == 421) return close(from_reply(reply, name), false);
  if (awaiting_.empty()) return protocol_error("Unexpected reply from server");
  auto what = awaiting_.front();
  awaiting_.pop_front();
  // RFC 5321 4.2.1: only DATA is answered with 3xx (354); and AUTH with
  // 334 challenges (RFC 4954 4).
  bool intermediate = reply.code / 100 == 3;
  bool unexpected = what == Awaiting::kData   ? (reply.code != 354 && reply.code < 400)
                    : what == Awaiting::kAuth ? (intermediate && reply.code != 334)
                                              : intermediate;
  if (unexpected) return protocol_error("Unexpected reply from server");
  dispatch(what, reply);
  maybe_finish();
}

void Session::dispatch(Awaiting what, const Reply& reply) {
  switch (what) {
    case Awaiting::kGreeting: return on_greeting(reply);
    case Awaiting::kEhlo: return on_ehlo(reply);
    case Awaiting::kHelo: return on_helo(reply);
    case Awaiting::kStartTls: return on_starttls(reply);
    case Awaiting::kAuth: return on_auth(reply);
    case Awaiting::kRset: return on_rset(reply);
    case Awaiting::kMail: return on_mail(reply);
    case Awaiting::kRcpt: return on_rcpt(reply);
    case Awaiting::kData: return on_data(reply);
    case Awaiting::kLoneDot:  // its reply tells nothing: no recipient was accepted
      transaction_open_ = false;
      return;
    case Awaiting::kEndOfData: return on_end_of_data(reply);
    case Awaiting::kBdat: return on_bdat(reply, false);
    case Awaiting::kBdatLast: return on_bdat(reply, true);
    case Awaiting::kQuit: state_ = State::kClosed; return;
  }
}

void Session::on_greeting(const Reply& reply) {
  // RFC 5321 3.1: 554 (or any non-220) means no mail service here.
  if (reply.code / 100 != 2) return fail_setup(reply, Awaiting::kGreeting);
  if (loops_back(reply)) return;
  send_ehlo();
}

// A server that names itself with our own name is ourselves (an MX or a
// smarthost pointing back at us): sending would only add Received headers
// until the hop limit (RFC 5321 6.3). The message bounces now, as
// Postfix's "mail for ... loops back to myself" (RFC 3463 X.4.6).
bool Session::loops_back(const Reply& reply) {
  if (options_.lmtp || options_.helo_name.empty() || !iequals(server_name(reply), options_.helo_name)) return false;
  fail_setup({554, "5.4.6", "Mail loops back to myself: the server names itself " + options_.helo_name, {}});
  return true;
}

void Session::on_ehlo(const Reply& reply) {
  if (reply.code / 100 == 5 && !options_.lmtp) {  // RFC 2033 4.1: LMTP has LHLO only
    // RFC 5321 3.2: a server without EHLO rejects it; fall back to HELO.
    return send_command("HELO " + options_.helo_name, Awaiting::kHelo);
  }
  if (reply.code / 100 != 2) return fail_setup(reply, Awaiting::kEhlo);
  if (loops_back(reply)) return;
  capabilities_ = parse_capabilities(reply);
  if ((options_.starttls || needs_tls()) && capabilities_.starttls && !tls_active_) {
    return send_command("STARTTLS", Awaiting::kStartTls);
  }
  after_ehlo();
}

void Session::on_helo(const Reply& reply) {
  if (reply.code / 100 != 2) return fail_setup(reply, Awaiting::kHelo);
  capabilities_ = {};  // no ESMTP: no extensions, no parameters
  after_ehlo();
}

void Session::on_starttls(const Reply& reply) {
  if (reply.code / 100 == 2) {
    state_ = State::kStartTls;
    return;
  }
  // RFC 3207 4: 454 (TLS not available). Without a need for TLS the mail
  // goes on in plaintext; with one it waits (a 4xx whatever the server said:
  // the administrator may fix it).
  if (needs_tls()) return fail_setup({454, "4.7.4", "STARTTLS refused: " + full_text(reply), {}});
  after_ehlo();
}

// The server's extensions are known, after TLS if there is any.
void Session::after_ehlo() {
  if (needs_tls() && !tls_active_) {
    return fail_setup({454, "4.7.4", "TLS is required, but the server does not offer STARTTLS", {}});
  }
  if (!options_.auth_username.empty()) return start_auth();
  setup_done();
}

// RFC 4954 4: PLAIN with its initial response (RFC 4616 2: authorization
// identity empty, user name, password, NUL-separated); LOGIN answers two
// challenges, the user name and the password.
void Session::start_auth() {
  const auto& user = options_.auth_username;
  if (capabilities_.auth_plain) {
    auto message = std::string(1, '\0') + user + '\0' + options_.auth_password;
    return send_command("AUTH PLAIN " + base64_encode(message), Awaiting::kAuth);
  }
  if (capabilities_.auth_login) {
    auth_login_step_ = 0;
    return send_command("AUTH LOGIN", Awaiting::kAuth);
  }
  fail_setup({454, "4.7.4", "The server offers no AUTH mechanism tern knows (PLAIN, LOGIN)", {}});
}

void Session::on_auth(const Reply& reply) {
  if (reply.code == 334) {
    if (capabilities_.auth_plain || auth_login_step_ >= 2) return protocol_error("Unexpected AUTH challenge");
    const auto& answer = auth_login_step_++ == 0 ? options_.auth_username : options_.auth_password;
    return send_command(base64_encode(answer), Awaiting::kAuth);
  }
  if (reply.code / 100 == 2) return setup_done();  // 235 2.7.0 (RFC 4954 6)
  // 535 5.7.8 (bad credentials) too is the administrator's to fix, not the
  // sender's: the mail waits.
  fail_setup({454, "4.7.0", "Authentication failed: " + full_text(reply), {}});
}

void Session::on_rset(const Reply& reply) {
  // RFC 5321 4.1.1.5: RSET can only succeed; anything else is a broken server.
  if (reply.code / 100 != 2) return protocol_error("RSET failed");
  transaction_open_ = false;
  if (!capabilities_.pipelining) send_mail_group();
}

void Session::on_mail(const Reply& reply) {
  if (reply.code / 100 != 2) return fail_pending(from_reply(reply, "MAIL FROM"));
  transaction_open_ = true;
  if (!capabilities_.pipelining) send_command(rcpt_command(message_.recipients[0]), Awaiting::kRcpt);
}

void Session::on_rcpt(const Reply& reply) {
  auto index = rcpt_replies_++;
  auto& result = results_[index];
  if (result.pending()) {  // else MAIL failed and gave every recipient its reply
    if (reply.code / 100 == 2) {
      ++accepted_;  // the final result comes after the data
    } else {
      result = from_reply(reply, "RCPT TO");
    }
  }
  if (rcpt_replies_ < results_.size()) {
    if (!capabilities_.pipelining) send_command(rcpt_command(message_.recipients[rcpt_replies_]), Awaiting::kRcpt);
    return;
  }
  after_rcpts();
}

// Every RCPT is answered. Without an accepted recipient no data is sent: the
// message is finished, and the transaction is reset before the next one.
void Session::after_rcpts() {
  if (accepted_ == 0) return;  // with PIPELINING, DATA's reply is still due
  if (use_bdat()) return start_body();
  if (!capabilities_.pipelining) send_command("DATA", Awaiting::kData);
}

void Session::on_data(const Reply& reply) {
  if (reply.code != 354) return fail_pending(from_reply(reply, "DATA"));
  if (accepted_ > 0) return start_body();
  // RFC 2920 3.1: DATA accepted with no valid recipient: send a lone dot.
  output_ += ".\r\n";
  awaiting_.push_back(Awaiting::kLoneDot);
}

void Session::on_end_of_data(const Reply& reply) {
  if (options_.lmtp) return on_lmtp_reply(reply);
  // RFC 5321 4.1.1.4: the reply applies to every recipient accepted at RCPT,
  // and ends the transaction whatever it says.
  fail_pending(from_reply(reply, "end of data"));
  transaction_open_ = false;
}

void Session::on_bdat(const Reply& reply, bool last) {
  if (last && options_.lmtp) return on_lmtp_reply(reply);
  bool positive = reply.code / 100 == 2;
  if (last || !positive) fail_pending(from_reply(reply, last ? "end of data" : "BDAT"));
  if (last && positive) transaction_open_ = false;
  // RFC 3030 2: after a failed chunk no more BDAT is sent; RSET comes later.
  if (!positive && state_ == State::kBody) state_ = State::kTransaction;
}

// --- Commands -----------------------------------------------------------

void Session::send_command(std::string_view line, Awaiting what) {
  output_.append(line);
  output_ += "\r\n";
  awaiting_.push_back(what);
}

void Session::send_ehlo() { send_command((options_.lmtp ? "LHLO " : "EHLO ") + options_.helo_name, Awaiting::kEhlo); }

void Session::setup_done() {
  state_ = State::kIdle;
  if (message_state_ == MessageState::kHeld) start_transaction();
}

void Session::start_transaction() {
  message_state_ = MessageState::kActive;
  if (message_.recipients.empty()) {
    message_state_ = MessageState::kFinished;
    return;
  }
  if (auto failure = precheck()) return fail_message(*failure);
  if (message_.body == Body::k8BitMime && !capabilities_.eight_bit_mime) {
    state_ = State::kDowngrade;  // RFC 6152 3: the driver converts or returns it
    return;
  }
  send_transaction();
}

// What the server's EHLO already tells us it would refuse; all permanent,
// as another attempt at the same server would fail the same way.
std::optional<RecipientResult> Session::precheck() const {
  const auto& caps = capabilities_;
  if (message_.smtputf8 && !caps.smtputf8) {
    return RecipientResult{553, "5.6.7", "Server does not support SMTPUTF8", {}};  // RFC 6531 3.5
  }
  if (message_.body == Body::kBinaryMime && !(caps.binary_mime && caps.chunking)) {
    return RecipientResult{554, "5.6.3", "Server does not support BINARYMIME", {}};  // RFC 3030 3
  }
  if (caps.size && caps.max_size > 0 && message_.size > caps.max_size) {
    return RecipientResult{552, "5.3.4", "Message too big for the server", {}};  // RFC 1870 4
  }
  return std::nullopt;
}

// RFC 2920 3.1: with PIPELINING, RSET, MAIL, every RCPT and DATA go in one
// write; without it, each command waits for the reply to the one before.
void Session::send_transaction() {
  state_ = State::kTransaction;
  if (transaction_open_) {
    send_command("RSET", Awaiting::kRset);
    if (!capabilities_.pipelining) return;  // on_rset() goes on
  }
  send_mail_group();
}

void Session::send_mail_group() {
  send_command(mail_command(), Awaiting::kMail);
  if (!capabilities_.pipelining) return;
  for (const auto& recipient : message_.recipients) send_command(rcpt_command(recipient), Awaiting::kRcpt);
  if (!use_bdat()) send_command("DATA", Awaiting::kData);
}

void Session::start_body() {
  state_ = State::kBody;
  auto mode = !use_bdat() ? DataWriter::Mode::kData
              : message_.body == Body::kBinaryMime ? DataWriter::Mode::kBinary
                                                   : DataWriter::Mode::kText;
  writer_ = DataWriter(mode);
}

// RFC 3030 2: "BDAT" SP chunk-size [SP "LAST"] CRLF, then exactly that many
// octets. The size is known only once the piece is encoded, so the command
// goes in front of it afterwards.
void Session::send_bdat_chunk(std::string_view piece, bool last) {
  auto start = output_.size();
  writer_.write(piece, output_);
  if (last) writer_.finish(output_);
  auto size = output_.size() - start;
  if (size == 0 && !last) return;
  output_.insert(start, fmt::format("BDAT {}{}\r\n", size, last ? " LAST" : ""));
  if (last) return end_of_data_sent(Awaiting::kBdatLast);
  awaiting_.push_back(Awaiting::kBdat);
}

// RFC 2033 4.2: an LMTP server answers the end of the data once for each
// recipient it accepted at RCPT, in order; SMTP once for all.
void Session::end_of_data_sent(Awaiting what) {
  std::size_t replies = options_.lmtp ? accepted_ : 1;
  for (std::size_t i = 0; i < replies; ++i) awaiting_.push_back(what);
}

// One recipient's reply: the first one still without a result (those
// refused at RCPT have theirs).
void Session::on_lmtp_reply(const Reply& reply) {
  for (auto& r : results_) {
    if (r.pending()) {
      r = from_reply(reply, "end of data");
      break;
    }
  }
  bool more = !awaiting_.empty() && (awaiting_.front() == Awaiting::kEndOfData || awaiting_.front() == Awaiting::kBdatLast);
  if (!more) transaction_open_ = false;
}

// RFC 5321 4.1.2 Mail-parameters: each only when the server offers it
// (RFC 5321 4.1.1.11: no parameters without EHLO).
std::string Session::mail_command() const {
  const auto& caps = capabilities_;
  std::string line = "MAIL FROM:<";
  if (!message_.reverse_path.null) line += message_.reverse_path.mailbox.to_string();
  line += '>';
  if (caps.size) line += fmt::format(" SIZE={}", message_.size);  // RFC 1870 3
  if (message_.body == Body::k8BitMime) line += " BODY=8BITMIME";  // prechecked as offered
  if (message_.body == Body::kBinaryMime) line += " BODY=BINARYMIME";
  if (message_.smtputf8) line += " SMTPUTF8";
  if (caps.dsn && message_.ret != proto::Ret::kUnset) {
    line += message_.ret == proto::Ret::kFull ? " RET=FULL" : " RET=HDRS";  // RFC 3461 4.3
  }
  if (caps.dsn && !message_.envid.empty()) line += " ENVID=" + proto::encode_xtext(message_.envid);
  return line;
}

std::string Session::rcpt_command(const proto::Recipient& recipient) const {
  std::string line = "RCPT TO:<" + recipient.mailbox.to_string() + ">";
  if (!capabilities_.dsn) return line;
  const auto& params = recipient.params;
  if (params.notify != 0) line += " NOTIFY=" + notify_value(params.notify);  // RFC 3461 4.1
  auto semi = params.orcpt.find(';');
  if (semi != std::string::npos) {
    // RFC 3461 4.2: ORCPT=addr-type ";" xtext
    line += " ORCPT=" + params.orcpt.substr(0, semi + 1) + proto::encode_xtext(params.orcpt.substr(semi + 1));
  }
  return line;
}

// --- Outcomes -----------------------------------------------------------

// A transaction ends when no reply to it is due and no command is left.
void Session::maybe_finish() {
  if (state_ != State::kTransaction || !awaiting_.empty()) return;
  state_ = State::kIdle;
  fail_message({451, "4.5.0", "Transaction ended without a result", {}});  // none left; a safety net
}

// Gives `result` to every recipient still waiting for one.
void Session::fail_pending(const RecipientResult& result) {
  for (auto& r : results_) {
    if (r.pending()) r = result;
  }
}

// Ends the message: recipients still without a result get `result`.
void Session::fail_message(const RecipientResult& result) {
  if (message_state_ != MessageState::kHeld && message_state_ != MessageState::kActive) return;
  fail_pending(result);
  message_state_ = MessageState::kFinished;
}

// The greeting or EHLO/HELO failed: the message waiting for them gets the
// reply, and the session says QUIT (RFC 5321 3.1, 4.1.1.10).
void Session::fail_setup(const Reply& reply, Awaiting what) { fail_setup(from_reply(reply, command_name(what))); }

void Session::fail_setup(const RecipientResult& result) {
  closing_result_ = result;
  fail_message(closing_result_);
  send_command("QUIT", Awaiting::kQuit);
  state_ = State::kQuitting;
}

void Session::close(const RecipientResult& result, bool send_quit) {
  closing_result_ = result;
  fail_message(result);
  awaiting_.clear();
  parser_.reset();
  output_.clear();  // unsent commands would not be answered
  if (send_quit) output_ = "QUIT\r\n";
  state_ = State::kClosed;
}

// The server's replies no longer match our commands: stop, temporarily.
void Session::protocol_error(std::string text) {
  close({451, "4.5.0", std::move(text), {}}, true);
}

}  // namespace tern::smtp::client
