#include "smtp/server/session.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/date.h"
#include "base/log.h"
#include "base/text.h"
#include "proto/reply.h"

namespace tern::smtp::server {

using proto::Verb;

namespace {

// ESMTP parameters lengthen MAIL and RCPT beyond the 512 octets of RFC 5321
// 4.5.3.1.4: SIZE +26 (RFC 1870), RET/ENVID +100 and NOTIFY/ORCPT +500
// (RFC 3461 4), AUTH= +500 (RFC 4954 5). One allowance covers them all.
constexpr std::size_t kParameterAllowance = 1024;

// Recipients are the same when their local parts are (RFC 5321 2.4: the
// local part is the receiving host's to interpret; tern keeps its case) and
// their domains are, whatever the case.
std::string recipient_key(const proto::Mailbox& mailbox) {
  return mailbox.local_part + "@" + to_lower(mailbox.domain);
}

// AUTH too: its initial response may be longer than 512 octets (a PLAIN
// message is up to 767 octets, 1024 in base64).
bool takes_parameters(Verb verb) { return verb == Verb::kMail || verb == Verb::kRcpt || verb == Verb::kAuth; }

// RFC 3463 3.2: X.1.7 is the sender's address syntax; the parser speaks of
// destination addresses (X.1.3).
Error sender_error(Error error) {
  if (error.enhanced == "5.1.3") {
    error.enhanced = "5.1.7";
    error.text = "Bad sender address syntax";
  }
  return error;
}

// RFC 5321 4.1.1.1: a Domain or an address-literal. The argument goes into
// tern's Received header and from there to the next hop, so bytes that are
// not printable ASCII (or, for UTF-8 names, RFC 6531 3.7.1, valid UTF-8)
// are refused: a bare CR would become a line break (a header injection).
bool acceptable_helo(std::string_view name) {
  if (name.empty() || name.size() > proto::kMaxDomain) return false;
  bool eight_bit = false;
  for (unsigned char c : name) {
    if (c <= 0x20 || c == 0x7f) return false;
    eight_bit = eight_bit || c >= 0x80;
  }
  return !eight_bit || proto::is_valid_utf8(name);
}

}  // namespace

Session::Session(SessionHost& host, SessionLimits limits, std::string hostname,
                 std::string session_id, std::string client_address, SessionOptions options)
    : host_(host),
      limits_(limits),
      options_(options),
      hostname_(std::move(hostname)),
      session_id_(std::move(session_id)),
      client_address_(std::move(client_address)) {}

void Session::start() { output_ += proto::format_reply(220, "", hostname_ + " ESMTP tern"); }

void Session::refuse(std::string_view enhanced, std::string_view text) {
  output_ += proto::format_reply(421, enhanced, text);
  state_ = State::kClosed;
}

void Session::receive(std::string_view bytes) {
  if (state_ == State::kClosed) return;
  input_.append(bytes);
  process();
}

bool Session::reading_input() const {
  return state_ == State::kCommand || state_ == State::kData || state_ == State::kBdat ||
         state_ == State::kAuthResponse;
}

void Session::process() {
  while (reading_input() && !input_.empty()) {
    if (state_ == State::kData) {
      process_data();
    } else if (state_ == State::kBdat) {
      process_bdat();
    } else if (state_ == State::kAuthResponse) {
      if (!process_auth_response()) break;
    } else if (!process_command_line()) {
      break;  // no complete line yet
    }
  }
  if (state_ == State::kClosed) input_.clear();
}

// Takes one line from the input, without its line end: CRLF or, leniently,
// a bare LF (as telnet/nc users type commands; DATA content gets no such
// leniency). nullopt when no complete line is buffered. A line longer than
// `limit` octets (with its line end) is skipped to its end, its bytes not
// kept, and reported as `too_long`.
std::optional<std::string> Session::take_line(std::size_t limit, bool& too_long) {
  auto lf = input_.find('\n');
  auto hard_limit = limits_.max_command_line_length + kParameterAllowance;
  if (lf == std::string::npos) {
    if (input_.size() > hard_limit) {
      discarding_long_line_ = true;
      input_.clear();
    }
    return std::nullopt;
  }
  std::string line = input_.substr(0, lf + 1);
  input_.erase(0, lf + 1);
  too_long = discarding_long_line_ || line.size() > limit;
  discarding_long_line_ = false;
  line.pop_back();
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// One command line, RFC 5321 2.3.8 / 4.1.1. Returns false when the buffered
// input holds no complete line. A line over the limit is answered with 500
// 5.5.2.
bool Session::process_command_line() {
  bool too_long = false;
  auto line = take_line(limits_.max_command_line_length + kParameterAllowance, too_long);
  if (!line) return false;
  last_verb_ = "-";
  auto command = proto::parse_command_line(*line);
  auto limit = takes_parameters(command.verb) ? limits_.max_command_line_length + kParameterAllowance
                                              : limits_.max_command_line_length;
  if (too_long || line->size() + 2 > limit) {
    reply(500, "5.5.2", "Line too long");
    return true;
  }
  last_verb_ = command.verb == Verb::kUnknown ? "UNKNOWN" : std::string(proto::verb_name(command.verb));
  dispatch(command);
  return true;
}

void Session::dispatch(const proto::CommandLine& command) {
  switch (command.verb) {
    case Verb::kEhlo: return on_ehlo(command, true);
    case Verb::kHelo: return on_ehlo(command, false);
    case Verb::kMail: return on_mail(command);
    case Verb::kRcpt: return on_rcpt(command);
    case Verb::kData: return on_data(command);
    case Verb::kBdat: return on_bdat(command);
    case Verb::kRset:
    case Verb::kNoop:
    case Verb::kVrfy:
    case Verb::kHelp:
      return on_junk(command);
    case Verb::kQuit:
      reply(221, "2.0.0", "Bye");
      reset_transaction();
      state_ = State::kClosed;
      return;
    case Verb::kStarttls: return on_starttls(command);
    case Verb::kAuth: return on_auth(command);
    case Verb::kEtrn: return on_etrn(command);
    case Verb::kExpn:
      return reply(502, "5.5.1", "Command not implemented");
    case Verb::kUnknown:
      return reply(500, "5.5.2", "Command unrecognized");
  }
}

// Commands that move no mail (Postfix's "junk"): answered, and free up to
// max_junk_commands; past that each costs an error, so a client that only
// sends these is cut off at max_errors.
void Session::on_junk(const proto::CommandLine& command) {
  switch (command.verb) {
    case Verb::kRset:
      if (!command.argument.empty()) return reply(501, "5.5.4", "Syntax: RSET");
      on_rset();
      break;
    case Verb::kVrfy:
      if (command.argument.empty()) return reply(501, "5.5.4", "Syntax: VRFY address");
      // RFC 5321 3.5.3: 252 when the server will not verify but will accept.
      reply(252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery");
      break;
    case Verb::kHelp:
      reply(214, "2.0.0", "See RFC 5321; commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY ETRN");
      break;
    default:
      reply(250, "2.0.0", "Ok");
      break;
  }
  if (++junk_commands_ > limits_.max_junk_commands) count_error();
}

void Session::on_ehlo(const proto::CommandLine& command, bool extended) {
  auto name = command.argument;
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  if (!acceptable_helo(name)) {
    return reply(501, "5.5.4", extended ? "Syntax: EHLO hostname" : "Syntax: HELO hostname");
  }
  reset_transaction();
  helo_ = std::string(name);
  extended_ = extended;
  if (!extended) return reply(250, "", hostname_);
  output_ += proto::format_multiline(250, ehlo_keywords());
  log_command(last_verb_, 250);
}

std::vector<std::string> Session::ehlo_keywords() const {
  std::vector<std::string> lines{hostname_, "PIPELINING", fmt::format("SIZE {}", limits_.max_message_size),
                                 "8BITMIME", "SMTPUTF8", "CHUNKING", "BINARYMIME", "ENHANCEDSTATUSCODES", "DSN",
                                 "ETRN"};
  // RFC 3207 4.2: STARTTLS only before TLS; AUTH only inside it (a
  // password never crosses the network in the clear).
  if (options_.starttls && !tls_) lines.push_back("STARTTLS");
  if (tls_) lines.push_back("AUTH PLAIN LOGIN");
  return lines;
}

// RFC 1985: "ETRN" SP ["@"] domain asks for the mail queued for a domain
// (with "@", its subdomains too) to be sent now. "#queue" names are not
// supported (458). Not inside a mail transaction (as Postfix).
void Session::on_etrn(const proto::CommandLine& command) {
  if (helo_.empty()) return reply(503, "5.5.1", "Send HELO/EHLO first");
  if (in_transaction_) return reply(503, "5.5.1", "MAIL transaction in progress");
  auto node = command.argument;
  if (!node.empty() && node.front() == '#') {
    return reply(458, "4.3.0", fmt::format("Unable to queue messages for node {}", node.substr(0, 64)));
  }
  bool subdomains = !node.empty() && node.front() == '@';
  auto domain = subdomains ? node.substr(1) : node;
  if (!proto::is_domain(domain, false)) return reply(501, "5.5.4", "Syntax: ETRN [@]domain");
  auto waiting = host_.etrn(domain, subdomains);
  if (!waiting) return reply_error(waiting.error());
  if (*waiting == 0) return reply(251, "2.0.0", fmt::format("OK, no messages waiting for node {}", node));
  reply(250, "2.0.0", fmt::format("OK, queuing for node {} started", node));
}

void Session::on_mail(const proto::CommandLine& command) {
  if (helo_.empty()) return reply(503, "5.5.1", "Send HELO/EHLO first");
  if (in_transaction_) return reply(503, "5.5.1", "Nested MAIL command");
  // RFC 4954 6 / RFC 6409 4.3: a submission server takes mail only from
  // authenticated clients.
  if (options_.auth_required && login_.empty()) return reply(530, "5.7.0", "Authentication required");
  if (command.malformed) return reply(501, "5.5.4", "Syntax: MAIL FROM:<address>");
  // The parameters decide whether UTF-8 is allowed in the path (RFC 6531
  // 3.4), so find them first with a permissive parse, then parse strictly.
  auto loose = proto::parse_path(command.argument, {true, true, false});
  if (!loose) return reply_error(sender_error(loose.error()));
  if (!extended_ && !loose->rest.empty()) {
    return reply(555, "5.5.4", "Parameters need EHLO");  // RFC 5321 4.1.1.11
  }
  auto params = proto::parse_mail_parameters(loose->rest);
  if (!params) return reply_error(params.error());
  auto path = proto::parse_path(command.argument, {params->smtputf8, true, false});
  if (!path) return reply_error(sender_error(path.error()));
  if (params->size && *params->size > limits_.max_message_size) {
    // RFC 1870 6.1: reject at MAIL when the declared size is too large.
    return reply(552, "5.3.4", "Message size exceeds fixed maximum message size");
  }
  if (!login_.empty()) {
    if (auto allowed = host_.check_sender(path->path, login_); !allowed) return reply_error(allowed.error());
  }
  if (host_.defers(PolicyStage::kMail, path->path)) {
    pending_.mail = std::move(params.value());
    return await_policy(PolicyStage::kMail, path->path);
  }
  begin_transaction(path->path, std::move(params.value()));
}

void Session::begin_transaction(const proto::Path& path, proto::MailParameters params) {
  envelope_ = {};
  envelope_.reverse_path = path;
  envelope_.params = std::move(params);
  in_transaction_ = true;
  reply(250, "2.1.0", "Ok");
}

void Session::await_policy(PolicyStage stage, const proto::Path& path) {
  pending_.stage = stage;
  pending_.path = path;
  state_ = State::kAwaitingPolicy;
}

void Session::on_rcpt(const proto::CommandLine& command) {
  if (!in_transaction_) return reply(503, "5.5.1", "Need MAIL command");
  if (bdat_seen_) return reply(503, "5.5.1", "RCPT after BDAT");
  if (command.malformed) return reply(501, "5.5.4", "Syntax: RCPT TO:<address>");
  auto path = proto::parse_path(command.argument, {envelope_.params.smtputf8, false, true});
  if (!path) return reply_error(path.error());
  auto params = proto::parse_rcpt_parameters(path->rest);
  if (!params) return reply_error(params.error());
  if (envelope_.recipients.size() >= limits_.max_recipients && !is_duplicate(path->path.mailbox)) {
    // RFC 5321 4.5.3.1.10: the client sends the rest in another transaction.
    bool counts = ++recipient_overshoot_ > limits_.max_recipient_overshoot;
    return reply(452, "4.5.3", "Too many recipients", counts);
  }
  if (auto allowed = host_.check_recipient(path->path, login_); !allowed) return reply_error(allowed.error());
  if (!is_duplicate(path->path.mailbox) && host_.defers(PolicyStage::kRcpt, path->path)) {
    pending_.rcpt = std::move(params.value());
    return await_policy(PolicyStage::kRcpt, path->path);
  }
  add_recipient(path->path, std::move(params.value()));
}

// A repeated recipient is accepted and delivered once (as Postfix does).
void Session::add_recipient(const proto::Path& path, proto::RcptParameters params) {
  if (recipient_keys_.insert(recipient_key(path.mailbox)).second) {
    envelope_.recipients.push_back({path.mailbox, std::move(params)});
  }
  reply(250, "2.1.5", "Ok");
}

void Session::policy_decided(const Result<void>& verdict) {
  if (state_ != State::kAwaitingPolicy) return;
  state_ = State::kCommand;
  auto pending = std::exchange(pending_, {});
  if (pending.stage == PolicyStage::kMail) last_verb_ = "MAIL";
  if (pending.stage == PolicyStage::kRcpt) last_verb_ = "RCPT";
  if (!verdict) {
    // A message refused at end of data was never acknowledged: the client
    // still owns it (RFC 5321 4.2.5).
    if (pending.stage == PolicyStage::kData) reset_transaction();
    reply_error(verdict.error());
  } else if (pending.stage == PolicyStage::kMail) {
    begin_transaction(pending.path, std::move(pending.mail));
  } else if (pending.stage == PolicyStage::kRcpt) {
    add_recipient(pending.path, std::move(pending.rcpt));
  } else {
    state_ = State::kCommitting;  // the driver commits, then calls committed()
    return;
  }
  process();
}

bool Session::is_duplicate(const proto::Mailbox& mailbox) {
  return recipient_keys_.count(recipient_key(mailbox)) > 0;
}

void Session::on_data(const proto::CommandLine& command) {
  if (!command.argument.empty()) return reply(501, "5.5.4", "Syntax: DATA");
  if (!in_transaction_) return reply(503, "5.5.1", "Need MAIL command");
  if (envelope_.recipients.empty()) return reply(503, "5.5.1", "Need RCPT command");
  if (bdat_seen_) return reply(503, "5.5.1", "DATA after BDAT");
  if (envelope_.params.body == proto::Body::kBinaryMime) {
    return reply(503, "5.5.1", "BODY=BINARYMIME requires BDAT");  // RFC 3030 3
  }
  if (!begin_message()) return;
  data_reader_ = std::make_unique<proto::DataReader>(limits_.max_line_length);
  state_ = State::kData;
  reply(354, "", "End data with <CR><LF>.<CR><LF>");
}

// RFC 3030 2: "BDAT" SP chunk-size [SP "LAST"]. The chunk's octets follow at
// once and must be read even when the command fails.
void Session::on_bdat(const proto::CommandLine& command) {
  auto arg = command.argument;
  auto space = arg.find(' ');
  auto size = parse_decimal(arg.substr(0, space));
  bool last = space != std::string_view::npos && iequals(arg.substr(space + 1), "LAST");
  if (!size || (space != std::string_view::npos && !last)) {
    return reply(501, "5.5.4", "Syntax: BDAT chunk-size [LAST]");
  }
  bdat_remaining_ = *size;
  bdat_last_ = last;
  state_ = State::kBdat;
  if (!in_transaction_) {
    bdat_reject_ = Error{503, "5.5.1", "Need MAIL command", ""};
  } else if (envelope_.recipients.empty()) {
    bdat_reject_ = Error{503, "5.5.1", "Need RCPT command", ""};
  } else if (data_reader_) {
    bdat_reject_ = Error{503, "5.5.1", "BDAT after DATA", ""};
  } else if (!message_open_ && !message_error_) {
    bdat_seen_ = true;
    if (!begin_message()) bdat_reject_ = Error{451, "4.3.0", "Temporary failure", ""};
  }
  if (bdat_remaining_ == 0) bdat_chunk_done();
}

void Session::on_rset() {
  reset_transaction();
  reply(250, "2.0.0", "Ok");
}

void Session::process_data() {
  content_buffer_.clear();
  auto consumed = data_reader_->feed(input_, content_buffer_);
  input_.erase(0, consumed);
  write_content(content_buffer_);
  if (!data_reader_->done()) return;
  if (!message_error_ && data_reader_->bare_line_ending()) {
    // RFC 5321 2.3.8; see ../shared/conformance/smuggling.
    message_error_ = Error{554, "5.6.0", "Bare CR or LF in message data", "bare CR or LF in DATA"};
  }
  if (!message_error_ && data_reader_->line_too_long()) {
    message_error_ = Error{554, "5.6.0", "Message line too long", "text line over max_line_length"};
  }
  finish_message();
}

void Session::process_bdat() {
  auto take = static_cast<std::size_t>(std::min<std::uint64_t>(bdat_remaining_, input_.size()));
  if (!bdat_reject_) write_content(std::string_view(input_).substr(0, take));
  input_.erase(0, take);
  bdat_remaining_ -= take;
  if (bdat_remaining_ == 0) bdat_chunk_done();
}

void Session::bdat_chunk_done() {
  state_ = State::kCommand;
  if (bdat_reject_) {
    auto error = std::move(*bdat_reject_);
    bdat_reject_.reset();
    return reply_error(error);
  }
  if (bdat_last_) return finish_message();
  // RFC 3030 2: each chunk is acknowledged; after an error the client is
  // expected to RSET, and later chunks get the same error.
  if (message_error_) return reply_error(*message_error_);
  reply(250, "2.0.0", fmt::format("{} octets received", message_size_));
}

bool Session::begin_message() {
  envelope_.helo = helo_;
  envelope_.client_address = client_address_;
  envelope_.protocol = protocol_name();
  auto id = host_.begin_message(envelope_);
  if (!id) {
    reply_error(id.error());
    return false;
  }
  queue_id_ = std::move(id.value());
  message_open_ = true;
  message_size_ = 0;
  received_counter_ = {};
  message_error_.reset();
  header_fixer_.reset();
  if (!login_.empty()) {
    // RFC 6409 8.2, 8.3: a submission server may add what the client left
    // out. Only for authenticated clients: mail relayed from other servers
    // is passed on as it came.
    header_fixer_.emplace(std::vector<proto::HeaderField>{
        {"Date", format_date(host_.now())}, {"Message-ID", "<" + queue_id_ + "@" + hostname_ + ">"}});
  }
  if (auto written = host_.write_message(received_header()); !written) message_error_ = written.error();
  return true;
}

void Session::write_content(std::string_view content) {
  if (message_error_ || content.empty()) return;
  message_size_ += content.size();
  if (message_size_ > limits_.max_message_size) {
    message_error_ = Error{552, "5.3.4", "Message size exceeds fixed maximum message size", ""};
    return;
  }
  received_counter_.feed(content);
  if (received_counter_.count() > limits_.max_received_headers) {
    // RFC 5321 6.3: too many Received fields means a mail loop.
    message_error_ = Error{554, "5.4.6", "Too many Received headers: mail loop", ""};
    return;
  }
  if (header_fixer_) {
    std::string fixed;
    header_fixer_->feed(content, fixed);
    if (auto written = host_.write_message(fixed); !written) message_error_ = written.error();
    return;
  }
  if (auto written = host_.write_message(content); !written) message_error_ = written.error();
}

void Session::finish_message() {
  if (message_error_) {
    auto error = std::move(*message_error_);
    reset_transaction();
    state_ = State::kCommand;
    return reply_error(error);
  }
  if (header_fixer_) {
    std::string tail;
    header_fixer_->finish(tail);
    if (auto written = host_.write_message(tail); !written) {
      reset_transaction();
      state_ = State::kCommand;
      return reply_error(written.error());
    }
  }
  if (host_.defers(PolicyStage::kData, envelope_.reverse_path)) {
    return await_policy(PolicyStage::kData, envelope_.reverse_path);
  }
  state_ = State::kCommitting;  // the driver makes it durable, then calls committed()
}

void Session::committed(const Result<void>& result) {
  message_open_ = false;  // the host owns the outcome either way
  state_ = State::kCommand;
  if (result) {
    spdlog::info("event=queued session={} queue_id={} from={} size={} rcpts={} tls={} login={}", session_id_,
                 queue_id_, log_value("<" + envelope_.reverse_path.mailbox.to_string() + ">"), message_size_,
                 envelope_.recipients.size(), tls_ ? tls_->version : "-", login_.empty() ? "-" : log_value(login_));
    reply(250, "2.0.0", "Ok: queued as " + queue_id_);
    errors_ = 0;
    junk_commands_ = 0;
  } else {
    reply_error(result.error());
  }
  reset_transaction();
  process();
}

void Session::timed_out() { close_with_421("4.4.2", "Error: timeout exceeded"); }

void Session::shut_down() { close_with_421("4.3.2", "Service shutting down, try again later"); }

// RFC 5321 3.8: the server ends the session on its own initiative.
void Session::close_with_421(std::string_view enhanced, std::string_view text) {
  if (state_ == State::kClosed) return;
  reset_transaction();
  last_verb_ = "-";
  reply(421, enhanced, hostname_ + " " + std::string(text));
  state_ = State::kClosed;
}

void Session::abort() {
  reset_transaction();
  state_ = State::kClosed;
}

std::string Session::received_header() const {
  // RFC 5321 4.4 Time-stamp-line; RFC 5322 3.3 date-time.
  bool ipv6 = client_address_.find(':') != std::string::npos;
  std::string header = fmt::format("Received: from {} ([{}{}]){}\r\n\tby {} (tern) with {} id {}", helo_,
                                   ipv6 ? "IPv6:" : "", client_address_, received_comments(), hostname_,
                                   envelope_.protocol, queue_id_);
  if (envelope_.recipients.size() == 1) {
    header += fmt::format("\r\n\tfor <{}>", envelope_.recipients.front().mailbox.to_string());
  }
  return header + fmt::format("; {}\r\n", format_date(host_.now()));
}

void Session::reset_transaction() {
  if (message_open_) host_.discard_message();
  header_fixer_.reset();
  message_open_ = false;
  in_transaction_ = false;
  bdat_seen_ = false;
  recipient_keys_.clear();
  recipient_overshoot_ = 0;
  data_reader_.reset();
  message_error_.reset();
  envelope_ = {};
}

void Session::reply(int code, std::string_view enhanced, std::string_view text, bool counts) {
  output_ += proto::format_reply(code, enhanced, text);
  log_command(last_verb_, code);
  if (counts && code >= 400 && code != 421) count_error();
}

// Postfix's hard error limit: a client that keeps failing is cut off.
void Session::count_error() {
  if (state_ == State::kClosed) return;
  if (++errors_ >= limits_.max_errors) {
    reset_transaction();
    output_ += proto::format_reply(421, "4.7.0", hostname_ + " Error: too many errors");
    spdlog::info("event=too_many_errors session={} errors={}", session_id_, errors_);
    state_ = State::kClosed;
  }
}

void Session::reply_error(const Error& error) {
  if (!error.detail.empty()) {
    spdlog::info("event=reject session={} verb={} reply={} detail={}", session_id_, last_verb_,
                 error.code, log_value(error.detail));
  }
  reply(error.code, error.enhanced, error.text);
}

void Session::log_command(std::string_view verb, int code) const {
  spdlog::info("event=command session={} verb={} reply={}", session_id_, verb, code);
}

}  // namespace tern::smtp::server
