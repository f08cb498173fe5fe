#pragma once
// One tern per data_dir. A second process on the same queue would empty the
// first one's tmp/ (messages being received) and deliver from its active/
// beside it: mail acknowledged by the first would be lost. So every program
// that touches the queue first takes an exclusive flock(2) on
// data_dir/lock, as Postfix's master takes master.lock ("the mail system is
// already running"). The kernel drops the lock when the process ends, even by
// kill -9: a lock file left behind never blocks the next start.
#include <string>

#include "base/result.h"

namespace tern::queue {

class DataDirLock {
 public:
  // Creates data_dir if needed, then locks it; the error names the process
  // that holds it.
  static Result<DataDirLock> acquire(const std::string& data_dir);

  DataDirLock(DataDirLock&& other) noexcept;
  DataDirLock& operator=(DataDirLock&&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace tern::queue
