#pragma once
// Group sync for one file system: every thread that needs its writes durable
// calls sync(); one caller at a time runs syncfs(2) (FileSystem::
// sync_filesystem) and every caller that arrived before that run started is
// served by it. Receipt (the spool's commits) and delivery (Maildir batches)
// share one Syncer, so their syncs merge too.
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "base/result.h"
#include "queue/fs.h"

namespace tern::queue {

class Syncer {
 public:
  Syncer(std::string path, FileSystem& fs);

  // Returns once a sync that started after this call has finished: then
  // everything this thread wrote, created or renamed before is durable.
  Result<void> sync();

  // The file system this Syncer covers (st_dev of its path; 0 if unknown).
  std::uint64_t device() const { return device_; }

 private:
  Result<void> sync_once();

  std::string path_;
  FileSystem& fs_;
  std::uint64_t device_ = 0;
  std::mutex mutex_;
  std::condition_variable done_;
  bool running_ = false;
  std::uint64_t started_ = 0;    // syncs begun
  std::uint64_t finished_ = 0;   // syncs ended (they end in order)
  std::uint64_t failed_ = 0;     // the last sync that failed
  Error last_error_;
};

}  // namespace tern::queue
