#include "dkim/signature.h"

#include <limits>

#include "base/base64.h"
#include "base/text.h"
#include "dkim/tags.h"

namespace tern::dkim {
namespace {

// 1*DIGIT; too many digits saturate rather than wrap (l= may have 76).
std::optional<std::uint64_t> parse_count(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    auto digit = static_cast<std::uint64_t>(c - '0');
    value = value > (kMax - digit) / 10 ? kMax : value * 10 + digit;
  }
  return value;
}

bool parse_algorithm(std::string_view a, Signature& sig, std::string& why) {
  if (a == "rsa-sha256") {
    sig.algorithm = Algorithm::kRsaSha256;
  } else if (a == "ed25519-sha256") {  // RFC 8463 3
    sig.algorithm = Algorithm::kEd25519Sha256;
  } else if (a == "rsa-sha1") {
    why = "rsa-sha1 is not accepted (RFC 8301 3.1)";
  } else {
    why = "unsupported algorithm a=" + std::string(a);
  }
  return why.empty();
}

// c= "header/body"; the body part defaults to simple (RFC 6376 3.5).
bool parse_canon(std::string_view c, Signature& sig) {
  auto one = [](std::string_view name, Canonicalization& out) {
    if (name == "simple") out = Canonicalization::kSimple;
    else if (name == "relaxed") out = Canonicalization::kRelaxed;
    else return false;
    return true;
  };
  auto slash = c.find('/');
  if (!one(c.substr(0, slash), sig.header_canon)) return false;
  return slash == std::string_view::npos || one(c.substr(slash + 1), sig.body_canon);
}

std::optional<std::string> decode_base64(std::string_view value) {
  auto decoded = base64_decode(remove_whitespace(value));
  if (!decoded || decoded->empty()) return std::nullopt;
  return decoded;
}

// The identifying tags and their syntax; "" when they are fine.
std::string parse_required(const std::vector<Tag>& tags, SignatureKind kind, Signature& sig) {
  for (auto name : {"v", "a", "b", "bh", "d", "h", "s"}) {
    if (kind == SignatureKind::kArcMessage && name == std::string_view("v")) continue;
    if (!find_tag(tags, name)) return std::string("missing tag ") + name + "=";
  }
  if (kind == SignatureKind::kDkim && *find_tag(tags, "v") != "1") return "unsupported version v=" + std::string(*find_tag(tags, "v"));
  std::string why;
  if (!parse_algorithm(*find_tag(tags, "a"), sig, why)) return why;
  auto b = decode_base64(*find_tag(tags, "b"));
  auto bh = decode_base64(*find_tag(tags, "bh"));
  if (!b || !bh) return "b= or bh= is not base64";
  sig.signature = std::move(*b);
  sig.b_text = remove_whitespace(*find_tag(tags, "b"));
  sig.body_hash = std::move(*bh);
  sig.domain = *find_tag(tags, "d");
  if (!valid_domain(sig.domain)) return "d= is not a domain name";
  sig.selector = *find_tag(tags, "s");
  if (!valid_domain(sig.selector, true)) return "s= is not a selector";
  auto names = split_colon_list(*find_tag(tags, "h"));
  if (names.size() > kMaxSignedHeaders) return "h= names too many fields";
  for (auto name : names) sig.signed_headers.emplace_back(name);
  bool from = false;
  for (const auto& name : sig.signed_headers) from = from || iequals(name, "from");
  if (!from) return "h= does not include From (RFC 6376 5.4)";
  return {};
}

std::string parse_optional(const std::vector<Tag>& tags, SignatureKind kind, Signature& sig) {
  if (auto c = find_tag(tags, "c"); c && !parse_canon(*c, sig)) return "unknown c=" + std::string(*c);
  sig.identity = "@" + sig.domain;
  if (auto i = find_tag(tags, "i"); i && kind == SignatureKind::kDkim) {
    sig.identity = *i;
    auto at = sig.identity.rfind('@');
    if (at == std::string::npos) return "i= has no @";
    // 6.1.1: the AUID's domain is the SDID or a subdomain of it.
    auto domain = sig.identity_domain();
    bool sub = domain.size() > sig.domain.size() &&
               iequals(domain.substr(domain.size() - sig.domain.size()), sig.domain) &&
               domain[domain.size() - sig.domain.size() - 1] == '.';
    if (!iequals(domain, sig.domain) && !sub) return "i= is not in d=";
  }
  if (auto q = find_tag(tags, "q")) {
    bool dns = false;
    for (auto method : split_colon_list(*q)) dns = dns || method == "dns/txt";
    if (!dns) return "no supported query method q=" + std::string(*q);
  }
  if (auto l = find_tag(tags, "l")) {
    if (!(sig.body_length = parse_count(*l))) return "l= is not a number";
  }
  if (auto t = find_tag(tags, "t")) {
    if (!(sig.timestamp = parse_count(*t))) return "t= is not a number";
  }
  if (auto x = find_tag(tags, "x")) {
    if (!(sig.expiration = parse_count(*x))) return "x= is not a number";
    // 3.5: x= MUST be greater than t= when both are present.
    if (sig.timestamp && *sig.expiration <= *sig.timestamp) return "x= is not after t=";
  }
  return {};
}

bool valid_label(std::string_view label, bool allow_underscore) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
  for (char c : label) {
    auto u = static_cast<unsigned char>(c);
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || u >= 0x80 || (allow_underscore && c == '_');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string_view algorithm_name(Algorithm a) {
  return a == Algorithm::kRsaSha256 ? "rsa-sha256" : "ed25519-sha256";
}

KeyType key_type_of(Algorithm a) {
  return a == Algorithm::kRsaSha256 ? KeyType::kRsa : KeyType::kEd25519;
}

std::string_view Signature::identity_domain() const {
  auto at = identity.rfind('@');
  return at == std::string::npos ? std::string_view() : std::string_view(identity).substr(at + 1);
}

Error perm_error(std::string detail) {
  return Error{550, "5.7.21", "No acceptable DKIM signature", std::move(detail)};
}

Result<Signature> parse_signature(std::string_view value, SignatureKind kind) {
  auto tags = parse_tag_list(value);
  if (!tags) return perm_error("signature is not a tag list");
  Signature sig;
  auto why = parse_required(*tags, kind, sig);
  if (why.empty()) why = parse_optional(*tags, kind, sig);
  if (!why.empty()) return perm_error(std::move(why));
  return sig;  // unknown tags are ignored (3.2)
}

std::string header_hash_input(const std::vector<HeaderField>& fields,
                              const std::vector<std::string>& names, Canonicalization c,
                              std::string_view signature_field) {
  std::vector<std::string_view> picked;
  HeaderPicker picker(fields);
  for (const auto& name : names) {
    auto field = picker.pick(name);
    if (!field.empty()) picked.push_back(field);
  }
  return header_hash_input(picked, c, signature_field);
}

std::string header_hash_input(const std::vector<std::string_view>& fields, Canonicalization c,
                              std::string_view signature_field) {
  std::string out;
  for (auto field : fields) canonicalize_header(c, field, out);
  canonicalize_header(c, remove_b_value(signature_field), out);
  // remove_b_value left the CRLF out; relaxed canonicalization adds one back.
  if (c == Canonicalization::kRelaxed) out.resize(out.size() - 2);
  return out;
}

bool valid_domain(std::string_view name, bool allow_underscore) {
  if (name.empty() || name.size() > 253) return false;
  while (true) {
    auto dot = name.find('.');
    if (!valid_label(name.substr(0, dot), allow_underscore)) return false;
    if (dot == std::string_view::npos) return true;
    name.remove_prefix(dot + 1);
  }
}

std::string remove_b_value(std::string_view field) {
  if (field.size() >= 2 && field.substr(field.size() - 2) == "\r\n") field.remove_suffix(2);
  auto colon = field.find(':');
  if (colon == std::string_view::npos) return std::string(field);
  std::string out(field.substr(0, colon + 1));
  auto rest = field.substr(colon + 1);
  while (true) {
    auto end = rest.find(';');
    auto spec = rest.substr(0, end);
    auto eq = spec.find('=');
    if (eq != std::string_view::npos && trim_fws(spec.substr(0, eq)) == "b") {
      out.append(spec.substr(0, eq + 1));  // the name and "=" stay, the value goes
    } else {
      out.append(spec);
    }
    if (end == std::string_view::npos) break;
    out += ';';
    rest.remove_prefix(end + 1);
  }
  return out;
}

}  // namespace tern::dkim
