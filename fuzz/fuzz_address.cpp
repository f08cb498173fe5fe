// Reverse- and forward-paths with and without SMTPUTF8 (RFC 5321 4.1.2).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proto/address.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool utf8 : {false, true}) {
    auto parsed = tern::proto::parse_path(text, {utf8, true, true});
    if (parsed) (void)tern::proto::unquote_local_part(parsed->path.mailbox.local_part);
  }
  return 0;
}
