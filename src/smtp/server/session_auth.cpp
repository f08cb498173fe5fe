// The session's security layer: STARTTLS (RFC 3207) and AUTH (RFC 4954),
// and what they change in the trace fields (RFC 3848).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/log.h"
#include "base/text.h"
#include "proto/reply.h"
#include "smtp/server/session.h"

namespace tern::smtp::server {
namespace {

// RFC 4954 4: a SASL response line may be up to 12288 octets; tern's
// mechanisms need at most 1024 (a PLAIN message in base64) plus the CRLF.
constexpr std::size_t kMaxAuthResponse = 12288;

// Text that goes into a comment of the Received field (RFC 5322 3.2.2):
// parentheses and backslashes quoted, anything unprintable dropped.
std::string comment_text(std::string_view text) {
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) continue;
    if (c == '(' || c == ')' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

// RFC 3207 4: "STARTTLS" with no parameters; 220, then the handshake.
void Session::on_starttls(const proto::CommandLine& command) {
  if (tls_) return reply(503, "5.5.1", "TLS already active");  // implicit TLS too (RFC 8314)
  if (!options_.starttls) return reply(502, "5.5.1", "Command not implemented");
  if (!command.argument.empty()) return reply(501, "5.5.4", "Syntax: STARTTLS");
  if (in_transaction_) return reply(503, "5.5.1", "MAIL transaction in progress");
  reply(220, "2.0.0", "Ready to start TLS");
  // Whatever the client sent after STARTTLS was sent in the clear, before
  // the TLS session that would protect it: a man in the middle may have put
  // it there (CVE-2011-0411). It is dropped, never executed.
  if (!input_.empty()) {
    spdlog::warn("event=starttls_injection session={} client={} discarded_octets={}", session_id_, client_address_,
                 input_.size());
    input_.clear();
  }
  state_ = State::kStartingTls;
}

// RFC 3207 4.2: the server discards any knowledge obtained from the client
// before TLS: the EHLO argument, the transaction. Limits keep counting.
void Session::tls_established(TlsInfo info) {
  reset_transaction();
  helo_.clear();
  extended_ = false;
  input_.clear();
  tls_ = std::move(info);
  if (state_ != State::kClosed) state_ = State::kCommand;
}

// RFC 4954 4: "AUTH" SP sasl-mech [SP initial-response].
void Session::on_auth(const proto::CommandLine& command) {
  if (!extended_) return reply(503, "5.5.1", "Send EHLO first");
  if (!tls_) return reply(538, "5.7.11", "Encryption required for requested authentication mechanism");
  if (!login_.empty()) return reply(503, "5.5.1", "Already authenticated");
  if (in_transaction_) return reply(503, "5.5.1", "MAIL transaction in progress");
  auto argument = command.argument;
  auto space = argument.find(' ');
  auto mechanism = proto::parse_sasl_mechanism(argument.substr(0, space));
  if (argument.empty()) return reply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
  if (!mechanism) return reply(504, "5.5.4", "Unrecognized authentication type");
  std::optional<std::string_view> initial;
  if (space != std::string_view::npos) initial = argument.substr(space + 1);
  sasl_ = std::make_unique<proto::SaslServer>(*mechanism);
  auth_step(sasl_->start(initial));
}

// A line answering a 334 challenge.
bool Session::process_auth_response() {
  bool too_long = false;
  auto line = take_line(kMaxAuthResponse, too_long);
  if (!line) return false;
  last_verb_ = "AUTH";
  state_ = State::kCommand;
  if (too_long) {
    sasl_.reset();
    reply(500, "5.5.2", "Line too long");
    return true;
  }
  auth_step(sasl_->respond(*line));
  return true;
}

void Session::auth_step(proto::SaslServer::Status status) {
  using Status = proto::SaslServer::Status;
  switch (status) {
    case Status::kChallenge:
      output_ += proto::format_reply(334, "", sasl_->challenge());
      state_ = State::kAuthResponse;
      return;
    case Status::kCredentials:
      state_ = State::kAuthenticating;  // the driver checks the password
      return;
    case Status::kMalformed:
      sasl_.reset();
      return reply(501, "5.5.2", "Cannot decode response");
    case Status::kCancelled:
      sasl_.reset();
      return reply(501, "5.0.0", "Authentication cancelled");
  }
}

proto::SaslCredentials Session::take_credentials() {
  proto::SaslCredentials credentials = sasl_->credentials();
  // RFC 4616 2: an authorization identity other than the login asks to act
  // for another user, which tern does not offer: it must fail, which an
  // empty password makes sure of.
  if (!credentials.authzid.empty() && !iequals(credentials.authzid, credentials.login)) credentials.password.clear();
  return credentials;
}

void Session::authenticated(AuthVerdict verdict) {
  if (state_ != State::kAuthenticating) return;
  state_ = State::kCommand;
  auto mechanism = proto::sasl_mechanism_name(sasl_->mechanism());
  auto login = to_lower(sasl_->credentials().login);
  sasl_.reset();
  last_verb_ = "AUTH";
  switch (verdict) {
    case AuthVerdict::kOk:
      login_ = login;
      spdlog::info("event=auth session={} mechanism={} login={}", session_id_, mechanism, log_value(login_));
      reply(235, "2.7.0", "Authentication successful");
      break;
    case AuthVerdict::kUnavailable:
      reply(454, "4.7.0", "Temporary authentication failure");
      break;
    case AuthVerdict::kBadCredentials:
      ++auth_failures_;
      spdlog::info("event=auth_failed session={} client={} mechanism={} failures={}", session_id_, client_address_,
                   mechanism, auth_failures_);
      // RFC 4954 6: 535 5.7.8; the failure is not counted as an error too.
      reply(535, "5.7.8", "Authentication credentials invalid", false);
      if (auth_failures_ >= limits_.max_auth_failures) {
        close_with_421("4.7.0", "Error: too many failed authentications");
      }
      break;
  }
  process();
}

// RFC 3848 (ESMTPS, ESMTPA, ESMTPSA) and RFC 6531 3.7.3 (UTF8SMTP...).
std::string Session::protocol_name() const {
  if (!extended_) return "SMTP";
  std::string name = envelope_.params.smtputf8 ? "UTF8SMTP" : "ESMTP";
  if (tls_) name += "S";
  if (!login_.empty()) name += "A";
  return name;
}

// Comments between "from" and "by" (RFC 5321 4.4 allows CFWS there), as
// Postfix writes them: the TLS session, and the login when configured.
std::string Session::received_comments() const {
  std::string out;
  if (tls_) {
    out += fmt::format("\r\n\t(using {} with cipher {} ({}/{} bits))", comment_text(tls_->version),
                       comment_text(tls_->cipher), tls_->bits, tls_->bits);
  }
  if (!login_.empty() && options_.show_login) {
    out += fmt::format("\r\n\t(Authenticated sender: {})", comment_text(login_));
  }
  return out;
}

}  // namespace tern::smtp::server
