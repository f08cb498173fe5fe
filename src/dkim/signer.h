#pragma once
// DKIM signing (RFC 6376 5, RFC 8463). A Signer holds one key and its
// settings and lasts as long as the configuration; a MessageSigner streams
// one message through any number of Signers, hashing the body once per body
// canonicalization they use (an RSA and an Ed25519 key with the same
// settings share it).
//
//   auto rsa = Signer::load({.domain = "example.com", .selector = "r1"}, "rsa.pem");
//   MessageSigner m({&*rsa, &*ed});
//   for (chunk : message) m.feed(chunk);
//   auto fields = m.finish(now);   // prepend each field to the message
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "dkim/canon.h"
#include "dkim/header.h"
#include "dkim/signature.h"

namespace tern::dkim {

// RFC 6376 5.4.1's list, with the MIME fields, Message-ID and RFC 8058's
// List-Unsubscribe-Post.
std::vector<std::string> default_signed_headers();

struct SignerOptions {
  std::string domain{};    // d=
  std::string selector{};  // s=
  std::string identity{};  // i=; empty: none (it defaults to "@" + d=)
  Canonicalization header_canon = Canonicalization::kRelaxed;
  Canonicalization body_canon = Canonicalization::kRelaxed;
  // Signed when present, in this order, every instance.
  std::vector<std::string> headers = default_signed_headers();
  // Listed in h= once more than present (RFC 6376 8.15): an instance added
  // later breaks the signature. Names here need not be in `headers`.
  std::vector<std::string> oversigned = {"From", "To", "Subject", "Date"};
  std::uint64_t expire_after = 0;  // seconds: x= = t= + this; 0: no x=
};

// Reads a key file for Signer::load and its kin (ARC's Sealer): the text,
// or an Error whose detail names the file.
Result<std::string> read_key_file(const std::string& pem_path);

class Signer {
 public:
  // `pem`: an RSA (1024 bits or more, RFC 8301 3.2) or Ed25519 private
  // key, PKCS#8 or traditional, not encrypted.
  static Result<Signer> create(SignerOptions options, std::string_view pem);
  static Result<Signer> load(SignerOptions options, const std::string& pem_path);

  Algorithm algorithm() const { return algorithm_; }
  const SignerOptions& options() const { return options_; }

  // The DKIM-Signature field, folded into lines of at most 78 octets and
  // ending in CRLF, for a message with these header fields and body hash.
  Result<std::string> sign(const std::vector<HeaderField>& fields, std::string_view body_hash,
                           std::int64_t now) const;
  // Signs a field already laid out: `unsigned_field` is a whole
  // DKIM-Signature field ending in "b=" (no CRLF) whose h= is `names`. The b=
  // value is appended, folded, with the final CRLF.
  Result<std::string> sign_field(const std::vector<HeaderField>& fields,
                                 const std::vector<std::string>& names,
                                 std::string unsigned_field) const;
  // The same over header fields already chosen, hashed in the order given
  // (the ARC-Seal signs the ARC sets by instance, RFC 8617 5.1.1).
  Result<std::string> sign_field_over(const std::vector<std::string_view>& fields,
                                      std::string unsigned_field) const;
  // What h= lists for these fields.
  std::vector<std::string> header_names(const std::vector<HeaderField>& fields) const;

 private:
  Signer(SignerOptions options, std::shared_ptr<EVP_PKEY> key, Algorithm algorithm)
      : options_(std::move(options)), key_(std::move(key)), algorithm_(algorithm) {}
  Result<std::string> sign_hash_input(std::string_view data, std::string unsigned_field) const;

  SignerOptions options_;
  std::shared_ptr<EVP_PKEY> key_;  // copies share the key; OpenSSL signs with it concurrently
  Algorithm algorithm_;
};

class MessageSigner {
 public:
  // The signers must outlive this object.
  explicit MessageSigner(std::vector<const Signer*> signers,
                         std::size_t max_header_bytes = 256 * 1024);

  // The message as it arrives: header section, empty line, body; CRLF line ends.
  void feed(std::string_view chunk);
  // One DKIM-Signature field per signer, in their order, each ending in
  // CRLF. `now` is t= (Unix time).
  Result<std::vector<std::string>> finish(std::int64_t now);
  // Body hashes running: one per distinct body canonicalization.
  std::size_t body_hash_count() const { return hashers_.size(); }

 private:
  std::vector<const Signer*> signers_;
  HeaderSection headers_;
  std::vector<std::pair<Canonicalization, BodyHasher>> hashers_;
  bool body_ = false;
};

}  // namespace tern::dkim
