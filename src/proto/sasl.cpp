#include "proto/sasl.h"

#include "base/base64.h"
#include "base/text.h"

namespace tern::proto {
namespace {

// RFC 4616 2: each of authzid, authcid and passwd is at most 255 octets.
constexpr std::size_t kMaxPlainField = 255;

// Overwrites a secret before its memory is given back (a plain
// assignment could be optimised away).
void wipe(std::string& secret) {
  volatile char* p = secret.data();
  for (std::size_t i = 0; i < secret.size(); ++i) p[i] = 0;
  secret.clear();
}

}  // namespace

std::optional<SaslMechanism> parse_sasl_mechanism(std::string_view name) {
  if (iequals(name, "PLAIN")) return SaslMechanism::kPlain;
  if (iequals(name, "LOGIN")) return SaslMechanism::kLogin;
  return std::nullopt;
}

std::string_view sasl_mechanism_name(SaslMechanism mechanism) {
  return mechanism == SaslMechanism::kPlain ? "PLAIN" : "LOGIN";
}

SaslServer::~SaslServer() {
  wipe(credentials_.password);
}

SaslServer::Status SaslServer::start(std::optional<std::string_view> initial_response) {
  if (initial_response) return respond(*initial_response == "=" ? std::string_view() : *initial_response);
  // PLAIN: an empty challenge asks for the whole message (RFC 4954 4).
  return mechanism_ == SaslMechanism::kPlain ? ask("") : ask("Username:");
}

SaslServer::Status SaslServer::respond(std::string_view line) {
  if (line == "*") return Status::kCancelled;
  auto decoded = base64_decode(line);
  if (!decoded) return Status::kMalformed;
  auto status = take(*decoded);
  wipe(*decoded);
  return status;
}

SaslServer::Status SaslServer::take(std::string_view decoded) {
  if (mechanism_ == SaslMechanism::kPlain) return take_plain(decoded);
  if (decoded.find('\0') != std::string_view::npos || decoded.size() > kMaxPlainField) return Status::kMalformed;
  if (step_++ == 0) {
    credentials_.login = decoded;
    return ask("Password:");
  }
  credentials_.password = decoded;
  return Status::kCredentials;
}

// RFC 4616 2: message = [authzid] NUL authcid NUL passwd.
SaslServer::Status SaslServer::take_plain(std::string_view message) {
  auto first = message.find('\0');
  auto second = first == std::string_view::npos ? first : message.find('\0', first + 1);
  if (second == std::string_view::npos || message.find('\0', second + 1) != std::string_view::npos) {
    return Status::kMalformed;
  }
  auto authzid = message.substr(0, first);
  auto login = message.substr(first + 1, second - first - 1);
  auto password = message.substr(second + 1);
  if (login.empty() || password.empty() || authzid.size() > kMaxPlainField || login.size() > kMaxPlainField ||
      password.size() > kMaxPlainField) {
    return Status::kMalformed;
  }
  credentials_ = {std::string(authzid), std::string(login), std::string(password)};
  return Status::kCredentials;
}

SaslServer::Status SaslServer::ask(std::string_view prompt) {
  challenge_ = base64_encode(prompt);
  return Status::kChallenge;
}

}  // namespace tern::proto
