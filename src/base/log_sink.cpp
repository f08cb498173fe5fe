#include "base/log_sink.h"

#include <unistd.h>

#include <cerrno>

namespace tern {
namespace {

constexpr std::size_t kMaxBuffered = 1 << 20;  // past this, callers wait for the writer

}  // namespace

CoalescingSink::CoalescingSink(int fd) : fd_(fd), writer_([this] { run(); }) {}

CoalescingSink::~CoalescingSink() {
  {
    std::lock_guard lock(buffer_mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  writer_.join();
}

void CoalescingSink::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t formatted;
  formatter_->format(msg, formatted);
  std::unique_lock lock(buffer_mutex_);
  drained_.wait(lock, [this] { return buffer_.size() < kMaxBuffered; });
  buffer_.append(formatted.data(), formatted.size());
  lock.unlock();
  wake_.notify_one();
}

void CoalescingSink::flush_() {
  std::unique_lock lock(buffer_mutex_);
  drained_.wait(lock, [this] { return buffer_.empty() && !writing_; });
}

void CoalescingSink::run() {
  std::string batch;
  std::unique_lock lock(buffer_mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !buffer_.empty(); });
    if (buffer_.empty()) return;  // stopping, and everything is written
    batch.swap(buffer_);
    writing_ = true;
    lock.unlock();
    write_all(batch);
    batch.clear();
    lock.lock();
    writing_ = false;
    drained_.notify_all();
  }
}

void CoalescingSink::write_all(const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    auto n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to log to; nothing better to do
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace tern
