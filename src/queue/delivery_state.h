#pragma once
// What the queue remembers about a message between delivery attempts:
// queue/state/<id>, one line per event, appended (the queue file itself is
// never rewritten):
//   done <recipient index>   the recipient has its final outcome (delivered,
//                            or failed and the sender notified)
//   attempt <unix time>      an attempt left some recipient deferred; the
//                            next one is due at that time (kept across restarts)
//   warned                   the delay DSN was sent (at most once)
// A missing file is a message never tried. Lines are written after the
// deliveries they record are durable; a lost line only means a recipient is
// tried again (local delivery finds its file, see delivery/maildir.h).
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "queue/fs.h"

namespace tern::queue {

struct DeliveryState {
  std::vector<bool> done;   // per recipient
  unsigned attempts = 0;    // attempts that left recipients deferred
  std::time_t next_attempt = 0;  // when the next attempt is due; 0: now
  bool delay_warned = false;

  std::vector<std::size_t> pending() const;
};

// `recipients`: how many the message has (done lines beyond are ignored;
// 0 reads the schedule alone).
DeliveryState load_state(FileSystem& fs, const std::string& path, std::size_t recipients);
DeliveryState parse_state(std::string_view text, std::size_t recipients);
Result<void> append_state(FileSystem& fs, const std::string& path, const std::string& lines);

}  // namespace tern::queue
