#pragma once
// Logging: one line per event, key=value, always with the session id and
// queue id where there is one. Example:
//   2026-11-25T12:00:00.123 info event=queued session=S000001 queue_id=... size=2048
#include <spdlog/spdlog.h>

#include <string_view>

namespace tern {

// Sets the global logger: lines to stderr at `level` (trace..critical, off),
// as text or one JSON object a line (log_json.h). Returns false when the
// level or format name is unknown.
bool setup_logging(std::string_view level, std::string_view format = "text");

// Values in key=value lines are quoted when they hold spaces, quotes or '='
// so that each line stays machine-readable.
std::string log_value(std::string_view value);

}  // namespace tern
