#pragma once
// A simulated disk for the simulator: the page cache and stable storage are
// kept apart, as the kernel keeps them.
//
// Every call changes the cache at once (what a running program sees) and
// appends an operation to a log of what is not yet on stable storage: name
// operations (create, mkdir, rename, unlink, truncate) and data writes.
// syncfs makes the whole log durable. A power cut keeps what was synced,
// plus a prefix of the name operations in log order (ext4's journal commits
// them in order) and any subset of the unsynced data writes, some torn, some
// leaving zeros where the size reached the disk and the data did not
// (delayed allocation): what happens to a real ext4 in a power cut.
//
// Writeback errors follow the kernel's errseq_t: an error is remembered for
// the file system and reported once to each open sync handle that sampled
// the sequence before it (and to a handle opened before anyone saw it).
// Data that failed to write back is gone from the disk but still in the cache.
//
// Faults: each call may fail (EIO, ENOSPC), a write may be short, a sync may
// lose data, and the power may go out at the Nth call: then every later call
// fails without effect until restart().
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "queue/fs.h"

namespace tern::sim {

struct FaultRates {
  // Each is "one call in N" (0: never).
  std::uint64_t fail_write = 0;      // write, write_at, create, open_append: EIO or ENOSPC
  std::uint64_t short_write = 0;     // a write stops part way (then fails)
  std::uint64_t fail_rename = 0;
  std::uint64_t fail_sync = 0;       // syncfs fails and some dirty data never reaches the disk
  std::uint64_t fail_read = 0;
};

class SimFs : public queue::FileSystem {
 public:
  // Faults and power cuts are told in `history` (a failing seed prints it).
  SimFs(Rng& rng, std::vector<std::string>& history) : rng_(rng), history_(history) {}

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
  std::uint64_t device(const std::string&) override { return 1; }
  Result<int> open_sync_handle(const std::string& dir) override;
  Result<void> sync_filesystem(int handle) override;

  // Faults for the calls to come.
  void set_faults(FaultRates rates) { faults_ = rates; }
  // The power goes out when the call numbered `call` starts (calls count
  // from 1 since the last restart). 0: no cut planned.
  void cut_power_at(std::uint64_t call) { cut_at_ = call; }
  void cut_power() { frozen_ = true; }
  // The process dies (kill -9): the cache survives.
  void kill() { frozen_ = true; killed_ = true; }
  bool frozen() const { return frozen_; }
  bool killed() const { return killed_; }
  // Faults injected so far (failed calls, lost writeback).
  std::uint64_t faults_injected() const { return injected_; }
  // After a power cut: the disk as a random crash left it becomes what
  // every call sees. After kill(): the cache stays. Descriptors are gone.
  void restart();
  std::uint64_t calls() const { return calls_; }

  // The kernel writes some dirty data back on its own and fails: the data
  // is lost on the disk, and the error waits in the errseq for a sync.
  void writeback_error();
  // Another program syncs the file system: its dirty data is written back
  // and it sees (and so consumes) an error no one has seen yet.
  void other_program_syncs();

  // For the oracle: the cache (what a reader sees now), and whether a
  // file's name and content are on stable storage.
  std::optional<std::string> contents(const std::string& path) const;
  std::vector<std::string> names(const std::string& dir) const;
  bool durable_name(const std::string& path) const;
  std::optional<std::string> durable_contents(const std::string& path) const;

 private:
  using Inode = std::uint64_t;
  struct Tree {
    std::set<std::string> dirs{"/"};
    std::map<std::string, Inode> files;
    std::map<Inode, std::string> data;
  };
  struct Op {
    enum Kind { kCreate, kMkdir, kRename, kUnlink, kTruncate, kWrite } kind;
    std::string path, to;
    Inode inode = 0;
    std::uint64_t offset = 0;
    std::string bytes;
    bool is_name_op() const { return kind != kWrite; }
    static Op name(Kind kind, std::string path, Inode inode = 0) { return {kind, std::move(path), {}, inode, 0, {}}; }
    static Op rename(std::string from, std::string to) { return {kRename, std::move(from), std::move(to), 0, 0, {}}; }
    static Op write(Inode inode, std::uint64_t offset, std::string_view bytes) {
      return {kWrite, {}, {}, inode, offset, std::string(bytes)};
    }
  };
  struct Open {
    Inode inode;
    bool append = false;
    bool writable = false;
    std::uint64_t sampled_errors = 0;  // for sync handles
    bool sync_handle = false;
    std::uint64_t position = 0;  // where write() goes next
  };

  // Counts the call; false when the power is out (now or from this call).
  bool begin_call();
  bool roll(std::uint64_t one_in) {
    bool hit = one_in && rng_.one_in(one_in);
    injected_ += hit;
    return hit;
  }
  Error io_error(const std::string& what, bool no_space = false);
  void log(Op op);
  static void apply(Tree& tree, const Op& op);
  Result<int> open_fd(Inode inode, bool append, bool writable);
  Result<void> write_inode(int fd, std::optional<std::uint64_t> offset, std::string_view data);
  void lose_dirty_data();
  std::uint64_t sample_errors() const;

  Rng& rng_;
  Tree cache_;
  Tree disk_;
  std::vector<Op> unsynced_;
  std::map<int, Open> fds_;
  int next_fd_ = 3;
  Inode next_inode_ = 1;
  std::uint64_t errors_ = 0;     // writeback errors so far (errseq_t counter)
  bool error_seen_ = true;       // the last one was reported to someone
  FaultRates faults_;
  std::uint64_t calls_ = 0;
  std::uint64_t cut_at_ = 0;
  bool frozen_ = false;
  bool killed_ = false;
  std::uint64_t injected_ = 0;
  std::vector<std::string>& history_;
};

}  // namespace tern::sim
