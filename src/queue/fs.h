#pragma once
// The file-system seam: every file operation of the spool, the scheduler,
// the delivery state and Maildir delivery goes through this interface
// (DESIGN.md, "Time, disk and network come in through seams"), so that the
// simulator (src/sim/sim_fs.h) can model the page cache and stable storage
// apart, fail or tear the Nth call, and cut the power. The default
// implementation calls POSIX directly.
//
// Errors map to SMTP replies: ENOSPC/EDQUOT → 452 4.3.1, anything else →
// 451 4.3.0; the errno text goes to the log detail.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace tern::queue {

// The text of the error of open_read() for a name that does not exist.
inline constexpr std::string_view kFileMissing = "File missing";
inline bool file_missing(const Error& error) { return error.text == kFileMissing; }

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Writing. Descriptors are the file system's own (close() them here).
  virtual Result<int> create(const std::string& path) = 0;       // O_CREAT|O_EXCL|O_WRONLY, 0600
  virtual Result<int> truncate(const std::string& path) = 0;     // O_WRONLY|O_TRUNC, existing file
  virtual Result<int> open_append(const std::string& path) = 0;  // O_WRONLY|O_CREAT|O_APPEND, 0600
  virtual Result<void> write(int fd, std::string_view data) = 0;
  // pwrite(2): replaces bytes already written (a field at a fixed offset).
  virtual Result<void> write_at(int fd, std::uint64_t offset, std::string_view data) = 0;
  virtual void close(int fd) = 0;

  // Reading.
  virtual Result<int> open_read(const std::string& path) = 0;  // kFileMissing when absent
  // Up to `size` octets at `offset`; 0 at the end of the file.
  virtual Result<std::size_t> read_at(int fd, std::uint64_t offset, char* data, std::size_t size) = 0;
  virtual Result<std::uint64_t> size(int fd) = 0;

  // Names.
  // Never replaces an existing `to` (RENAME_NOREPLACE): a name collision in
  // active/ or a Maildir's new/ must fail, not destroy the other file.
  virtual Result<void> rename(const std::string& from, const std::string& to) = 0;
  virtual void unlink(const std::string& path) = 0;
  // The names in a directory (without "." and ".."), sorted: queue ids sort
  // by time of arrival. An error when it cannot be read to its end: an empty
  // list taken for a real one would make every state file look orphaned.
  virtual Result<std::vector<std::string>> list(const std::string& dir) = 0;
  // Creates a directory and its parents (mode 0700).
  virtual Result<void> make_dirs(const std::string& path) = 0;
  // The size of the file at `path`; none when there is none.
  virtual std::optional<std::uint64_t> file_size(const std::string& path) = 0;
  // Which file system holds `path` (st_dev); 0 when unknown.
  virtual std::uint64_t device(const std::string& path) = 0;

  // Durability. A sync handle is a directory opened on the file system to
  // sync; keep it open: the kernel reports a writeback error once to each
  // open file description (errseq_t), so a handle opened per sync can miss
  // an error that another opener has seen (see syncer.h).
  virtual Result<int> open_sync_handle(const std::string& dir) = 0;
  // Makes every write, create and rename so far on the file system of
  // `handle` durable: syncfs(2), which reports writeback errors since Linux
  // 5.8. One call covers a whole batch of files; per file, it costs a
  // fraction of an fdatasync (measured here: 137 µs of CPU per fdatasync'd
  // 2 KB file, 25 µs per file with one syncfs per 16 files). That is what
  // makes group commit cheap. The price: it also flushes other programs'
  // dirty data on that file system, so keep data_dir on its own.
  virtual Result<void> sync_filesystem(int handle) = 0;
};

// The real thing; tests derive from it to fail one kind of call.
class PosixFs : public FileSystem {
 public:
  Result<int> create(const std::string& path) override;
  Result<int> truncate(const std::string& path) override;
  Result<int> open_append(const std::string& path) override;
  Result<void> write(int fd, std::string_view data) override;
  Result<void> write_at(int fd, std::uint64_t offset, std::string_view data) override;
  void close(int fd) override;
  Result<int> open_read(const std::string& path) override;
  Result<std::size_t> read_at(int fd, std::uint64_t offset, char* data, std::size_t size) override;
  Result<std::uint64_t> size(int fd) override;
  Result<void> rename(const std::string& from, const std::string& to) override;
  void unlink(const std::string& path) override;
  Result<std::vector<std::string>> list(const std::string& dir) override;
  Result<void> make_dirs(const std::string& path) override;
  std::optional<std::uint64_t> file_size(const std::string& path) override;
  std::uint64_t device(const std::string& path) override;
  Result<int> open_sync_handle(const std::string& dir) override;
  Result<void> sync_filesystem(int handle) override;
};

FileSystem& posix_fs();

// Reads a whole file; an error when it cannot be opened or read.
Result<std::string> read_file(FileSystem& fs, const std::string& path);

}  // namespace tern::queue
