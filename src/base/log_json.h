#pragma once
// log_format = "json": each log line one JSON object with the same fields
// as the text line, for log shippers (Loki, Elasticsearch, journald's JSON
// tooling). The text line "event=queued session=S1 from=\"<a b>\"" becomes
//   {"time":"2026-12-07T03:50:00.123","level":"info","event":"queued","session":"S1","from":"<a b>"}
// Values are always strings; what log_value() quoted or escaped is given
// back as it was, and then escaped as JSON (RFC 8259 7) so that every line
// stays valid UTF-8 JSON whatever bytes a client sent.
#include <spdlog/formatter.h>

#include <string>
#include <string_view>

namespace tern {

// `text` as a JSON string (RFC 8259 7): control characters as \u00XX,
// bytes that are not UTF-8 as U+FFFD.
void append_json_string(std::string& out, std::string_view text);

// The JSON object for one text message ("key=value ..."); text that is not
// in that form goes into "message".
std::string json_log_fields(std::string_view message);

class JsonLogFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonLogFormatter>(); }
};

}  // namespace tern
