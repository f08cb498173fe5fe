#include "arc/sealer.h"


#include "base/base64.h"
#include "base/text.h"
#include "dkim/folder.h"
#include "dkim/tags.h"

namespace tern::arc {
namespace {

// RFC 5322 2.1.1: lines SHOULD be no more than 78 characters.
constexpr std::size_t kLineWidth = 78;

Error seal_error(std::string detail) {
  return Error{451, "4.3.0", "ARC sealing failed", std::move(detail)};
}

// Every field starts "Name: i=N;" so that readers that look for " i=N;"
// (dkimpy's AMS lookup does) find it; b= goes on a line of its own, for
// dkim::Signer to fill.
std::string unsigned_field(const dkim::TagFolder& folder) { return folder.text() + "\r\n b="; }

// The AAR payload (RFC 8617 4.1.1): our Authentication-Results value
// without the field name, the whitespace around it and the final CRLF.
// Nothing when it would not stay one header field: a line break that is
// not folding, or another control character.
std::optional<std::string_view> auth_results_payload(std::string_view text) {
  constexpr std::string_view kName = "Authentication-Results";
  if (istarts_with(text, kName)) {
    auto rest = text.substr(kName.size());
    while (!rest.empty() && (rest[0] == ' ' || rest[0] == '\t')) rest.remove_prefix(1);
    if (!rest.empty() && rest[0] == ':') text = rest.substr(1);
  }
  text = dkim::trim_fws(text);
  if (text.empty()) return std::nullopt;
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\r' && i + 2 < text.size() && text[i + 1] == '\n' && (text[i + 2] == ' ' || text[i + 2] == '\t')) {
      ++i;
      continue;
    }
    if ((c < 0x20 && c != '\t') || c == 0x7f) return std::nullopt;
  }
  return text;
}

std::string aar_field(std::uint32_t instance, std::string_view payload) {
  auto field = std::string(kAuthResultsField) + ": i=" + std::to_string(instance) + ";";
  auto first_line = payload.substr(0, payload.find("\r\n"));
  // The payload keeps its own folding; only its first line may need to move.
  field += field.size() + 1 + first_line.size() > kLineWidth ? "\r\n " : " ";
  field.append(payload);
  return field + "\r\n";
}

// The cv= of the newest ARC-Seal, when there is one that says.
std::optional<ChainStatus> newest_cv(const std::vector<dkim::HeaderField>& fields, std::uint32_t highest) {
  for (const auto& f : fields) {
    if (field_kind(f.name) != FieldKind::kSeal) continue;
    auto seal = parse_seal(f.text.substr(f.text.find(':') + 1));
    if (seal && seal->instance == highest) return seal->cv;
  }
  return std::nullopt;
}

bool lists(const std::vector<std::string>& list, std::string_view name) {
  for (const auto& n : list) {
    if (iequals(n, name)) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> default_signed_headers() {
  auto names = dkim::default_signed_headers();
  names.emplace_back(dkim::kSignatureField);
  return names;
}

Result<Sealer> Sealer::create(SealerOptions options, std::string_view pem) {
  // RFC 8617 4.1.2: the AMS does not sign ARC-Seal; Authentication-Results
  // are removed and added downstream (RFC 8601 5). Over-signing
  // DKIM-Signature would break on our own signature, added after the seal.
  for (auto name : {kSealField, std::string_view("Authentication-Results")}) {
    if (lists(options.headers, name) || lists(options.oversigned, name)) {
      return seal_error("the ARC-Message-Signature must not sign " + std::string(name));
    }
  }
  if (lists(options.oversigned, dkim::kSignatureField)) {
    return seal_error("DKIM-Signature cannot be over-signed by the ARC-Message-Signature");
  }
  auto signer = dkim::Signer::create({.domain = std::move(options.domain),
                                      .selector = std::move(options.selector),
                                      .identity = {},
                                      .header_canon = dkim::Canonicalization::kRelaxed,
                                      .body_canon = dkim::Canonicalization::kRelaxed,
                                      .headers = std::move(options.headers),
                                      .oversigned = std::move(options.oversigned),
                                      .expire_after = 0},
                                     pem);
  if (!signer) return signer.error();
  return Sealer(std::move(*signer));
}

Result<Sealer> Sealer::load(SealerOptions options, const std::string& pem_path) {
  auto text = dkim::read_key_file(pem_path);
  if (!text) return text.error();
  auto sealer = create(std::move(options), *text);
  if (!sealer) {
    auto e = sealer.error();
    e.detail = pem_path + ": " + e.detail;
    return e;
  }
  return sealer;
}

MessageSealer::MessageSealer(const Sealer& sealer, std::size_t max_header_bytes)
    : sealer_(sealer), headers_(max_header_bytes), body_(dkim::Canonicalization::kRelaxed, std::nullopt) {}

void MessageSealer::feed(std::string_view chunk) {
  if (!in_body_) {
    chunk.remove_prefix(headers_.feed(chunk));
    if (!headers_.complete()) return;
    in_body_ = true;
  }
  body_.feed(chunk);
}

Result<SealedSet> MessageSealer::finish(const SealRequest& request) {
  headers_.finish();
  if (headers_.overflowed()) return seal_error("header section too large to seal");
  auto body_hash = body_.finish();
  if (body_hash.empty()) return seal_error("OpenSSL could not hash the body");
  auto fields = headers_.fields();
  // White space at the start would continue our AAR, the last field we
  // put in front (RFC 5322 2.2.3), and break our own seal.
  if (!fields.empty() && (fields[0].text[0] == ' ' || fields[0].text[0] == '\t')) {
    return seal_error("the header section starts with a continuation line");
  }
  auto chain = collect_chain(fields);
  auto n = chain.highest;
  // RFC 8617 5.1 step 1: a chain its last sealer marked failed stays so.
  if (n > 0 && newest_cv(fields, n) == ChainStatus::kFail) {
    return SealedSet{0, {}, "the newest ARC-Seal already says cv=fail"};
  }
  switch (request.chain) {
    case ChainStatus::kNone:
      if (chain.any) return seal_error("cv=none for a message with ARC header fields");
      break;
    case ChainStatus::kPass:
      if (!chain.error.empty() || n == 0) return seal_error("cv=pass for a message without a valid chain");
      break;
    case ChainStatus::kFail:
      if (!chain.any) return seal_error("cv=fail for a message without ARC header fields");
      break;
  }
  if (n + 1 > kMaxInstances) return SealedSet{0, {}, "the chain has its 50 sets already (RFC 8617 4.2.1)"};
  auto instance = n + 1;
  if (request.now < 0) return seal_error("t= would be negative");
  auto payload = auth_results_payload(request.authentication_results);
  if (!payload) return seal_error("Authentication-Results text is empty or not one header field");
  auto aar = aar_field(instance, *payload);

  const auto& signer = sealer_.signer();
  auto algorithm = std::string(dkim::algorithm_name(signer.algorithm()));
  auto domain = signer.options().domain;
  auto selector = signer.options().selector;
  auto t = std::to_string(request.now);
  // The AMS: a DKIM signature of the message as it arrived (RFC 8617 4.1.2).
  auto signed_names = signer.header_names(fields);
  dkim::TagFolder ams(std::string(kMessageSignatureField) + ":");
  ams.tag("i", std::to_string(instance));
  ams.tag("a", algorithm);
  ams.tag("c", "relaxed/relaxed");
  ams.tag("d", domain);
  ams.tag("s", selector);
  ams.tag("t", t);
  for (std::size_t i = 0; i < signed_names.size(); ++i) {  // h= may fold after any colon
    auto last = i + 1 == signed_names.size();
    ams.add((i == 0 ? "h=" : "") + signed_names[i] + (last ? ";" : ":"), i == 0);
  }
  ams.tag("bh", base64_encode(body_hash));
  auto ams_field = signer.sign_field(fields, signed_names, unsigned_field(ams));
  if (!ams_field) return ams_field.error();

  // The AS (RFC 8617 5.1.1): the sets 1..N and ours; only ours when the
  // chain failed (5.1.2), as if it were the only set.
  auto sets = request.chain == ChainStatus::kFail ? std::vector<ArcSet>{} : chain.sets;
  sets.push_back({aar, *ams_field, {}});
  dkim::TagFolder seal(std::string(kSealField) + ":");
  seal.tag("i", std::to_string(instance));
  seal.tag("cv", status_name(request.chain));
  seal.tag("a", algorithm);
  seal.tag("d", domain);
  seal.tag("s", selector);
  seal.tag("t", t);
  auto seal_field = signer.sign_field_over(seal_scope(sets, sets.size()), unsigned_field(seal));
  if (!seal_field) return seal_field.error();
  return SealedSet{instance, {std::move(*seal_field), std::move(*ams_field), std::move(aar)}, {}};
}

}  // namespace tern::arc
