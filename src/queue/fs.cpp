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

class PosixFs : public FileSystem {
 public:
  Result<int> create(const std::string& path) override {
    int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) return io_error("create", path, errno);
    return fd;
  }

  Result<int> truncate(const std::string& path) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) return io_error("open", path, errno);
    return fd;
  }

  Result<void> write(int fd, std::string_view data) override {
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


  Result<void> write_at(int fd, std::uint64_t offset, std::string_view data) override {
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

  void close(int fd) override { ::close(fd); }

  Result<void> rename(const std::string& from, const std::string& to) override {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return {};
    if (errno != EINVAL) return io_error("rename", from + " to " + to, errno);
    // A file system without RENAME_NOREPLACE: link(2) fails on an existing
    // name just the same.
    if (::link(from.c_str(), to.c_str()) != 0) return io_error("link", from + " to " + to, errno);
    ::unlink(from.c_str());
    return {};
  }

  Result<void> sync_filesystem(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_error("open dir", path, errno);
    int rc = ::syncfs(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return io_error("syncfs", path, err);
    return {};
  }

  void unlink(const std::string& path) override { ::unlink(path.c_str()); }
};

}  // namespace

FileSystem& posix_fs() {
  static PosixFs fs;
  return fs;
}

Result<std::vector<std::string>> list_dir(const std::string& path) {
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

bool make_dirs(const std::string& path) {
  for (std::size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos == path.size() || path[pos] == '/') {
      auto prefix = path.substr(0, pos);
      if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) return false;
    }
  }
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace tern::queue
