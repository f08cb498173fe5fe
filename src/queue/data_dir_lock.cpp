#include "queue/data_dir_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
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

// data_dir and the folders above it, when tern makes them, are 0755
// whatever the umask: local users pass through data_dir to maildrop/ (tern
// sendmail, app/pickup.h). What is inside (queue/, mail/) is 0700.
Result<void> make_data_dir(const std::string& path) {
  for (std::size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    auto prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0755) == 0) {
      ::chmod(prefix.c_str(), 0755);
    } else if (errno != EEXIST) {
      return Error{451, "4.3.0", "", fmt::format("mkdir {}: {}", prefix, std::strerror(errno))};
    }
  }
  return posix_fs().make_dirs(path);  // checks that it is a directory
}

}  // namespace

Result<DataDirLock> DataDirLock::acquire(const std::string& data_dir) {
  if (auto made = make_data_dir(data_dir); !made) {
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
