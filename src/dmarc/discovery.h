#pragma once
// Which DMARC record applies to a message (RFC 7489 6.6.3), as data: the
// choice among the TXT records of one _dmarc name is pure (select_record);
// the DNS walk that feeds it is in dmarc/lookup.h.
#include <string>

#include "dmarc/record.h"
#include "dns/lookup.h"

namespace tern::dmarc {

enum class DiscoveryStatus {
  kFound,      // one usable DMARC record
  kNone,       // no DMARC record (NXDOMAIN, no TXT, or only other TXT records)
  kNoPolicy,   // several DMARC records, or one that cannot be used (6.6.3 steps 5, 6.2)
  kTempError,  // the DNS could not answer now: not the same as "none"
};

struct Discovery {
  DiscoveryStatus status = DiscoveryStatus::kNone;
  ParsedRecord parsed;         // kFound: the record and its outcome
  std::string text;            // the TXT record text used, for the log
  std::string domain;          // whose _dmarc record this is (the From or the organizational domain)
  bool at_org_domain = false;  // found at the organizational domain: sp= applies to the From domain
  std::string detail;          // for the log
};

// RFC 7489 6.6.3 steps 2, 4, 5, 6 over the answer for one _dmarc name.
// Fills status, parsed, text and detail; the caller sets domain.
Discovery select_record(const dns::Answer& answer);

std::string_view to_string(DiscoveryStatus s);

}  // namespace tern::dmarc
