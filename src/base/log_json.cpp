#include "base/log_json.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <vector>

namespace tern {
namespace {

// Length of the valid UTF-8 sequence at text[i], or 0.
std::size_t utf8_length(std::string_view text, std::size_t i) {
  auto c = static_cast<unsigned char>(text[i]);
  std::size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
  if (n == 0 || i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}


int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A value as log_value() wrote it, from `text[pos]`: plain up to a space,
// or quoted with \" \\ and \xNN. Moves `pos` past it.
std::string read_value(std::string_view text, std::size_t& pos) {
  std::string out;
  if (pos >= text.size() || text[pos] != '"') {
    auto end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    out = text.substr(pos, end - pos);
    pos = end;
    return out;
  }
  for (++pos; pos < text.size() && text[pos] != '"'; ++pos) {
    if (text[pos] == '\\' && pos + 1 < text.size()) {
      if (text[pos + 1] == 'x' && pos + 3 < text.size() && hex_digit(text[pos + 2]) >= 0 &&
          hex_digit(text[pos + 3]) >= 0) {
        out += static_cast<char>(hex_digit(text[pos + 2]) * 16 + hex_digit(text[pos + 3]));
        pos += 3;
      } else {
        out += text[++pos];
      }
    } else {
      out += text[pos];
    }
  }
  if (pos < text.size()) ++pos;  // the closing quote
  return out;
}

bool is_key(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\u{:04x}", c);
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (auto n = utf8_length(text, i)) {
      out.append(text.substr(i, n));
      i += n - 1;
    } else {
      out += "\\ufffd";  // not UTF-8: the byte cannot be carried as it is
    }
  }
  out += '"';
}

std::string json_log_fields(std::string_view message) {
  std::vector<std::pair<std::string, std::string>> fields;
  std::size_t pos = 0;
  bool structured = true;
  while (pos < message.size()) {
    auto eq = message.find('=', pos);
    auto space = message.find(' ', pos);
    if (eq == std::string_view::npos || (space != std::string_view::npos && space < eq) ||
        !is_key(message.substr(pos, eq - pos))) {
      structured = false;
      break;
    }
    auto key = std::string(message.substr(pos, eq - pos));
    pos = eq + 1;
    fields.emplace_back(std::move(key), read_value(message, pos));
    while (pos < message.size() && message[pos] == ' ') ++pos;
  }
  std::string out;
  if (!structured || fields.empty()) {
    out += "\"message\":";
    append_json_string(out, message);
    return out;
  }
  for (const auto& [key, value] : fields) {
    if (!out.empty()) out += ',';
    append_json_string(out, key);
    out += ':';
    append_json_string(out, value);
  }
  return out;
}

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  auto time = std::chrono::system_clock::to_time_t(msg.time);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count() % 1000;
  std::tm tm{};
  localtime_r(&time, &tm);
  auto level = spdlog::level::to_string_view(msg.level);
  std::string line = fmt::format("{{\"time\":\"{:%Y-%m-%dT%H:%M:%S}.{:03}\",\"level\":\"{}\",", tm, millis,
                                 std::string_view(level.data(), level.size()));
  line += json_log_fields(std::string_view(msg.payload.data(), msg.payload.size()));
  line += "}\n";
  dest.append(line.data(), line.data() + line.size());
}

}  // namespace tern
