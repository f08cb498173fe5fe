#pragma once
// What `tern queue` shows of each queued message. The running server keeps
// it in memory as the scheduler goes (QueueIndex), so that listing 100,000
// messages reads no file and holds no lock the deliveries wait on for long;
// with no server running, read_message_info() reads it from the files.
#include <cstdint>
#include <ctime>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "proto/envelope.h"
#include "queue/delivery_state.h"
#include "queue/fs.h"

namespace tern::queue {

struct RecipientInfo {
  std::string address;
  // "pending" (not tried yet), "deferred", "delivered" or "failed".
  std::string status;
  std::string reply;  // the last one, for "deferred" and "failed"
};

struct MessageInfo {
  std::string id;
  std::time_t arrival = 0;
  std::uint64_t size = 0;  // the message's octets
  std::string sender;      // "" for <>
  // "active" (due or being delivered), "deferred" or "held".
  std::string state;
  unsigned attempts = 0;
  std::time_t next_attempt = 0;  // 0: none planned
  std::vector<RecipientInfo> recipients;
};

// What a command of `tern queue` did, per queue id.
struct Acted {
  std::vector<std::string> done;
  std::vector<std::string> errors;  // "<id>: <why>"
};

MessageInfo describe(const std::string& id, const proto::Envelope& envelope, std::uint64_t size,
                     const DeliveryState& state, std::string_view message_state);

// A recipient's delivery that failed, for the dashboard's latest list.
struct RecentEvent {
  std::time_t time = 0;
  std::string id, recipient;
  std::string outcome;  // "deferred", "failed" or "expired"
  std::string reply;
};

class QueueIndex {
 public:
  // The last kRecent deferrals and failures, newest first.
  static constexpr std::size_t kRecent = 50;
  void note(RecentEvent event);
  std::vector<RecentEvent> recent() const;

  void put(MessageInfo info);
  // Only when no newer description is there (warming up after a start).
  void put_if_absent(MessageInfo info);
  void set_state(const std::string& id, std::string_view state, std::time_t next_attempt);
  void erase(const std::string& id);
  std::optional<MessageInfo> find(const std::string& id) const;
  std::vector<MessageInfo> snapshot() const;
  std::size_t size() const;
  std::optional<std::time_t> oldest_arrival() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, MessageInfo> messages_;
  std::deque<RecentEvent> recent_;
};

// A queue id as tern makes them (base/ids.h): what is not one never becomes
// a path.
bool valid_queue_id(std::string_view id);

// From the spool's files (`queue_dir`: data_dir/queue). `now` decides
// between "deferred" and "active".
Result<MessageInfo> read_message_info(FileSystem& fs, const std::string& queue_dir, const std::string& id,
                                      std::time_t now);
// The header section of a queued message (at most 64 KiB of it).
Result<std::string> read_headers(FileSystem& fs, const std::string& queue_dir, const std::string& id);

}  // namespace tern::queue
