#pragma once
// DMARC policy discovery over DNS (RFC 7489 6.6.3): _dmarc.<From domain>,
// then _dmarc.<organizational domain> when the first has no DMARC record.
#include <boost/asio/awaitable.hpp>
#include <string>

#include "dmarc/discovery.h"
#include "dns/lookup.h"

namespace tern::dmarc {

// `from_domain` is the RFC5322.From domain (from_header.h), taken by value
// because the coroutine starts after the call returns. At most two TXT
// queries. Never throws.
boost::asio::awaitable<Discovery> lookup_policy(dns::Lookup& lookup, std::string from_domain);

}  // namespace tern::dmarc
