#pragma once
// The address lists of header fields (RFC 5322 3.4: To, Cc, Bcc, ...), with
// the obsolete forms a reader must accept (RFC 5322 4.4: empty list
// elements, routes, phrases with dots, CFWS around the dots of a local part)
// and UTF-8 (RFC 6532 3.2). `tern sendmail -t` takes its recipients from
// them. The input is the field body after the colon, folded or not.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace tern::proto {

struct HeaderAddress {
  std::string display_name;  // the phrase, quotes removed, words joined by one space
  std::string local_part;    // as written (a quoted string keeps its quotes), CFWS removed
  std::string domain;        // as written ("[...]" literals kept); empty: no "@domain"
  std::string group;         // the display name of the group it is in, if any

  // "local@domain", or the bare local part when there is no domain.
  std::string address() const { return domain.empty() ? local_part : local_part + "@" + domain; }
};

struct AddressListOptions {
  // Accept "root" (no "@domain"), as sendmail does for local users; the
  // caller qualifies it. RFC 5322 itself requires the domain.
  bool allow_local_only = false;
  std::size_t max_addresses = 1000;  // more is an error
};

// Errors: 501 5.1.3 with the reason in `detail` (it names no input bytes).
Result<std::vector<HeaderAddress>> parse_address_list(std::string_view field_body,
                                                      AddressListOptions options = {});

}  // namespace tern::proto
