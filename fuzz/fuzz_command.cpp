// Command lines (RFC 5321 4.1.1).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proto/command.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)tern::proto::parse_command_line(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
