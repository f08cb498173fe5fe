#include "queue/syncer.h"

namespace tern::queue {

Syncer::Syncer(std::string path, FileSystem& fs) : path_(std::move(path)), fs_(fs), device_(fs.device(path_)) {}

Syncer::~Syncer() {
  if (handle_ >= 0) fs_.close(handle_);
}

Result<void> Syncer::open() {
  auto handle = fs_.open_sync_handle(path_);
  if (!handle) return handle.error();
  handle_ = *handle;
  return {};
}

std::uint64_t Syncer::failures() {
  std::lock_guard lock(mutex_);
  return failures_;
}

std::uint64_t Syncer::started() {
  std::lock_guard lock(mutex_);
  return started_;
}

std::uint64_t Syncer::succeeded() {
  std::lock_guard lock(mutex_);
  return succeeded_;
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
    auto result = fs_.sync_filesystem(handle_);
    lock.lock();
    running_ = false;
    finished_ = mine;
    if (!result) {
      ++failures_;
      failed_ = mine;
      last_error_ = result.error();
    } else {
      succeeded_ = mine;
    }
    done_.notify_all();
  }
  // The sync that served us is `target` (later ones also covered our writes,
  // but an error in any of them may concern them too: report it).
  if (failed_ >= target) return last_error_;
  return {};
}

}  // namespace tern::queue
