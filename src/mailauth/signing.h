#pragma once
// DKIM signing of mail tern's own users send (authenticated, or from the
// relay networks): the keys of [dkim."domain"], loaded once per
// configuration, and the signing of one message as it streams to the spool.
// The RFC5322.From domain picks the keys (RFC 6376 3.5: d= is the signing
// domain; a key of a parent domain signs for its subdomains too, aligned
// under DMARC's relaxed mode).
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "dkim/header.h"
#include "dkim/signer.h"

namespace tern::mailauth {

class SigningKeys {
 public:
  // Reads every key file; an unreadable or unusable key is an error naming
  // its config key, so that a start or reload with it is refused.
  static Result<std::shared_ptr<const SigningKeys>> load(const std::vector<config::DkimKey>& keys);
  bool empty() const { return by_domain_.empty(); }
  // The keys for mail from `domain` (lower case): its own, or else those of
  // the closest parent domain that has some. Several selectors sign side by
  // side (rotation, RSA and Ed25519).
  std::vector<const dkim::Signer*> for_domain(std::string_view domain) const;

 private:
  std::map<std::string, std::vector<dkim::Signer>, std::less<>> by_domain_;
};

class MessageSigning {
 public:
  explicit MessageSigning(const SigningKeys& keys) : keys_(keys) {}
  // The message as stored, in chunks cut anywhere.
  void feed(std::string_view content);
  // The DKIM-Signature fields to put in front of the message (CRLF), or
  // "" when its From has no key (or no single From domain).
  Result<std::string> finish(std::int64_t now);
  // The signing domain, d= ("" when not signed), for the log.
  const std::string& domain() const { return domain_; }

 private:
  void start_signing();

  const SigningKeys& keys_;
  dkim::HeaderSection headers_{256 * 1024};
  std::string header_bytes_;  // the header section, until the keys are known
  std::optional<dkim::MessageSigner> signer_;
  std::string domain_;
  bool decided_ = false;
};

}  // namespace tern::mailauth
