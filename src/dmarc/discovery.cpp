#include "dmarc/discovery.h"

#include <utility>

namespace tern::dmarc {

Discovery select_record(const dns::Answer& answer) {
  Discovery out;
  switch (answer.status) {
    case dns::Status::kTempFail:
      out.status = DiscoveryStatus::kTempError;
      out.detail = "temporary DNS failure: " + answer.detail;
      return out;
    case dns::Status::kNoData:
    case dns::Status::kNxDomain:
      out.detail = "no DMARC record";
      return out;
    case dns::Status::kOk:
      break;
  }
  // Steps 2/4: TXT records that are not DMARC records are discarded
  // before counting, so a site verification token beside the record is
  // harmless.
  std::size_t count = 0;
  for (const auto& text : answer.texts) {
    ParsedRecord parsed = parse_record(text);
    if (parsed.outcome == RecordOutcome::kNotDmarc) continue;
    if (++count == 1) {
      out.parsed = std::move(parsed);
      out.text = text;
    }
  }
  if (count == 0) {
    out.detail = "no DMARC record";
    return out;
  }
  if (count > 1) {
    // Step 5: several records are no record to apply, and no fall back
    // to the organizational domain either (the set was not empty).
    out.status = DiscoveryStatus::kNoPolicy;
    out.parsed = {};
    out.text.clear();
    out.detail = "several DMARC records";
    return out;
  }
  out.status = out.parsed.usable() ? DiscoveryStatus::kFound : DiscoveryStatus::kNoPolicy;
  out.detail = out.parsed.detail;
  return out;
}

std::string_view to_string(DiscoveryStatus s) {
  switch (s) {
    case DiscoveryStatus::kFound: return "found";
    case DiscoveryStatus::kNone: return "none";
    case DiscoveryStatus::kNoPolicy: return "no_policy";
    case DiscoveryStatus::kTempError: return "temperror";
  }
  return "none";
}

}  // namespace tern::dmarc
