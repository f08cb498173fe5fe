#pragma once
// Files for the spool, made ready before they are needed.
//
// Creating and deleting an inode per message is what costs most in the
// kernel (ext4's inode allocator skips inodes freed in the last seconds, and
// at thousands of messages a second walks through thousands of them), and
// a create that waits on a directory lock stalls every session on the
// network thread. So a delivered message's file is emptied and kept in tmp/
// as a spare, and a preparer thread keeps spare files open and waiting:
// taking one costs the network thread no system call.
//
// Everything in tmp/ is a spare or a message being received; nothing there
// was acknowledged. At start, spares left with content (messages cut off by
// a crash) are emptied.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/ids.h"
#include "base/result.h"
#include "queue/fs.h"

namespace tern::queue {

class FilePool {
 public:
  struct File {
    std::string name;  // in tmp/
    int fd = -1;       // open for writing, empty
  };

  FilePool(std::string queue_dir, FileSystem& fs, QueueIds& ids);
  ~FilePool();

  // Empties what a crash left in tmp/, and starts the preparer thread
  // (without it, take() prepares each file when asked). `synced` tells the
  // last sync of the file system that succeeded (Syncer::succeeded).
  Result<void> start(bool prepare_ahead, std::function<std::uint64_t()> synced);
  void stop();

  // A prepared file, or one made now when none is ready.
  Result<File> take();
  // A file taken and not committed (the message was refused) is a spare again.
  void release(const std::string& name);
  // A delivered message's file (active/<id>) becomes a spare once a sync
  // numbered above `durable_after` has succeeded, or is deleted when there
  // are enough.
  void recycle(const std::string& id, std::uint64_t durable_after);

 private:
  Result<File> prepare();
  void add_spare(const std::string& name);
  bool empty_file(const std::string& name);
  void promote_cooled();
  void run();

  std::string dir_;
  FileSystem& fs_;
  QueueIds& ids_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<File> ready_;
  std::vector<std::string> spares_;  // empty files in tmp/, not open
  // Recycled files waiting for their move to be durable: sync number, name.
  std::deque<std::pair<std::uint64_t, std::string>> cooling_;
  std::function<std::uint64_t()> synced_;
  bool stopping_ = false;
  std::thread preparer_;
};

}  // namespace tern::queue
