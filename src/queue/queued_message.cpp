#include "queue/queued_message.h"

#include <fmt/format.h>

#include <set>
#include <utility>

#include "queue/envelope_file.h"

namespace tern::queue {
namespace {

constexpr std::size_t kMaxEnvelope = 1 << 20;
constexpr std::size_t kReadBlock = 16 * 1024;
// Header fields added at reception (SpoolWriter::add_headers): a few
// Authentication-Results and signatures, never this much.
constexpr std::uint64_t kMaxAddedHeaders = 1 << 20;
constexpr std::string_view kMissing = "Queue file missing";

Error unreadable(const Error& error) { return Error{451, "4.3.0", "Queue file unreadable", error.detail}; }

}  // namespace

bool queue_file_corrupt(const Error& error) { return error.text == kQueueFileCorrupt; }
bool queue_file_missing(const Error& error) { return error.text == kMissing; }

QueuedMessage::QueuedMessage(QueuedMessage&& other) noexcept
    : id(std::move(other.id)),
      fs(other.fs),
      fd(std::exchange(other.fd, -1)),
      offset(other.offset),
      size(other.size),
      added_headers(std::move(other.added_headers)),
      envelope(std::move(other.envelope)),
      maybe_delivered(other.maybe_delivered) {}

QueuedMessage::~QueuedMessage() {
  if (fd >= 0) fs->close(fd);
}

Result<QueuedMessage> load_queued(FileSystem& fs, const std::string& id, const std::string& path) {
  QueuedMessage message;
  message.id = id;
  message.fs = &fs;
  auto fd = fs.open_read(path);
  if (!fd && file_missing(fd.error())) return Error{451, "4.3.0", std::string(kMissing), fd.error().detail};
  if (!fd) return unreadable(fd.error());
  message.fd = *fd;
  std::string head;
  while (head.find("\n\n") == std::string::npos && head.size() < kMaxEnvelope) {
    auto used = head.size();
    head.resize(used + kReadBlock);
    auto n = fs.read_at(message.fd, used, head.data() + used, kReadBlock);
    if (!n) return unreadable(n.error());
    head.resize(used + *n);
    if (*n == 0) break;
  }
  auto parsed = parse_envelope(head);
  if (!parsed) return parsed.error();
  auto size = fs.size(message.fd);
  if (!size) return unreadable(size.error());
  auto file_size = *size;
  message.offset = parsed->header_size;
  auto stored = file_size - message.offset;
  message.size = parsed->message_size.value_or(stored);
  auto corrupt = [&](std::string why) { return Error{451, "4.3.0", std::string(kQueueFileCorrupt), path + ": " + why}; };
  if (message.size > stored) {
    return corrupt(fmt::format("{} octets of message, the envelope says {}", stored, message.size));
  }
  if (auto added = stored - message.size; added > 0) {
    if (added > kMaxAddedHeaders) return corrupt(fmt::format("{} octets after the message", added));
    std::string trailer(added, '\0');
    for (std::size_t got = 0; got < added;) {
      auto n = fs.read_at(message.fd, message.offset + message.size + got, trailer.data() + got, added - got);
      if (!n) return unreadable(n.error());
      if (*n == 0) return corrupt("added header fields cut short");
      got += *n;
    }
    auto fields = parse_added_headers(trailer);
    if (!fields) return corrupt(fmt::format("{} octets after the message that are no added header fields", added));
    message.added_headers = std::move(*fields);
  }
  message.envelope = std::move(parsed->envelope);
  return message;
}

DeliveryBatch::DeliveryBatch(FileSystem& fs, Syncer* shared)
    : fs_(fs), shared_(shared), failures_at_start_(shared ? shared->failures() : 0) {}

Result<void> DeliveryBatch::sync_directly(const std::string& dir) {
  auto handle = fs_.open_sync_handle(dir);
  if (!handle) return handle.error();
  auto synced = fs_.sync_filesystem(*handle);
  fs_.close(*handle);
  return synced;
}

Result<void> DeliveryBatch::sync_all() {
  Result<void> result;
  std::set<std::uint64_t> synced_devices;
  for (const auto& dir : dirs_) {
    auto device = fs_.device(dir);
    if (device != 0 && !synced_devices.insert(device).second) continue;
    bool shared = shared_ && shared_->device() != 0 && device == shared_->device();
    if (auto synced = shared ? shared_->sync() : sync_directly(dir); !synced) result = synced;
  }
  if (result && shared_ && shared_->failures() != failures_at_start_) {
    result = Error{451, "4.3.0", "Local error in processing", "a sync failed during the delivery batch"};
  }
  return result;
}

Result<void> DeliveryBatch::commit() {
  auto result = sync_all();
  if (result && !renames_.empty()) {
    for (const auto& [from, to] : renames_) {
      if (auto renamed = fs_.rename(from, to); !renamed) result = renamed;
    }
    if (auto synced = sync_all(); !synced && result) result = synced;
  }
  dirs_.clear();
  renames_.clear();
  return result;
}

}  // namespace tern::queue
