#pragma once
// DNS answers as the mail router needs them, and the routing rules of
// RFC 5321 5.1 (MX, implicit MX) and RFC 7505 (null MX). Pure: the resolver
// (resolver.h) fills these in; tests build them by hand.
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace tern::dns {

enum class Status {
  kOk,        // data present
  kNoData,    // the name exists, no records of this type
  kNxDomain,  // the name does not exist (permanent)
  kTempFail,  // SERVFAIL, timeout, bogus: try again later
};

struct MxRecord {
  std::uint16_t preference = 0;
  std::string exchange;  // lower case, no trailing dot; "" for the null MX "."
};

struct MxAnswer {
  Status status = Status::kTempFail;
  std::vector<MxRecord> records;
  std::string detail;  // for the log
};

// Reads MX rdata in wire format (RFC 1035 3.3.9: 16-bit preference, then an
// uncompressed domain name). Returns false when malformed.
bool parse_mx_rdata(std::string_view rdata, MxRecord& out);

// TXT rdata (RFC 1035 3.3.14: one or more length-prefixed
// character-strings) as one string, the pieces joined with nothing between
// them. Returns false when malformed.
bool parse_txt_rdata(std::string_view rdata, std::string& out);

// A wire-format domain name (length-prefixed labels) as text, lower case,
// without the trailing dot; the root is "". Returns false when malformed.
bool parse_wire_name(std::string_view wire, std::string& out, std::size_t& consumed);

// The hosts to try for a domain, in order, or why there are none.
struct Route {
  std::vector<std::string> hosts;  // most preferred first
  bool implicit = false;           // no MX: the domain itself (RFC 5321 5.1)
};

// RFC 5321 5.1: MX hosts by preference, in random order within one
// preference; no MX records → the domain itself; RFC 7505: a single MX with
// the root as exchange means the domain takes no mail (556 5.1.10);
// NXDOMAIN → 550 5.1.2; temporary failure → 451 4.4.3.
Result<Route> route_from_mx(std::string_view domain, const MxAnswer& answer, std::mt19937& random);

}  // namespace tern::dns
