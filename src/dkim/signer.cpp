#include "dkim/signer.h"

#include "dkim/folder.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <fstream>
#include <sstream>

#include "base/base64.h"
#include "base/text.h"
#include "dkim/key.h"

namespace tern::dkim {
namespace {

// RFC 5322 2.1.1: lines SHOULD be no more than 78 characters.
constexpr std::size_t kLineWidth = 78;
// b= lines: the tag text cut every 75 characters, each further line led by
// one space (so at most 76).
constexpr std::size_t kBase64Width = 75;

Error key_error(std::string detail) {
  return Error{451, "4.3.5", "DKIM signing key unusable", std::move(detail)};
}

Error sign_error(std::string detail) {
  return Error{451, "4.3.0", "DKIM signing failed", std::move(detail)};
}

// Appends the b= value to a field ending in "b=": the current line is
// filled to kBase64Width characters, then each further line holds one space
// and kBase64Width characters.
void append_folded_b(std::string& field, std::string_view value) {
  auto line_start = field.rfind("\r\n");
  std::size_t line = line_start == std::string::npos ? field.size() : field.size() - line_start - 2;
  std::size_t room = line < kBase64Width ? kBase64Width - line : 0;
  while (!value.empty()) {
    if (room == 0) {
      field += "\r\n ";
      room = kBase64Width;
    }
    auto piece = value.substr(0, room);
    field.append(piece);
    room -= piece.size();
    value.remove_prefix(piece.size());
  }
  field += "\r\n";
}

std::shared_ptr<EVP_PKEY> read_private_key(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                &BIO_free);
  if (!bio) return nullptr;
  // No passphrase: a callback that gives none, so OpenSSL never prompts.
  auto no_password = [](char*, int, int, void*) { return -1; };
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr);
  ERR_clear_error();
  if (!key) return nullptr;
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

std::size_t count_fields(const std::vector<HeaderField>& fields, std::string_view name) {
  std::size_t n = 0;
  for (const auto& f : fields) n += iequals(f.name, name) ? 1 : 0;
  return n;
}

bool contains(const std::vector<std::string>& names, std::string_view name) {
  for (const auto& n : names) {
    if (iequals(n, name)) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> default_signed_headers() {
  return {"From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID", "In-Reply-To",
          "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
          "Resent-Date", "Resent-From", "Resent-To", "Resent-Cc", "List-Id", "List-Help",
          "List-Unsubscribe", "List-Unsubscribe-Post", "List-Subscribe", "List-Post",
          "List-Owner", "List-Archive"};
}

Result<Signer> Signer::create(SignerOptions options, std::string_view pem) {
  if (!valid_domain(options.domain)) return key_error("d= is not a domain name: " + options.domain);
  if (!valid_domain(options.selector, true)) return key_error("bad selector: " + options.selector);
  auto key = read_private_key(pem);
  if (!key) return key_error("not a PEM private key (or encrypted)");
  switch (EVP_PKEY_get_base_id(key.get())) {
    case EVP_PKEY_RSA:
      if (EVP_PKEY_get_bits(key.get()) < kMinRsaBits) {
        return key_error("RSA key under 1024 bits (RFC 8301 3.2)");
      }
      return Signer(std::move(options), std::move(key), Algorithm::kRsaSha256);
    case EVP_PKEY_ED25519:
      return Signer(std::move(options), std::move(key), Algorithm::kEd25519Sha256);
    default:
      return key_error("key is neither RSA nor Ed25519");
  }
}

Result<std::string> read_key_file(const std::string& pem_path) {
  std::ifstream file(pem_path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  if (!file) return key_error("cannot read " + pem_path);
  return text.str();
}

Result<Signer> Signer::load(SignerOptions options, const std::string& pem_path) {
  auto text = read_key_file(pem_path);
  if (!text) return text.error();
  auto signer = create(std::move(options), *text);
  if (!signer) {
    auto e = signer.error();
    e.detail = pem_path + ": " + e.detail;
    return e;
  }
  return signer;
}

std::vector<std::string> Signer::header_names(const std::vector<HeaderField>& fields) const {
  std::vector<std::string> names;
  auto add = [&](const std::string& name) {
    if (contains(names, name)) return;
    auto n = count_fields(fields, name) + (contains(options_.oversigned, name) ? 1 : 0);
    for (std::size_t i = 0; i < n; ++i) names.push_back(name);
  };
  for (const auto& name : options_.headers) add(name);
  for (const auto& name : options_.oversigned) add(name);
  // RFC 6376 5.4: From is always signed, even when missing from the list.
  if (!contains(names, "From")) names.push_back("From");
  return names;
}

Result<std::string> Signer::sign(const std::vector<HeaderField>& fields, std::string_view body_hash,
                                 std::int64_t now) const {
  auto names = header_names(fields);
  auto canon = [](Canonicalization c) { return c == Canonicalization::kSimple ? "simple" : "relaxed"; };
  // Tags in name order, b= last on lines of its own so it can be filled in.
  TagFolder f(std::string(kSignatureField) + ":");
  f.tag("a", algorithm_name(algorithm_));
  f.tag("bh", base64_encode(body_hash));
  f.tag("c", std::string(canon(options_.header_canon)) + "/" + canon(options_.body_canon));
  f.tag("d", options_.domain);
  for (std::size_t i = 0; i < names.size(); ++i) {  // h= may fold after any colon
    auto atom = (i == 0 ? "h=" : "") + names[i] + (i + 1 == names.size() ? ";" : ":");
    f.add(atom, i == 0);
  }
  if (!options_.identity.empty()) f.tag("i", options_.identity);
  f.tag("s", options_.selector);
  f.tag("t", std::to_string(now));
  f.tag("v", "1");
  if (options_.expire_after > 0) {
    f.tag("x", std::to_string(static_cast<std::uint64_t>(now) + options_.expire_after));
  }
  return sign_field(fields, names, f.take() + "\r\n b=");
}

Result<std::string> Signer::sign_field(const std::vector<HeaderField>& fields,
                                       const std::vector<std::string>& names,
                                       std::string unsigned_field) const {
  auto data = header_hash_input(fields, names, options_.header_canon, unsigned_field);
  return sign_hash_input(data, std::move(unsigned_field));
}

Result<std::string> Signer::sign_field_over(const std::vector<std::string_view>& fields,
                                            std::string unsigned_field) const {
  auto data = header_hash_input(fields, options_.header_canon, unsigned_field);
  return sign_hash_input(data, std::move(unsigned_field));
}

Result<std::string> Signer::sign_hash_input(std::string_view data, std::string unsigned_field) const {
  auto signature = sign_data(key_.get(), key_type_of(algorithm_), data);
  if (signature.empty()) return sign_error("OpenSSL could not sign");
  append_folded_b(unsigned_field, base64_encode(signature));
  return unsigned_field;
}

MessageSigner::MessageSigner(std::vector<const Signer*> signers, std::size_t max_header_bytes)
    : signers_(std::move(signers)), headers_(max_header_bytes) {
  for (const auto* s : signers_) {
    auto c = s->options().body_canon;
    bool shared = false;
    for (const auto& h : hashers_) shared = shared || h.first == c;
    if (!shared) hashers_.emplace_back(c, BodyHasher(c, std::nullopt));
  }
}

void MessageSigner::feed(std::string_view chunk) {
  if (!body_) {
    chunk.remove_prefix(headers_.feed(chunk));
    if (!headers_.complete()) return;
    body_ = true;
  }
  for (auto& h : hashers_) h.second.feed(chunk);
}

Result<std::vector<std::string>> MessageSigner::finish(std::int64_t now) {
  headers_.finish();
  if (headers_.overflowed()) return sign_error("header section too large to sign");
  std::vector<std::pair<Canonicalization, std::string>> digests;
  for (auto& h : hashers_) digests.emplace_back(h.first, h.second.finish());
  auto fields = headers_.fields();
  std::vector<std::string> out;
  for (const auto* s : signers_) {
    std::string digest;
    for (const auto& d : digests) {
      if (d.first == s->options().body_canon) digest = d.second;
    }
    if (digest.empty()) return sign_error("OpenSSL could not hash the body");
    auto field = s->sign(fields, digest, now);
    if (!field) return field.error();
    out.push_back(std::move(*field));
  }
  return out;
}

}  // namespace tern::dkim
