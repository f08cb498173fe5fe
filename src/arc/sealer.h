#pragma once
// ARC sealing (RFC 8617 5.1): adding our ARC set, instance N + 1, to a
// message we forward. A Sealer holds the key and lasts as long as the
// configuration; a MessageSealer streams one message (as it arrived,
// before any DKIM-Signature of ours) and produces the three fields.
//
//   auto sealer = arc::Sealer::load({.domain = "example.net", .selector = "arc1"}, "arc.pem");
//   arc::MessageSealer m(*sealer);
//   for (chunk : message) m.feed(chunk);      // feed an arc::Verifier too
//   auto set = m.finish({.chain = verified.status,
//                        .authentication_results = our_a_r_field,
//                        .now = now});
//   if (set && set->instance > 0) prepend set->fields, in their order, to the message
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "arc/chain.h"
#include "base/result.h"
#include "dkim/canon.h"
#include "dkim/header.h"
#include "dkim/signer.h"

namespace tern::arc {

// What the ARC-Message-Signature signs when present (RFC 8617 4.1.2):
// dkim::default_signed_headers() and the DKIM-Signature fields already in
// the message; never ARC fields or Authentication-Results, which later
// hops remove or add to.
std::vector<std::string> default_signed_headers();

struct SealerOptions {
  std::string domain{};    // d= of both signatures
  std::string selector{};  // s=
  // AMS h=: signed when present, every instance.
  std::vector<std::string> headers = default_signed_headers();
  // Listed once more than present in the AMS h= (RFC 6376 8.15).
  std::vector<std::string> oversigned = {"From", "To", "Subject", "Date"};
};

class Sealer {
 public:
  // `pem`: an RSA (1024 bits or more) or Ed25519 private key, not
  // encrypted. A header list naming ARC-Seal or Authentication-Results
  // is refused.
  static Result<Sealer> create(SealerOptions options, std::string_view pem);
  static Result<Sealer> load(SealerOptions options, const std::string& pem_path);

  dkim::Algorithm algorithm() const { return signer_.algorithm(); }
  const dkim::Signer& signer() const { return signer_; }

 private:
  explicit Sealer(dkim::Signer signer) : signer_(std::move(signer)) {}
  dkim::Signer signer_;  // relaxed/relaxed, with the AMS header list
};

struct SealRequest {
  // The arriving chain's validation status from arc::Verifier: cv= of the
  // new set (none when the message has no ARC set).
  ChainStatus chain = ChainStatus::kNone;
  // Our Authentication-Results for the message: the field's value
  // ("authserv-id; spf=pass ..."), or the whole field; folded or not. It
  // becomes the AAR payload after "i=N;" (RFC 8617 4.1.1).
  std::string_view authentication_results{};
  std::int64_t now = 0;  // t= (Unix time)
};

struct SealedSet {
  // The new instance; 0 when no set is added, `skipped` saying why.
  std::uint32_t instance = 0;
  // ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results, each
  // folded into lines of at most 78 octets and ending in CRLF: prepended
  // to the message in this order (the seal on top).
  std::vector<std::string> fields;
  std::string skipped;
};

class MessageSealer {
 public:
  // The sealer must outlive this object.
  explicit MessageSealer(const Sealer& sealer, std::size_t max_header_bytes = 256 * 1024);

  // The message as it arrives: header section, empty line, body; CRLF line ends.
  void feed(std::string_view chunk);
  // Errors: the request does not fit the message (cv=none on a chain,
  // pass without one), an unusable Authentication-Results text, a header
  // section over the limit, OpenSSL failing.
  Result<SealedSet> finish(const SealRequest& request);

 private:
  const Sealer& sealer_;
  dkim::HeaderSection headers_;
  dkim::BodyHasher body_;
  bool in_body_ = false;
};

}  // namespace tern::arc
