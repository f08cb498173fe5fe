#include "queue/data_dir_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "base/text.h"
#include "queue/fs.h"

namespace tern::queue {
namespace {

Error lock_error(std::string detail) { return Error{451, "4.3.0", "Queue unavailable", std::move(detail)}; }

// The pid the holder wrote, for the message; empty when unknown.
std::string holder_pid(int fd) {
  char text[32] = {};
  auto n = ::pread(fd, text, sizeof text - 1, 0);
  if (n <= 0) return "";
  std::string_view pid(text, static_cast<std::size_t>(n));
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.remove_suffix(1);
  return parse_decimal(pid) ? std::string(pid) : "";
}

}  // namespace

Result<DataDirLock> DataDirLock::acquire(const std::string& data_dir) {
  if (auto made = posix_fs().make_dirs(data_dir); !made) {
    return lock_error(fmt::format("cannot create data_dir: {}", made.error().detail));
  }
  auto path = data_dir + "/lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return lock_error(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    auto pid = holder_pid(fd);
    ::close(fd);
    if (err != EWOULDBLOCK) return lock_error(fmt::format("cannot lock {}: {}", path, std::strerror(err)));
    return lock_error(fmt::format("data_dir {} is in use by another tern process{}: the mail system is already running",
                                  data_dir, pid.empty() ? "" : " (pid " + pid + ")"));
  }
  auto pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // Only the message to a second process suffers; the lock holds.
  }
  return DataDirLock(fd);
}

DataDirLock::DataDirLock(DataDirLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace tern::queue
