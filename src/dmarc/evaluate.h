#pragma once
// The DMARC verdict for one message (RFC 7489 4.2, 6.6.2, 6.6.4): result,
// the policy that applies and the disposition after pct= sampling. Pure:
// the record comes from lookup_policy, SPF and DKIM results from their
// checks, the sampling draw from the caller.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dmarc/discovery.h"
#include "dmarc/record.h"

namespace tern::dmarc {

// RFC 7489 11.2 result values for Authentication-Results.
enum class DmarcResult { kNone, kPass, kFail, kTempError, kPermError };

// RFC 7489 4.1: SPF authenticates the RFC5321.MailFrom domain, or the
// HELO identity when the reverse-path is null.
struct SpfIdentity {
  bool pass = false;   // only "pass" counts (softfail, neutral... do not)
  std::string domain;  // "local@domain" is accepted too: the domain part is used
};

// One DKIM-Signature's result and its d= (RFC 6376 3.5).
struct DkimIdentity {
  bool pass = false;
  std::string d;
};

struct Identifiers {
  std::string from_domain;  // the RFC5322.From domain (from_header.h)
  SpfIdentity spf;
  std::vector<DkimIdentity> dkim;
};

struct Evaluation {
  DmarcResult result = DmarcResult::kNone;
  std::string from_domain;          // normalized, for header.from
  std::optional<Policy> policy;     // p= or sp= as applies; empty without a usable record
  Policy disposition = Policy::kNone;  // what to do with the message
  bool sampled = true;   // false: pct= left this failing message to the next lower policy
  bool spf_aligned = false;         // SPF passed for a domain aligned with From
  bool dkim_aligned = false;        // some signature passed with an aligned d=
  std::string dkim_domain;          // that signature's d=
  std::string detail;               // for the log
};

// `sample_percent` is a uniform random draw in 0..99: a failing message is
// subject to the policy when it is below pct= (RFC 7489 6.6.4).
Evaluation evaluate(const Discovery& policy, const Identifiers& ids, std::uint32_t sample_percent);

std::string_view to_string(DmarcResult r);

}  // namespace tern::dmarc
