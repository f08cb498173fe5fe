#include "dns/records.h"

#include <algorithm>
#include <fmt/format.h>

#include "base/text.h"

namespace tern::dns {

bool parse_wire_name(std::string_view wire, std::string& out, std::size_t& consumed) {
  out.clear();
  std::size_t i = 0;
  while (i < wire.size()) {
    auto length = static_cast<unsigned char>(wire[i]);
    if (length == 0) {
      consumed = i + 1;
      return out.size() <= 253;
    }
    if (length > 63 || i + 1 + length > wire.size()) return false;  // no compression in rdata
    if (!out.empty()) out += '.';
    out += to_lower(wire.substr(i + 1, length));
    i += 1 + length;
  }
  return false;
}

bool parse_mx_rdata(std::string_view rdata, MxRecord& out) {
  if (rdata.size() < 3) return false;
  out.preference = static_cast<std::uint16_t>((static_cast<unsigned char>(rdata[0]) << 8) |
                                              static_cast<unsigned char>(rdata[1]));
  std::size_t consumed = 0;
  return parse_wire_name(rdata.substr(2), out.exchange, consumed) && consumed == rdata.size() - 2;
}

Result<Route> route_from_mx(std::string_view domain, const MxAnswer& answer, std::mt19937& random) {
  switch (answer.status) {
    case Status::kTempFail:
      return Error{451, "4.4.3", "Temporary DNS failure", fmt::format("MX {}: {}", domain, answer.detail)};
    case Status::kNxDomain:
      return Error{550, "5.1.2", "Domain does not exist", fmt::format("MX {}: NXDOMAIN", domain)};
    case Status::kNoData:
      return Route{{std::string(domain)}, true};
    case Status::kOk:
      break;
  }
  // RFC 7505 3: a null MX is the only MX, preference 0, exchange ".".
  bool null_mx = std::any_of(answer.records.begin(), answer.records.end(),
                             [](const MxRecord& r) { return r.exchange.empty(); });
  if (null_mx) {
    return Error{556, "5.1.10", "Domain does not accept mail", fmt::format("MX {}: null MX", domain)};
  }
  if (answer.records.empty()) return Route{{std::string(domain)}, true};
  auto records = answer.records;
  std::shuffle(records.begin(), records.end(), random);  // random within one preference...
  std::stable_sort(records.begin(), records.end(),        // ...once sorted by preference
                   [](const MxRecord& a, const MxRecord& b) { return a.preference < b.preference; });
  Route route;
  for (auto& r : records) {
    if (std::find(route.hosts.begin(), route.hosts.end(), r.exchange) == route.hosts.end()) {
      route.hosts.push_back(std::move(r.exchange));
    }
  }
  return route;
}

}  // namespace tern::dns

namespace tern::dns {

bool parse_txt_rdata(std::string_view rdata, std::string& out) {
  out.clear();
  std::size_t at = 0;
  if (rdata.empty()) return false;
  while (at < rdata.size()) {
    auto length = static_cast<unsigned char>(rdata[at]);
    if (at + 1 + length > rdata.size()) return false;
    out.append(rdata.substr(at + 1, length));
    at += 1 + length;
  }
  return true;
}

}  // namespace tern::dns
