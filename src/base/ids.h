#pragma once
// Identifiers that appear in replies and logs: queue ids and session ids.
#include <atomic>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "base/clock.h"

namespace tern {

// A queue id is unique across restarts on one host: microseconds since the
// epoch followed by a per-process counter, in base 36, fixed width (15 chars)
// so that ids sort by time of creation.
std::string make_queue_id();
// The same from a given time; `sequence` tells apart ids of one microsecond.
std::string make_queue_id(TimePoint now, std::uint64_t sequence);

// Queue ids from one clock (the simulator's, in a simulation).
class QueueIds {
 public:
  explicit QueueIds(const Clock& clock) : clock_(clock) {}
  std::string next() { return make_queue_id(clock_.now(), sequence_.fetch_add(1)); }

 private:
  const Clock& clock_;
  std::atomic<std::uint64_t> sequence_{0};
};

// When the message with this queue id arrived (to the second); 0 when `id`
// is not a queue id. The queue needs it for the retry schedule and DSNs.
std::time_t queue_id_time(std::string_view id);

// A session id is unique within one process run; it ties log lines together.
std::string make_session_id();

}  // namespace tern
