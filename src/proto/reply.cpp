#include "proto/reply.h"

#include <fmt/format.h>

namespace tern::proto {

std::string format_reply(int code, std::string_view enhanced, std::string_view text) {
  if (enhanced.empty()) return fmt::format("{} {}\r\n", code, text);
  return fmt::format("{} {} {}\r\n", code, enhanced, text);
}

std::string format_multiline(int code, const std::vector<std::string>& lines) {
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out += fmt::format("{}{}{}\r\n", code, i + 1 == lines.size() ? ' ' : '-', lines[i]);
  }
  return out;
}

}  // namespace tern::proto
