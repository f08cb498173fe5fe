#include "queue/fs.h"

#include <dirent.h>
#include <stdio.h>  // renameat2
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tern::queue {
namespace {

Error io_error(std::string_view what, const std::string& path, int err) {
  auto detail = fmt::format("{} {}: {}", what, path, std::strerror(err));
  if (err == ENOSPC || err == EDQUOT) {
    return Error{452, "4.3.1", "Insufficient system storage", std::move(detail)};
  }
  return Error{451, "4.3.0", "Local error in processing", std::move(detail)};
}

Result<int> open_file(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  if (errno == ENOENT && !(flags & O_CREAT)) {
    return Error{451, "4.3.0", std::string(kFileMissing), fmt::format("open {}: {}", path, std::strerror(errno))};
  }
  return io_error("open", path, errno);
}

}  // namespace

Result<int> PosixFs::create(const std::string& path) { return open_file(path, O_CREAT | O_EXCL | O_WRONLY); }
Result<int> PosixFs::truncate(const std::string& path) { return open_file(path, O_WRONLY | O_TRUNC); }
Result<int> PosixFs::open_append(const std::string& path) {
  return open_file(path, O_WRONLY | O_CREAT | O_APPEND);
}

Result<void> PosixFs::write(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write", fmt::format("fd {}", fd), errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<void> PosixFs::write_at(int fd, std::uint64_t offset, std::string_view data) {
  while (!data.empty()) {
    auto n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("pwrite", fmt::format("fd {}", fd), errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return {};
}

void PosixFs::close(int fd) { ::close(fd); }

Result<int> PosixFs::open_read(const std::string& path) { return open_file(path, O_RDONLY); }

Result<std::size_t> PosixFs::read_at(int fd, std::uint64_t offset, char* data, std::size_t size) {
  while (true) {
    auto n = ::pread(fd, data, size, static_cast<off_t>(offset));
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) return io_error("read", fmt::format("fd {}", fd), errno);
  }
}

Result<std::uint64_t> PosixFs::size(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error("stat", fmt::format("fd {}", fd), errno);
  return static_cast<std::uint64_t>(st.st_size);
}

Result<void> PosixFs::rename(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return {};
  if (errno != EINVAL) return io_error("rename", from + " to " + to, errno);
  // A file system without RENAME_NOREPLACE: link(2) fails on an existing
  // name just the same.
  if (::link(from.c_str(), to.c_str()) != 0) return io_error("link", from + " to " + to, errno);
  ::unlink(from.c_str());
  return {};
}

void PosixFs::unlink(const std::string& path) { ::unlink(path.c_str()); }

Result<std::vector<std::string>> PosixFs::list(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (!dir) return io_error("opendir", path, errno);
  std::vector<std::string> names;
  while (true) {
    errno = 0;
    auto* entry = ::readdir(dir);
    if (!entry) break;
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) return io_error("readdir", path, err);
  std::sort(names.begin(), names.end());
  return names;
}

Result<void> PosixFs::make_dirs(const std::string& path) {
  for (std::size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos == path.size() || path[pos] == '/') {
      auto prefix = path.substr(0, pos);
      if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) return io_error("mkdir", prefix, errno);
    }
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return io_error("stat", path, errno);
  if (!S_ISDIR(st.st_mode)) return io_error("mkdir", path, ENOTDIR);
  return {};
}

std::optional<std::uint64_t> PosixFs::file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(st.st_size);
}

std::uint64_t PosixFs::device(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_dev) : 0;
}

Result<int> PosixFs::open_sync_handle(const std::string& dir) { return open_file(dir, O_RDONLY | O_DIRECTORY); }

Result<void> PosixFs::sync_filesystem(int handle) {
  if (::syncfs(handle) != 0) return io_error("syncfs", fmt::format("fd {}", handle), errno);
  return {};
}

FileSystem& posix_fs() {
  static PosixFs fs;
  return fs;
}

Result<std::string> read_file(FileSystem& fs, const std::string& path) {
  auto fd = fs.open_read(path);
  if (!fd) return fd.error();
  std::string text;
  Result<void> result;
  while (true) {
    auto used = text.size();
    text.resize(used + 4096);
    auto n = fs.read_at(*fd, used, text.data() + used, 4096);
    if (!n) {
      result = n.error();
      break;
    }
    text.resize(used + *n);
    if (*n == 0) break;
  }
  fs.close(*fd);
  if (!result) return result.error();
  return text;
}

}  // namespace tern::queue
