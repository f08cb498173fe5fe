#pragma once
// Identifiers that appear in replies and logs: queue ids and session ids.
#include <ctime>
#include <string>
#include <string_view>

namespace tern {

// A queue id is unique across restarts on one host: microseconds since the
// epoch followed by a per-process counter, in base 36, fixed width (15 chars)
// so that ids sort by time of creation.
std::string make_queue_id();

// When the message with this queue id arrived (to the second); 0 when `id`
// is not a queue id. The queue needs it for the retry schedule and DSNs.
std::time_t queue_id_time(std::string_view id);

// A session id is unique within one process run; it ties log lines together.
std::string make_session_id();

}  // namespace tern
