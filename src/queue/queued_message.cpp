#include "queue/queued_message.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "queue/envelope_file.h"

namespace tern::queue {
namespace {

constexpr std::size_t kMaxEnvelope = 1 << 20;
constexpr std::size_t kReadBlock = 16 * 1024;
constexpr std::string_view kMissing = "Queue file missing";

Error unreadable(const std::string& what, const std::string& path, int err) {
  return Error{451, "4.3.0", "Queue file unreadable", what + " " + path + ": " + std::strerror(err)};
}

}  // namespace

bool queue_file_corrupt(const Error& error) { return error.text == kQueueFileCorrupt; }
bool queue_file_missing(const Error& error) { return error.text == kMissing; }

QueuedMessage::QueuedMessage(QueuedMessage&& other) noexcept
    : id(std::move(other.id)),
      fd(std::exchange(other.fd, -1)),
      offset(other.offset),
      size(other.size),
      envelope(std::move(other.envelope)),
      maybe_delivered(other.maybe_delivered) {}

QueuedMessage::~QueuedMessage() {
  if (fd >= 0) ::close(fd);
}

Result<QueuedMessage> load_queued(const std::string& id, const std::string& path) {
  QueuedMessage message;
  message.id = id;
  message.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (message.fd < 0 && errno == ENOENT) {
    return Error{451, "4.3.0", std::string(kMissing), "open " + path + ": " + std::strerror(errno)};
  }
  if (message.fd < 0) return unreadable("open", path, errno);
  std::string head;
  while (head.find("\n\n") == std::string::npos && head.size() < kMaxEnvelope) {
    auto used = head.size();
    head.resize(used + kReadBlock);
    auto n = ::pread(message.fd, head.data() + used, kReadBlock, static_cast<off_t>(used));
    if (n < 0) return unreadable("read", path, errno);
    head.resize(used + static_cast<std::size_t>(n));
    if (n == 0) break;
  }
  auto parsed = parse_envelope(head);
  if (!parsed) return parsed.error();
  struct stat st {};
  if (::fstat(message.fd, &st) != 0) return unreadable("stat", path, errno);
  auto file_size = static_cast<std::uint64_t>(st.st_size);
  message.offset = parsed->header_size;
  message.size = file_size - message.offset;
  if (parsed->message_size && *parsed->message_size != message.size) {
    return Error{451, "4.3.0", std::string(kQueueFileCorrupt),
                 fmt::format("{}: {} octets of message, the envelope says {}", path, message.size, *parsed->message_size)};
  }
  message.envelope = std::move(parsed->envelope);
  return message;
}

Result<void> DeliveryBatch::commit() {
  Result<void> result;
  std::set<dev_t> synced_devices;
  for (const auto& dir : dirs_) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && !synced_devices.insert(st.st_dev).second) continue;
    bool shared = shared_ && shared_->device() != 0 && st.st_dev == shared_->device();
    if (auto synced = shared ? shared_->sync() : fs_.sync_filesystem(dir); !synced) result = synced;
  }
  dirs_.clear();
  return result;
}

}  // namespace tern::queue
