#pragma once
// The RFC5322.From domain that DMARC evaluates (RFC 7489 6.6.1). Pure.
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace tern::dmarc {

// From the body of the From header field (after the colon, folded or
// not): the one domain it names, normalized. Several addresses are fine
// when they share that domain. No address, an address without a domain,
// a domain literal, or several different domains: DMARC cannot be applied
// (550 5.7.1; the caller decides whether that rejects the message or
// only records dmarc=permerror).
Result<std::string> from_domain(std::string_view from_field_body);

// The same over every From field of the message: exactly one is required
// (RFC 5322 3.6 allows one; RFC 7489 6.6.1 leaves the rest to policy).
Result<std::string> from_domain(const std::vector<std::string_view>& from_field_bodies);

}  // namespace tern::dmarc
