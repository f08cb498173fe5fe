#pragma once
// A message in active/, opened for delivery: its envelope, and the open
// queue file from which delivery agents read the message.
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

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
  std::uint64_t size = 0;   // the message's octets in the file, from offset
  // Header fields added at reception (Authentication-Results,
  // DKIM-Signature), stored after the message: every delivery puts them in
  // front of it. CRLF line ends.
  std::string added_headers;
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

// Durability work shared by the deliveries of one batch (the group commit
// of the delivery side). A delivered file gets its final name only once its
// data is on stable storage: write every file, sync, rename every file,
// sync again. (Renamed first, a power cut can keep the name and lose the
// data: an empty message counted as delivered.) Each file system is synced
// once per round, however many files it holds.
class DeliveryBatch {
 public:
  // Directories on `shared`'s file system are synced through it (merging
  // with the spool's syncs); others directly.
  DeliveryBatch(FileSystem& fs, Syncer* shared);
  // `dir` holds a file written or renamed in this batch.
  void sync_later(const std::string& dir) { dirs_.insert(dir); }
  // `from`, written in this batch, becomes `to` once it is durable.
  void rename_later(std::string from, std::string to) { renames_.emplace_back(std::move(from), std::move(to)); }
  bool empty() const { return dirs_.empty() && renames_.empty(); }
  // Ok when every file of the batch is durable under its final name.
  Result<void> commit();

 private:
  Result<void> sync_all();
  Result<void> sync_directly(const std::string& dir);

  FileSystem& fs_;
  Syncer* shared_;
  // Failed syncs of `shared_` when the batch began: one more by the end
  // means some of the batch's data may not have reached the disk, even if
  // the sync that reported it was another thread's (see syncer.h).
  std::uint64_t failures_at_start_ = 0;
  std::set<std::string> dirs_;
  std::vector<std::pair<std::string, std::string>> renames_;
};

}  // namespace tern::queue
