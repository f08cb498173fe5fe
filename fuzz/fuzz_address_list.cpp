// Header address lists (RFC 5322 3.4, obsolete forms of 4.4), as `tern
// sendmail -t` reads To, Cc and Bcc. Besides crashes: every address found
// is non-empty, and the count limit holds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proto/address_list.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool local : {false, true}) {
    auto parsed = tern::proto::parse_address_list(text, {.allow_local_only = local, .max_addresses = 50});
    if (!parsed) continue;
    if (parsed->size() > 50) std::abort();
    for (const auto& a : *parsed) {
      if (a.local_part.empty() || (!local && a.domain.empty())) std::abort();
    }
  }
  return 0;
}
