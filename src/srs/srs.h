#pragma once
// The Sender Rewriting Scheme (Shevek, "The Sender Rewriting Scheme", 2004),
// compatible with libsrs2 and postsrsd: mail forwarded to another domain gets
// a reverse-path at tern's SRS domain, so SPF at the next hop checks tern, not
// the original sender's domain; bounces to that address are reversed to the
// original sender, and forged or expired SRS addresses are refused, so tern is
// no open relay for bounces.
//
//   SRS0=HHHH=TT=orig-domain=orig-local@srs-domain
//   SRS1=HHHH=first-forwarder==HHHH=TT=orig-domain=orig-local@srs-domain
//
// Pure functions: no I/O, no exceptions for bad input, linear work.
#include <chrono>
#include <ctime>
#include <string>
#include <string_view>

#include "base/result.h"

namespace tern::srs {

struct Srs {
  std::string secret;  // the HMAC-SHA1 key; whoever knows it can forge bounces
  std::string domain;  // where rewritten addresses live
  // libsrs2's default. Used in whole days (the timestamp's unit); timestamps
  // wrap after 1024 days, so an age that long accepts any timestamp.
  std::chrono::seconds max_age{21 * 86400};
};

// The reverse-path to use when forwarding mail from `sender` ("local@domain",
// the local part as written, quotes kept): SRS0 for an ordinary address, SRS1
// for an SRS0/SRS1 address of another forwarder. `sender` comes back
// unchanged when empty (the null reverse-path), already at `srs.domain`, or
// not encodable (no "@", an empty local part or domain, a domain holding "=").
std::string forward(const Srs& srs, std::string_view sender, std::time_t now);

// The original sender of an SRS address ("local@domain" or a bare local
// part; the domain is not looked at: callers reverse only addresses at their
// SRS domain). SRS0 gives the original sender, SRS1 the SRS0 address at the
// first forwarder. Errors: 550 5.1.1 for anything but a valid address of
// ours (also when not SRS at all: test is_srs() first), 550 5.1.6 expired.
Result<std::string> reverse(const Srs& srs, std::string_view address, std::time_t now);

// True when `local_part` (quoted or not) starts as an SRS0 or SRS1 address:
// the tag in any case, then "=", "+" or "-".
bool is_srs(std::string_view local_part);

}  // namespace tern::srs
