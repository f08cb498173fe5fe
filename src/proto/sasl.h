#pragma once
// The server side of SMTP AUTH exchanges (RFC 4954 4): the SASL mechanisms
// PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login), as a pure state
// machine. Responses come in as the client sent them (base64 or "*");
// challenges go out as the text to put after "334 " (base64 already).
#include <optional>
#include <string>
#include <string_view>

namespace tern::proto {

enum class SaslMechanism { kPlain, kLogin };

// Case-insensitive (RFC 4422 3.1 names are upper case, clients vary).
std::optional<SaslMechanism> parse_sasl_mechanism(std::string_view name);
std::string_view sasl_mechanism_name(SaslMechanism mechanism);

struct SaslCredentials {
  std::string authzid;  // RFC 4616: the identity to act as; empty = the login
  std::string login;    // authcid
  std::string password;
};

class SaslServer {
 public:
  enum class Status {
    kChallenge,    // send "334 " + challenge(), read another response
    kCredentials,  // the exchange is complete: verify credentials()
    kMalformed,    // not base64, or not a valid message: 501 5.5.2
    kCancelled,    // the client sent "*": 501 5.0.0 (RFC 4954 4)
  };

  explicit SaslServer(SaslMechanism mechanism) : mechanism_(mechanism) {}
  ~SaslServer();
  SaslServer(const SaslServer&) = delete;
  SaslServer& operator=(const SaslServer&) = delete;

  // The AUTH command's initial response, if it had one ("=" is an empty
  // one, RFC 4954 4).
  Status start(std::optional<std::string_view> initial_response);
  // A response line, without its CRLF.
  Status respond(std::string_view line);

  const std::string& challenge() const { return challenge_; }
  const SaslCredentials& credentials() const { return credentials_; }
  SaslMechanism mechanism() const { return mechanism_; }

 private:
  Status take(std::string_view decoded);
  Status take_plain(std::string_view message);
  Status ask(std::string_view prompt);

  SaslMechanism mechanism_;
  int step_ = 0;  // LOGIN: 0 = wants the user name, 1 = the password
  std::string challenge_;
  SaslCredentials credentials_;
};

}  // namespace tern::proto
