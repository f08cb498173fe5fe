#include "dmarc/policy_lookup.h"

#include <string>
#include <utility>

#include "dmarc/org_domain.h"

namespace tern::dmarc {

boost::asio::awaitable<Discovery> lookup_policy(dns::Lookup& lookup, std::string from_domain) {
  std::string domain = normalize_domain(from_domain);
  dns::Answer answer = co_await lookup.lookup("_dmarc." + domain, dns::RecordType::kTxt);
  Discovery found = select_record(answer);
  found.domain = domain;
  // Steps 1-3: only an empty set (after discarding non-DMARC TXT records)
  // sends us to the organizational domain; a temporary failure is
  // temperror, not "none" (records.json temp-error).
  if (found.status != DiscoveryStatus::kNone) co_return found;
  std::string org = organizational_domain(domain);
  if (org == domain) co_return found;
  dns::Answer org_answer = co_await lookup.lookup("_dmarc." + org, dns::RecordType::kTxt);
  Discovery at_org = select_record(org_answer);
  at_org.domain = org;
  at_org.at_org_domain = true;
  co_return at_org;
}

}  // namespace tern::dmarc
