#pragma once
// Group sync for one file system: every thread that needs its writes durable
// calls sync(); one caller at a time runs syncfs(2) (FileSystem::
// sync_filesystem) and every caller that arrived before that run started is
// served by it. Receipt (the spool's commits) and delivery (Maildir batches)
// share one Syncer, so their syncs merge too.
//
// Writeback errors. The kernel records a failed writeback in the file
// system's error sequence (errseq_t) and reports it once to each open file
// description, to the first sync that looks; the dirty pages that failed
// are dropped, so a second sync says "ok" while the data is not on disk
// (PostgreSQL's "fsyncgate", 2018). So the Syncer keeps one descriptor open
// for its whole life (one opened per sync would not hear of an error that
// another program saw first), counts the syncs that failed, and lets each
// writer compare that count from the moment it began writing to the end:
// any failure in between, whoever it was reported to, means the writer's
// data may be gone, and it must fail with a 4xx (never retry the sync).
// syncfs reports writeback errors since Linux 5.8.
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
  ~Syncer();
  Syncer(const Syncer&) = delete;
  Syncer& operator=(const Syncer&) = delete;

  // Opens the descriptor it syncs through (before any data is written).
  Result<void> open();

  // Returns once a sync that started after this call has finished: then
  // everything this thread wrote, created or renamed before is durable.
  Result<void> sync();

  // How many syncs have failed so far: sample it before writing, compare
  // after the sync.
  std::uint64_t failures();
  // Syncs are numbered from 1. started(): the number of the last one begun.
  // A change made now is durable once succeeded(), the last one to finish
  // without error, is above what started() says now.
  std::uint64_t started();
  std::uint64_t succeeded();

  // The file system this Syncer covers (st_dev of its path; 0 if unknown).
  std::uint64_t device() const { return device_; }

 private:
  std::string path_;
  FileSystem& fs_;
  std::uint64_t device_ = 0;
  int handle_ = -1;
  std::mutex mutex_;
  std::condition_variable done_;
  bool running_ = false;
  std::uint64_t started_ = 0;    // syncs begun
  std::uint64_t finished_ = 0;   // syncs ended (they end in order)
  std::uint64_t failed_ = 0;     // the last sync that failed
  std::uint64_t failures_ = 0;   // syncs that failed
  std::uint64_t succeeded_ = 0;  // the last sync that did not
  Error last_error_;
};

}  // namespace tern::queue
