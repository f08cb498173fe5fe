#include "queue/file_pool.h"

#include <spdlog/spdlog.h>

#include "base/log.h"

namespace tern::queue {
namespace {

constexpr std::size_t kReady = 64;        // prepared files kept waiting
constexpr std::size_t kMaxSpares = 4096;  // empty files kept for reuse


}  // namespace

FilePool::FilePool(std::string queue_dir, FileSystem& fs, QueueIds& ids)
    : dir_(std::move(queue_dir)), fs_(fs), ids_(ids) {}

FilePool::~FilePool() { stop(); }

Result<void> FilePool::start(bool prepare_ahead) {
  auto names = fs_.list(dir_ + "/tmp");
  if (!names) return names.error();
  for (const auto& name : *names) {
    auto path = dir_ + "/tmp/" + name;
    if (fs_.file_size(path).value_or(0) > 0) spdlog::info("event=discard_partial path={}", log_value(path));
    add_spare(name);
  }
  if (prepare_ahead) preparer_ = std::thread([this] { run(); });
  return {};
}

void FilePool::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (preparer_.joinable()) preparer_.join();
  for (auto& file : ready_) fs_.close(file.fd);
  ready_.clear();
}

Result<FilePool::File> FilePool::take() {
  {
    std::lock_guard lock(mutex_);
    if (!ready_.empty()) {
      auto file = std::move(ready_.front());
      ready_.pop_front();
      wake_.notify_one();
      return file;
    }
  }
  wake_.notify_one();
  return prepare();
}

void FilePool::release(const std::string& name) { add_spare(name); }

void FilePool::recycle(const std::string& id) {
  auto active = dir_ + "/active/" + id;
  {
    std::lock_guard lock(mutex_);
    if (spares_.size() >= kMaxSpares) {
      fs_.unlink(active);
      return;
    }
  }
  if (!fs_.rename(active, dir_ + "/tmp/" + id)) {
    fs_.unlink(active);
    return;
  }
  add_spare(id);
}

// Empties tmp/<name> (its blocks go back to the file system now, not when it
// is reused) and lists it as a spare.
void FilePool::add_spare(const std::string& name) {
  auto path = dir_ + "/tmp/" + name;
  auto fd = fs_.truncate(path);
  if (!fd) {
    fs_.unlink(path);
    return;
  }
  fs_.close(*fd);
  std::lock_guard lock(mutex_);
  spares_.push_back(name);
  wake_.notify_one();
}

Result<FilePool::File> FilePool::prepare() {
  std::string spare;
  {
    std::lock_guard lock(mutex_);
    if (!spares_.empty()) {
      spare = std::move(spares_.back());
      spares_.pop_back();
    }
  }
  if (!spare.empty()) {
    if (auto fd = fs_.truncate(dir_ + "/tmp/" + spare)) return File{spare, *fd};
  }
  auto name = ids_.next();
  auto fd = fs_.create(dir_ + "/tmp/" + name);
  if (!fd) return fd.error();
  return File{name, *fd};
}

void FilePool::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || ready_.size() < kReady; });
    if (stopping_) return;
    lock.unlock();
    auto file = prepare();
    lock.lock();
    if (!file) {
      // Disk trouble: take() reports it to the session; try again later.
      wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
      continue;
    }
    ready_.push_back(std::move(file.value()));
  }
}

}  // namespace tern::queue
