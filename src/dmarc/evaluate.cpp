#include "dmarc/evaluate.h"

#include "dmarc/org_domain.h"

namespace tern::dmarc {
namespace {

// RFC 7489 6.6.4: a failing message that pct= leaves out gets the next
// lower policy: reject becomes quarantine, quarantine becomes none.
Policy next_lower(Policy p) {
  switch (p) {
    case Policy::kReject: return Policy::kQuarantine;
    case Policy::kQuarantine:
    case Policy::kNone: return Policy::kNone;
  }
  return Policy::kNone;
}

std::string_view domain_part(std::string_view identity) {
  auto at = identity.rfind('@');
  return at == std::string_view::npos ? identity : identity.substr(at + 1);
}

}  // namespace

Evaluation evaluate(const Discovery& policy, const Identifiers& ids, std::uint32_t sample_percent) {
  Evaluation out;
  out.from_domain = normalize_domain(ids.from_domain);
  switch (policy.status) {
    case DiscoveryStatus::kTempError:
      out.result = DmarcResult::kTempError;
      out.detail = policy.detail;
      return out;
    case DiscoveryStatus::kNone:
      out.detail = "no DMARC record";
      return out;
    case DiscoveryStatus::kNoPolicy:
      // 6.6.3 step 5/6.2: no DMARC processing, so no disposition; the
      // domain did publish something, so report it as broken (11.2
      // permerror) rather than as absent.
      out.result = DmarcResult::kPermError;
      out.detail = policy.detail;
      return out;
    case DiscoveryStatus::kFound:
      break;
  }
  const Record& record = policy.parsed.record;
  // RFC 7489 6.3: sp= is for subdomains, and is ignored in a record
  // published on the From domain itself.
  out.policy = policy.at_org_domain ? record.sp : record.p;

  // 4.2: pass when SPF or any DKIM signature passes for an aligned domain.
  out.spf_aligned = ids.spf.pass && aligned(out.from_domain, domain_part(ids.spf.domain), record.aspf);
  for (const auto& signature : ids.dkim) {
    if (signature.pass && aligned(out.from_domain, signature.d, record.adkim)) {
      out.dkim_aligned = true;
      out.dkim_domain = normalize_domain(signature.d);
      break;
    }
  }
  if (out.spf_aligned || out.dkim_aligned) {
    out.result = DmarcResult::kPass;
    return out;
  }
  out.result = DmarcResult::kFail;
  out.sampled = record.pct >= 100 || sample_percent < static_cast<std::uint32_t>(record.pct);
  out.disposition = out.sampled ? *out.policy : next_lower(*out.policy);
  out.detail = "no aligned SPF or DKIM pass";
  return out;
}

std::string_view to_string(DmarcResult r) {
  switch (r) {
    case DmarcResult::kNone: return "none";
    case DmarcResult::kPass: return "pass";
    case DmarcResult::kFail: return "fail";
    case DmarcResult::kTempError: return "temperror";
    case DmarcResult::kPermError: return "permerror";
  }
  return "none";
}

}  // namespace tern::dmarc
