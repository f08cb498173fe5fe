#include "dkim/der.h"

#include <cstdint>

namespace tern::dkim {
namespace {

constexpr unsigned char kInteger = 0x02;
constexpr unsigned char kBitString = 0x03;
constexpr unsigned char kNull = 0x05;
constexpr unsigned char kOid = 0x06;
constexpr unsigned char kSequence = 0x30;

// 1.2.840.113549.1.1.1, rsaEncryption (RFC 3279 2.3.1).
constexpr std::string_view kRsaEncryption = "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01";

// Takes one tag-length-value with tag `tag` off the front of `in`; its
// contents, or nullopt. Definite lengths only, up to four length octets.
std::optional<std::string_view> take(std::string_view& in, unsigned char tag) {
  if (in.size() < 2 || static_cast<unsigned char>(in[0]) != tag) return std::nullopt;
  auto first = static_cast<unsigned char>(in[1]);
  std::size_t header = 2;
  std::uint64_t length = first;
  if (first & 0x80) {
    std::size_t octets = first & 0x7f;
    if (octets == 0 || octets > 4 || in.size() < 2 + octets) return std::nullopt;
    length = 0;
    for (std::size_t i = 0; i < octets; ++i) length = (length << 8) | static_cast<unsigned char>(in[2 + i]);
    header += octets;
  }
  if (length > in.size() - header) return std::nullopt;
  auto contents = in.substr(header, static_cast<std::size_t>(length));
  in.remove_prefix(header + static_cast<std::size_t>(length));
  return contents;
}

// A positive INTEGER's magnitude, without the zero octet that keeps the
// sign bit clear.
std::optional<std::string_view> take_positive(std::string_view& in) {
  auto value = take(in, kInteger);
  if (!value || value->empty() || (static_cast<unsigned char>((*value)[0]) & 0x80)) return std::nullopt;
  while (value->size() > 1 && (*value)[0] == '\0') value->remove_prefix(1);
  if (value->size() == 1 && (*value)[0] == '\0') return std::nullopt;  // zero
  return value;
}

// RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
std::optional<RsaPublicNumbers> parse_pkcs1(std::string_view in) {
  auto body = take(in, kSequence);
  if (!body) return std::nullopt;
  auto n = take_positive(*body);
  auto e = n ? take_positive(*body) : std::nullopt;
  if (!e || !body->empty()) return std::nullopt;
  return RsaPublicNumbers{*n, *e};
}

// SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier,
//                                     subjectPublicKey BIT STRING }
std::optional<RsaPublicNumbers> parse_spki(std::string_view body) {
  auto algorithm = take(body, kSequence);
  if (!algorithm) return std::nullopt;
  auto oid = take(*algorithm, kOid);
  if (!oid || *oid != kRsaEncryption) return std::nullopt;
  if (!algorithm->empty()) {  // parameters: NULL for rsaEncryption
    auto null = take(*algorithm, kNull);
    if (!null || !null->empty() || !algorithm->empty()) return std::nullopt;
  }
  auto bits = take(body, kBitString);
  if (!bits || bits->empty() || (*bits)[0] != '\0' || !body.empty()) return std::nullopt;
  return parse_pkcs1(bits->substr(1));  // after the count of unused bits
}

}  // namespace

std::optional<RsaPublicNumbers> parse_rsa_public_key(std::string_view der) {
  auto outer = der;
  auto body = take(outer, kSequence);
  if (!body || body->empty()) return std::nullopt;
  // SPKI starts with a SEQUENCE, RSAPublicKey with an INTEGER.
  return static_cast<unsigned char>((*body)[0]) == kSequence ? parse_spki(*body) : parse_pkcs1(der);
}

}  // namespace tern::dkim
