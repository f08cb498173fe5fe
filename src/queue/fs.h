#pragma once
// The file-system seam: every durable operation of the queue goes through
// this interface so that tests can fail the Nth fsync or write and check that
// nothing acknowledged is lost (DESIGN.md, "Time, disk and network come in
// through seams"). The default implementation calls POSIX directly.
#include <string>
#include <string_view>

#include "base/result.h"

namespace tern::queue {

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual Result<int> create(const std::string& path) = 0;  // O_CREAT|O_EXCL|O_WRONLY
  virtual Result<void> write(int fd, std::string_view data) = 0;
  virtual Result<void> sync(int fd) = 0;  // fdatasync
  virtual void close(int fd) = 0;
  virtual Result<void> rename(const std::string& from, const std::string& to) = 0;
  virtual Result<void> sync_dir(const std::string& path) = 0;
  virtual void unlink(const std::string& path) = 0;
};

// The real thing. Errors map to SMTP replies: ENOSPC/EDQUOT → 452 4.3.1,
// anything else → 451 4.3.0; errno text goes to the log detail.
FileSystem& posix_fs();

// Creates a directory and its parents (mode 0700). Returns false on failure.
bool make_dirs(const std::string& path);

}  // namespace tern::queue
