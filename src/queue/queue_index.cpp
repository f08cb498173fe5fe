#include "queue/queue_index.h"

#include <algorithm>

#include "base/ids.h"
#include "queue/queued_message.h"

namespace tern::queue {
namespace {

constexpr std::size_t kMaxHeaders = 64 * 1024;

std::string recipient_status(const DeliveryState& state, std::size_t i) {
  if (i < state.done.size() && state.done[i]) return i < state.failed.size() && state.failed[i] ? "failed" : "delivered";
  return i < state.replies.size() && !state.replies[i].text.empty() ? "deferred" : "pending";
}

}  // namespace

MessageInfo describe(const std::string& id, const proto::Envelope& envelope, std::uint64_t size,
                     const DeliveryState& state, std::string_view message_state) {
  MessageInfo info;
  info.id = id;
  info.arrival = queue_id_time(id);
  info.size = size;
  info.sender = envelope.reverse_path.null ? "" : envelope.reverse_path.mailbox.to_string();
  info.state = message_state;
  info.attempts = state.attempts;
  info.next_attempt = state.next_attempt;
  info.recipients.reserve(envelope.recipients.size());
  for (std::size_t i = 0; i < envelope.recipients.size(); ++i) {
    RecipientInfo r{envelope.recipients[i].mailbox.to_string(), recipient_status(state, i), {}};
    if (i < state.replies.size()) r.reply = state.replies[i].text;
    info.recipients.push_back(std::move(r));
  }
  return info;
}

void QueueIndex::put(MessageInfo info) {
  std::lock_guard lock(mutex_);
  auto id = info.id;
  messages_.insert_or_assign(std::move(id), std::move(info));
}

void QueueIndex::put_if_absent(MessageInfo info) {
  std::lock_guard lock(mutex_);
  auto id = info.id;
  messages_.try_emplace(std::move(id), std::move(info));
}

void QueueIndex::set_state(const std::string& id, std::string_view state, std::time_t next_attempt) {
  std::lock_guard lock(mutex_);
  auto found = messages_.find(id);
  if (found == messages_.end()) return;
  found->second.state = state;
  found->second.next_attempt = next_attempt;
}

void QueueIndex::erase(const std::string& id) {
  std::lock_guard lock(mutex_);
  messages_.erase(id);
}

std::optional<MessageInfo> QueueIndex::find(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto found = messages_.find(id);
  if (found == messages_.end()) return std::nullopt;
  return found->second;
}

std::vector<MessageInfo> QueueIndex::snapshot() const {
  std::vector<MessageInfo> out;
  {
    std::lock_guard lock(mutex_);
    out.reserve(messages_.size());
    for (const auto& [id, info] : messages_) out.push_back(info);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });  // by arrival
  return out;
}

void QueueIndex::note(RecentEvent event) {
  std::lock_guard lock(mutex_);
  recent_.push_front(std::move(event));
  if (recent_.size() > kRecent) recent_.pop_back();
}

std::vector<RecentEvent> QueueIndex::recent() const {
  std::lock_guard lock(mutex_);
  return {recent_.begin(), recent_.end()};
}

std::optional<std::time_t> QueueIndex::oldest_arrival() const {
  std::lock_guard lock(mutex_);
  std::optional<std::time_t> oldest;
  for (const auto& [id, info] : messages_) {
    if (!oldest || info.arrival < *oldest) oldest = info.arrival;
  }
  return oldest;
}

std::size_t QueueIndex::size() const {
  std::lock_guard lock(mutex_);
  return messages_.size();
}

bool valid_queue_id(std::string_view id) {
  return !id.empty() && id.size() <= 32 &&
         std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'); });
}

Result<MessageInfo> read_message_info(FileSystem& fs, const std::string& queue_dir, const std::string& id,
                                      std::time_t now) {
  auto message = load_queued(fs, id, queue_dir + "/active/" + id);
  if (!message) return message.error();
  auto text = read_file(fs, queue_dir + "/state/" + id);
  if (!text && !file_missing(text.error())) return text.error();
  auto state = parse_state(text ? *text : std::string(), message->envelope.recipients.size());
  auto kind = state.held ? "held" : state.next_attempt > now ? "deferred" : "active";
  return describe(id, message->envelope, message->size, state, kind);
}

Result<std::string> read_headers(FileSystem& fs, const std::string& queue_dir, const std::string& id) {
  auto message = load_queued(fs, id, queue_dir + "/active/" + id);
  if (!message) return message.error();
  std::string head(static_cast<std::size_t>(std::min<std::uint64_t>(message->size, kMaxHeaders)), '\0');
  std::size_t got = 0;
  while (got < head.size()) {
    auto n = fs.read_at(message->fd, message->offset + got, head.data() + got, head.size() - got);
    if (!n) return n.error();
    if (*n == 0) break;
    got += *n;
  }
  head.resize(got);
  for (std::string_view end : {"\r\n\r\n", "\n\n"}) {
    if (auto at = head.find(end); at != std::string::npos) return head.substr(0, at + end.size() / 2);
  }
  return head;
}

}  // namespace tern::queue
