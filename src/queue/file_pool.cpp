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

Result<void> FilePool::start(bool prepare_ahead, std::function<std::uint64_t()> synced) {
  synced_ = std::move(synced);
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

// The file is not reused before its move out of active/ is durable: after
// a power cut that lost the move, the old name would point at a new
// message's data (a message delivered under another's queue id).
void FilePool::recycle(const std::string& id, std::uint64_t durable_after) {
  auto active = dir_ + "/active/" + id;
  {
    std::lock_guard lock(mutex_);
    if (spares_.size() + cooling_.size() >= kMaxSpares) {
      fs_.unlink(active);
      return;
    }
  }
  if (!fs_.rename(active, dir_ + "/tmp/" + id) || !empty_file(id)) {
    fs_.unlink(active);
    return;
  }
  std::lock_guard lock(mutex_);
  cooling_.emplace_back(durable_after, id);
}

// Empties tmp/<name>: its blocks go back to the file system now, not when
// it is reused.
bool FilePool::empty_file(const std::string& name) {
  auto path = dir_ + "/tmp/" + name;
  auto fd = fs_.truncate(path);
  if (!fd) {
    fs_.unlink(path);
    return false;
  }
  fs_.close(*fd);
  return true;
}

void FilePool::add_spare(const std::string& name) {
  if (!empty_file(name)) return;
  std::lock_guard lock(mutex_);
  spares_.push_back(name);
  wake_.notify_one();
}

// Recycled files whose move is durable become spares. With mutex_ held.
void FilePool::promote_cooled() {
  auto synced = synced_ ? synced_() : 0;
  while (!cooling_.empty() && synced > cooling_.front().first) {
    spares_.push_back(std::move(cooling_.front().second));
    cooling_.pop_front();
  }
}

Result<FilePool::File> FilePool::prepare() {
  std::string spare;
  {
    std::lock_guard lock(mutex_);
    promote_cooled();
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
