#pragma once
// The durable spool: data_dir/queue/{tmp,active,state,dsn}. A message is written to a
// file in tmp/ while it arrives and renamed to active/<id> when it is made
// durable; active/ holds exactly the acknowledged, undelivered messages.
// Only then may the session answer 250 (DESIGN.md: a message is accepted only
// once it is durable).
//
// Files come from a FilePool (prepared ahead, spent ones reused).
//
// Group commit: commits from all sessions go to the committer thread, which
// takes every commit waiting, writes out what is buffered, makes the batch
// durable with one sync of the file system, renames the files into active/
// and syncs again so that the renames are durable too (see fs.h, syncer.h).
// One committer makes the largest batches: measured here with 20 senders,
// 1 committer took 1,750 msgs/s, 2 took 1,220, 4 took 950.
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/ids.h"
#include "base/result.h"
#include "proto/envelope.h"
#include "queue/file_pool.h"
#include "queue/fs.h"
#include "queue/syncer.h"

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
  // Header fields to deliver in front of the message, known only once it
  // is complete (Authentication-Results, DKIM-Signature: RFC 8601, RFC
  // 6376): complete fields with CRLF line ends, stored after the message
  // (the envelope's size field says where the message ends; a checksummed
  // footer closes them, envelope_file.h). After the last write(); once.
  Result<void> add_headers(std::string_view fields);

 private:
  friend class Spool;
  SpoolWriter(Spool& spool, std::string id, FilePool::File file)
      : spool_(spool), id_(std::move(id)), tmp_name_(std::move(file.name)), fd_(file.fd) {}
  Result<void> flush();
  // Writes out what is buffered and fills in the message's length.
  Result<void> finish();

  Spool& spool_;
  std::string id_;
  std::string tmp_name_;  // its file in tmp/ until committed
  int fd_;
  std::string pending_;
  std::uint64_t written_ = 0;      // octets given to write(), envelope included
  std::uint64_t header_size_ = 0;  // the envelope's octets
  std::uint64_t message_end_ = 0;  // written_ when add_headers() was first called
  std::uint64_t sync_failures_ = 0;  // Syncer::failures() when it began
  std::string held_for_;             // a DSN: the message it reports on
  bool committed_ = false;
};

class Spool {
 public:
  using CommitDone = std::function<void(Result<void>)>;

  explicit Spool(std::string queue_dir, FileSystem& fs = posix_fs(), const Clock& clock = system_clock());
  ~Spool();

  // Creates the directories, starts the file pool (which empties what a
  // crash left in tmp/) and the committers. Returns the ids in active/.
  // Only with data_dir locked (data_dir_lock.h). With no committer thread
  // (the simulator), commit_pending() does their work when called.
  // After a crash, writes the state files' records again first (settle()).
  Result<std::vector<std::string>> open(std::size_t committers = 1);
  // Stops the committers; when all this process wrote is durable, leaves
  // the mark of a clean stop for the next open().
  void stop();

  // A new queue id (base/ids.h), from this spool's clock.
  std::string new_id() { return ids_.next(); }
  FileSystem& fs() { return fs_; }
  const Clock& clock() const { return clock_; }

  // Starts a message: a file in tmp/ with the envelope at its head.
  Result<std::unique_ptr<SpoolWriter>> create(const std::string& id, const proto::Envelope& envelope);
  // Makes it durable in active/ and calls `done` on the committer thread.
  // On failure the files are removed and `done` gets the error (4xx).
  void commit(std::unique_ptr<SpoolWriter> writer, CommitDone done);
  // One round of the committer: commits every commit waiting, as one batch.
  // Returns false when none was waiting.
  bool commit_pending();
  // Commits on the calling thread (its sync still merges with the
  // committer's, syncer.h): for the queue's own messages, DSNs, whose
  // thread must not wait on another component. A DSN is held for the
  // message it reports on, in dsn/, out of the queue, until release().
  Result<void> commit_now(std::unique_ptr<SpoolWriter> writer, const std::string& held_for);
  // A held DSN joins the queue (its message has recorded it durably); the
  // next sync makes that durable.
  Result<void> release(const std::string& id, const std::string& held_for);

  const std::string& dir() const { return dir_; }
  std::string active_path(const std::string& id) const { return dir_ + "/active/" + id; }
  // Delivery state between attempts (delivery_state.h).
  std::string state_path(const std::string& id) const { return dir_ + "/state/" + id; }
  // The group sync for the queue's file system (valid after open()).
  Syncer& syncer() { return *syncer_; }
  // The message has been delivered to every recipient: it leaves the queue.
  void remove(const std::string& id);
  // A queue file that cannot be a message (corrupt, cut short) leaves
  // active/ for corrupt/, with its state file, for the administrator to
  // look at: tern never deletes what it acknowledged.
  Result<void> set_aside(const std::string& id);

 private:
  friend class SpoolWriter;
  struct PendingCommit {
    std::unique_ptr<SpoolWriter> writer;
    CommitDone done;
  };

  std::string tmp_path(const std::string& name) const { return dir_ + "/tmp/" + name; }
  std::string held_path(const std::string& id, const std::string& held_for) const {
    return dir_ + "/dsn/" + id + "." + held_for;
  }
  std::string committed_path(const SpoolWriter& w) const;
  Result<void> settle(const std::vector<std::string>& states);
  void mark_clean_stop();
  Result<void> recover_held(std::vector<std::string>& active);
  void run_committer();
  void commit_batch(std::vector<PendingCommit>& batch);

  std::string dir_;
  FileSystem& fs_;
  const Clock& clock_;
  QueueIds ids_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<PendingCommit> pending_;
  bool stopping_ = false;
  bool opened_ = false;  // open() succeeded, stop() not yet called
  std::vector<std::thread> committers_;
  FilePool files_;
  std::unique_ptr<Syncer> syncer_;
};

}  // namespace tern::queue
