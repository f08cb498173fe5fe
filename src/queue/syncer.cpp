#include "queue/syncer.h"

#include <sys/stat.h>

namespace tern::queue {

Syncer::Syncer(std::string path, FileSystem& fs) : path_(std::move(path)), fs_(fs) {
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0) device_ = st.st_dev;
}

Result<void> Syncer::sync() {
  std::unique_lock lock(mutex_);
  // A sync already running may have started before our writes: we need the
  // next one.
  const std::uint64_t target = started_ + 1;
  while (finished_ < target) {
    if (running_) {
      done_.wait(lock);
      continue;
    }
    running_ = true;
    const std::uint64_t mine = ++started_;
    lock.unlock();
    auto result = fs_.sync_filesystem(path_);
    lock.lock();
    running_ = false;
    finished_ = mine;
    if (!result) {
      failed_ = mine;
      last_error_ = result.error();
    }
    done_.notify_all();
  }
  // The sync that served us is `target` (later ones also covered our writes,
  // but an error in any of them may concern them too: report it).
  if (failed_ >= target) return last_error_;
  return {};
}

}  // namespace tern::queue
