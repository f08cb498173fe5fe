#include "base/log.h"

#include <unistd.h>

#include "base/log_json.h"
#include "base/log_sink.h"

namespace tern {

bool setup_logging(std::string_view level, std::string_view format) {
  auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") return false;
  if (format != "text" && format != "json") return false;
  auto logger = std::make_shared<spdlog::logger>("tern", std::make_shared<CoalescingSink>(STDERR_FILENO));
  if (format == "json") {
    logger->set_formatter(std::make_unique<JsonLogFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
  }
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::critical);
  spdlog::set_default_logger(logger);
  return true;
}

std::string log_value(std::string_view value) {
  bool plain = !value.empty();
  for (unsigned char c : value) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) plain = false;
  }
  if (plain) return std::string(value);
  std::string out = "\"";
  for (unsigned char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < ' ' || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace tern
