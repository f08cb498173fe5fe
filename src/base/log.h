#pragma once
// Logging: one line per event, key=value, always with the session id and
// queue id where there is one. Example:
//   2026-11-25T12:00:00.123 info event=queued session=S000001 queue_id=... size=2048
#include <spdlog/spdlog.h>

#include <string_view>

namespace tern {

// Sets the global logger: lines to stderr at `level` (trace..critical, off).
// Returns false when the level name is unknown.
bool setup_logging(std::string_view level);

// Values in key=value lines are quoted when they hold spaces, quotes or '='
// so that each line stays machine-readable.
std::string log_value(std::string_view value);

}  // namespace tern
