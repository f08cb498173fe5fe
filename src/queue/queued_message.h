#pragma once
// A message in active/, opened for delivery: its envelope, and the open
// queue file from which delivery agents read the message.
#include <cstdint>
#include <set>
#include <string>

#include "base/result.h"
#include "proto/envelope.h"
#include "queue/fs.h"
#include "queue/syncer.h"

namespace tern::queue {

struct QueuedMessage {
  QueuedMessage() = default;
  QueuedMessage(QueuedMessage&& other) noexcept;
  QueuedMessage& operator=(QueuedMessage&&) = delete;
  ~QueuedMessage();

  std::string id;
  FileSystem* fs = nullptr;  // the one `fd` belongs to
  int fd = -1;              // the queue file, read-only
  std::size_t offset = 0;   // where the message starts in it
  std::uint64_t size = 0;   // the message's octets, from offset to the end
  proto::Envelope envelope;
  // False only on the first attempt of a message this process accepted:
  // then no earlier attempt can have delivered any part of it.
  bool maybe_delivered = true;
};

// Opens a queue file and reads the envelope at its head. The error says
// which kind of failure it is: a file that cannot be read now (EMFILE, EIO)
// may be read later; a corrupt one never will; a missing one is gone.
Result<QueuedMessage> load_queued(FileSystem& fs, const std::string& id, const std::string& path);
bool queue_file_corrupt(const Error& error);
bool queue_file_missing(const Error& error);

// Durability work shared by the deliveries of one batch: each file system
// that received new files is synced once, after all of them (the group
// commit of the delivery side).
class DeliveryBatch {
 public:
  // Directories on `shared`'s file system are synced through it (merging
  // with the spool's syncs); others directly.
  DeliveryBatch(FileSystem& fs, Syncer* shared) : fs_(fs), shared_(shared) {}
  // `dir` holds a file written or renamed in this batch.
  void sync_later(const std::string& dir) { dirs_.insert(dir); }
  bool empty() const { return dirs_.empty(); }
  Result<void> commit();

 private:
  Result<void> sync_directly(const std::string& dir);

  FileSystem& fs_;
  Syncer* shared_;
  std::set<std::string> dirs_;
};

}  // namespace tern::queue
