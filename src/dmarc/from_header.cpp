#include "dmarc/from_header.h"

#include <utility>

#include "dmarc/org_domain.h"
#include "proto/address_list.h"

namespace tern::dmarc {
namespace {

Error cannot_apply(std::string detail) {
  return Error{550, "5.7.1", "From header field unusable for DMARC", std::move(detail)};
}

// A host name DNS can be asked about: labels of letters, digits, "-" (not
// first or last, RFC 5890 2.3.1), "_" or UTF-8 (RFC 6532), at most 63
// octets each and 253 in all (RFC 1035 2.3.4). Anything else cannot have
// a _dmarc record to look up.
bool is_dns_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  char previous = '.';
  for (char ch : name) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '.') {
      if (label == 0 || previous == '-') return false;
      label = 0;
    } else {
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c >= 0x80;
      if (!ok || ++label > 63 || (c == '-' && previous == '.')) return false;
    }
    previous = ch;
  }
  return label > 0 && previous != '-';
}

}  // namespace

Result<std::string> from_domain(std::string_view from_field_body) {
  // A From field lists few authors; 100 is far beyond any real one.
  auto addresses = proto::parse_address_list(from_field_body, {.allow_local_only = true, .max_addresses = 100});
  if (!addresses) return cannot_apply("From: " + addresses.error().detail);
  std::string domain;
  for (const auto& address : *addresses) {
    if (address.domain.empty()) return cannot_apply("From: an address without a domain");
    std::string this_domain = normalize_domain(address.domain);
    if (!is_dns_name(this_domain)) return cannot_apply("From: not a DNS domain name");
    if (domain.empty()) {
      domain = std::move(this_domain);
    } else if (domain != this_domain) {
      return cannot_apply("From: addresses in different domains");
    }
  }
  if (domain.empty()) return cannot_apply("From: no address");
  return domain;
}

Result<std::string> from_domain(const std::vector<std::string_view>& from_field_bodies) {
  if (from_field_bodies.size() != 1) {
    return cannot_apply(from_field_bodies.empty() ? "no From field" : "several From fields");
  }
  return from_domain(from_field_bodies.front());
}

}  // namespace tern::dmarc
