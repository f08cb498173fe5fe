#pragma once
// A log sink for stderr that never makes the caller wait for write(2):
// lines are appended to a buffer, and a writer thread writes whatever has
// gathered in one call. Idle, a line is written at once; under load, many
// lines share one write (at thousands of messages a second and several
// lines each, one write per line was a fifth of the network thread's
// system calls). Lines still buffered when the process is killed are lost;
// a clean stop (flush or destruction) writes them all.
#include <spdlog/sinks/base_sink.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace tern {

class CoalescingSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit CoalescingSink(int fd);
  ~CoalescingSink() override;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  void run();
  void write_all(const std::string& data);

  int fd_;
  std::mutex buffer_mutex_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::string buffer_;
  bool writing_ = false;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace tern
