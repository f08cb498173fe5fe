#pragma once
// The durable spool: data_dir/queue/{tmp,active}. A message is written to
// tmp/<id> while it arrives and moved to active/<id> when it is made durable.
// Only then may the session answer 250 (DESIGN.md: a message is accepted only
// once it is durable).
//
// Group commit: commits from all sessions go to a few committer threads;
// each takes every commit waiting, fdatasyncs each file, renames them all
// into active/ and fsyncs the directory once for the whole batch. Several
// committers keep several fsyncs in flight, which disks serve in parallel.
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "proto/envelope.h"
#include "queue/fs.h"

namespace tern::queue {

class Spool;

// One message being received; owned by one session at a time.
class SpoolWriter {
 public:
  ~SpoolWriter();
  SpoolWriter(const SpoolWriter&) = delete;
  SpoolWriter& operator=(const SpoolWriter&) = delete;

  const std::string& id() const { return id_; }
  // Buffered: small pieces are gathered and written in larger blocks.
  Result<void> write(std::string_view data);

 private:
  friend class Spool;
  SpoolWriter(Spool& spool, std::string id, int fd) : spool_(spool), id_(std::move(id)), fd_(fd) {}
  Result<void> flush();

  Spool& spool_;
  std::string id_;
  int fd_;
  std::string pending_;
  bool committed_ = false;
};

class Spool {
 public:
  using CommitDone = std::function<void(Result<void>)>;

  explicit Spool(std::string queue_dir, FileSystem& fs = posix_fs());
  ~Spool();

  // Creates the directories, removes half-written files from tmp/ and
  // starts the committers. Returns the ids in active/ (to be delivered).
  Result<std::vector<std::string>> open(std::size_t committers = 4);
  void stop();

  // Starts a message: tmp/<id> with the envelope written at its head.
  Result<std::unique_ptr<SpoolWriter>> create(const std::string& id, const proto::Envelope& envelope);
  // Makes it durable in active/ and calls `done` on the committer thread.
  // On failure the files are removed and `done` gets the error (4xx).
  void commit(std::unique_ptr<SpoolWriter> writer, CommitDone done);

  std::string active_path(const std::string& id) const { return dir_ + "/active/" + id; }
  // The message has been delivered to every recipient: it leaves the queue.
  void remove(const std::string& id);

 private:
  friend class SpoolWriter;
  struct PendingCommit {
    std::unique_ptr<SpoolWriter> writer;
    CommitDone done;
  };

  std::string tmp_path(const std::string& id) const { return dir_ + "/tmp/" + id; }
  void run_committer();
  void commit_batch(std::vector<PendingCommit>& batch);

  std::string dir_;
  FileSystem& fs_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<PendingCommit> pending_;
  bool stopping_ = false;
  std::vector<std::thread> committers_;
};

}  // namespace tern::queue
