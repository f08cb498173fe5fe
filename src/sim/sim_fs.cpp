#include "sim/sim_fs.h"

#include <fmt/format.h>

#include <algorithm>

namespace tern::sim {
namespace {

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

Error missing(const std::string& path) {
  return Error{451, "4.3.0", std::string(queue::kFileMissing), "open " + path + ": No such file or directory"};
}

}  // namespace

bool SimFs::begin_call() {
  if (frozen_) return false;
  ++calls_;
  if (cut_at_ != 0 && calls_ >= cut_at_) {
    frozen_ = true;
    history_.push_back(fmt::format("power cut at call {}", calls_));
    return false;
  }
  return true;
}

Error SimFs::io_error(const std::string& what, bool no_space) {
  if (!frozen_) history_.push_back(fmt::format("call {}: {} fails{}", calls_, what, no_space ? " (ENOSPC)" : ""));
  if (no_space) return Error{452, "4.3.1", "Insufficient system storage", what + ": No space left on device"};
  return Error{451, "4.3.0", "Local error in processing", what + ": Input/output error"};
}

void SimFs::log(Op op) {
  apply(cache_, op);
  unsynced_.push_back(std::move(op));
}

void SimFs::apply(Tree& tree, const Op& op) {
  switch (op.kind) {
    case Op::kCreate:
      tree.files[op.path] = op.inode;
      tree.data.try_emplace(op.inode);
      break;
    case Op::kMkdir:
      tree.dirs.insert(op.path);
      break;
    case Op::kRename: {
      auto found = tree.files.find(op.path);
      if (found == tree.files.end()) break;
      auto inode = found->second;
      tree.files.erase(found);
      tree.files[op.to] = inode;
      break;
    }
    case Op::kUnlink:
      tree.files.erase(op.path);
      break;
    case Op::kTruncate:
      tree.data[op.inode].clear();
      break;
    case Op::kWrite: {
      auto& data = tree.data[op.inode];
      if (data.size() < op.offset + op.bytes.size()) data.resize(op.offset + op.bytes.size(), '\0');
      data.replace(op.offset, op.bytes.size(), op.bytes);
      break;
    }
  }
}

Result<int> SimFs::open_fd(Inode inode, bool append, bool writable) {
  int fd = next_fd_++;
  fds_[fd] = Open{inode, append, writable, 0, false};
  return fd;
}

Result<int> SimFs::create(const std::string& path) {
  if (!begin_call()) return io_error("create " + path);
  if (roll(faults_.fail_write)) return io_error("create " + path, rng_.one_in(2));
  if (!cache_.dirs.count(parent_of(path))) return io_error("create " + path + " (no directory)");
  if (cache_.files.count(path) || cache_.dirs.count(path)) return io_error("create " + path + " (exists)");
  auto inode = next_inode_++;
  log(Op::name(Op::kCreate, path, inode));
  return open_fd(inode, false, true);
}

Result<int> SimFs::truncate(const std::string& path) {
  if (!begin_call()) return io_error("truncate " + path);
  auto found = cache_.files.find(path);
  if (found == cache_.files.end()) return missing(path);
  log(Op::name(Op::kTruncate, path, found->second));
  return open_fd(found->second, false, true);
}

Result<int> SimFs::open_append(const std::string& path) {
  if (!begin_call()) return io_error("open " + path);
  if (roll(faults_.fail_write)) return io_error("open " + path, rng_.one_in(2));
  auto found = cache_.files.find(path);
  if (found != cache_.files.end()) return open_fd(found->second, true, true);
  if (!cache_.dirs.count(parent_of(path))) return io_error("open " + path + " (no directory)");
  auto inode = next_inode_++;
  log(Op::name(Op::kCreate, path, inode));
  return open_fd(inode, true, true);
}

Result<void> SimFs::write_inode(int fd, std::optional<std::uint64_t> offset, std::string_view data) {
  if (!begin_call()) return io_error("write");
  auto found = fds_.find(fd);
  if (found == fds_.end() || !found->second.writable) return io_error("write (bad descriptor)");
  if (roll(faults_.fail_write)) return io_error("write", rng_.one_in(2));
  auto& open = found->second;
  auto& current = cache_.data[open.inode];
  std::uint64_t at = offset ? *offset : open.append ? current.size() : open.position;
  bool short_write = !data.empty() && roll(faults_.short_write);
  auto piece = short_write ? data.substr(0, rng_.below(data.size())) : data;
  if (!piece.empty()) log(Op::write(open.inode, at, piece));
  if (!offset) open.position = at + piece.size();
  if (short_write) return io_error(fmt::format("write ({} of {} octets)", piece.size(), data.size()), rng_.one_in(2));
  return {};
}

Result<void> SimFs::write(int fd, std::string_view data) { return write_inode(fd, std::nullopt, data); }

Result<void> SimFs::write_at(int fd, std::uint64_t offset, std::string_view data) {
  return write_inode(fd, offset, data);
}

void SimFs::close(int fd) { fds_.erase(fd); }

Result<int> SimFs::open_read(const std::string& path) {
  if (!begin_call()) return io_error("open " + path);
  auto found = cache_.files.find(path);
  if (found == cache_.files.end()) return missing(path);
  if (roll(faults_.fail_read)) return io_error("open " + path);
  return open_fd(found->second, false, false);
}

Result<std::size_t> SimFs::read_at(int fd, std::uint64_t offset, char* data, std::size_t size) {
  if (!begin_call()) return io_error("read");
  auto found = fds_.find(fd);
  if (found == fds_.end()) return io_error("read (bad descriptor)");
  if (roll(faults_.fail_read)) return io_error("read");
  const auto& content = cache_.data[found->second.inode];
  if (offset >= content.size()) return std::size_t{0};
  auto n = std::min<std::size_t>(size, content.size() - offset);
  std::copy_n(content.data() + offset, n, data);
  return n;
}

Result<std::uint64_t> SimFs::size(int fd) {
  if (!begin_call()) return io_error("stat");
  auto found = fds_.find(fd);
  if (found == fds_.end()) return io_error("stat (bad descriptor)");
  return static_cast<std::uint64_t>(cache_.data[found->second.inode].size());
}

Result<void> SimFs::rename(const std::string& from, const std::string& to) {
  if (!begin_call()) return io_error("rename " + from);
  if (roll(faults_.fail_rename)) return io_error("rename " + from);
  if (!cache_.files.count(from)) return io_error("rename " + from + " (no such file)");
  if (cache_.files.count(to) || cache_.dirs.count(to)) return io_error("rename " + from + " (target exists)");
  if (!cache_.dirs.count(parent_of(to))) return io_error("rename " + from + " (no directory)");
  log(Op::rename(from, to));
  return {};
}

void SimFs::unlink(const std::string& path) {
  if (!begin_call()) return;
  if (cache_.files.count(path)) log(Op::name(Op::kUnlink, path));
}

Result<std::vector<std::string>> SimFs::list(const std::string& dir) {
  if (!begin_call()) return io_error("opendir " + dir);
  if (!cache_.dirs.count(dir)) return io_error("opendir " + dir + " (no such directory)");
  return names(dir);
}

std::vector<std::string> SimFs::names(const std::string& dir) const {
  std::vector<std::string> out;
  auto prefix = dir == "/" ? dir : dir + "/";
  auto collect = [&](const std::string& path) {
    if (path.size() > prefix.size() && path.starts_with(prefix) && path.find('/', prefix.size()) == std::string::npos) {
      out.push_back(path.substr(prefix.size()));
    }
  };
  for (const auto& [path, inode] : cache_.files) collect(path);
  for (const auto& path : cache_.dirs) collect(path);
  std::sort(out.begin(), out.end());
  return out;
}

Result<void> SimFs::make_dirs(const std::string& path) {
  if (!begin_call()) return io_error("mkdir " + path);
  for (std::size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    auto prefix = path.substr(0, pos);
    if (cache_.files.count(prefix)) return io_error("mkdir " + prefix + " (a file)");
    if (!cache_.dirs.count(prefix)) log(Op::name(Op::kMkdir, prefix));
  }
  return {};
}

std::optional<std::uint64_t> SimFs::file_size(const std::string& path) {
  if (!begin_call()) return std::nullopt;
  auto found = cache_.files.find(path);
  if (found == cache_.files.end()) return std::nullopt;
  return static_cast<std::uint64_t>(cache_.data[found->second].size());
}

// errseq_sample(): an error no one has seen yet is still reported to the
// new handle.
std::uint64_t SimFs::sample_errors() const { return error_seen_ || errors_ == 0 ? errors_ : errors_ - 1; }

Result<int> SimFs::open_sync_handle(const std::string& dir) {
  if (!begin_call()) return io_error("open " + dir);
  if (!cache_.dirs.count(dir)) return io_error("open " + dir + " (no such directory)");
  int fd = next_fd_++;
  fds_[fd] = Open{0, false, false, 0, true};
  fds_[fd].sampled_errors = sample_errors();
  return fd;
}

// Some of the dirty data fails to reach the disk: it stays in the cache,
// and the error goes into the errseq.
void SimFs::lose_dirty_data() {
  std::vector<Op> kept;
  std::size_t lost = 0;
  for (auto& op : unsynced_) {
    if (!op.is_name_op() && rng_.one_in(2)) {
      ++lost;
      continue;
    }
    kept.push_back(std::move(op));
  }
  unsynced_ = std::move(kept);
  ++injected_;
  ++errors_;
  error_seen_ = false;
  history_.push_back(fmt::format("call {}: writeback error, {} dirty writes lost", calls_, lost));
}

Result<void> SimFs::sync_filesystem(int handle) {
  if (!begin_call()) return io_error("syncfs");
  auto found = fds_.find(handle);
  if (found == fds_.end() || !found->second.sync_handle) return io_error("syncfs (bad descriptor)");
  if (roll(faults_.fail_sync)) lose_dirty_data();
  for (const auto& op : unsynced_) apply(disk_, op);
  unsynced_.clear();
  // errseq_check_and_advance(): each handle hears of each error once.
  if (found->second.sampled_errors != errors_) {
    found->second.sampled_errors = errors_;
    error_seen_ = true;
    return io_error("syncfs");
  }
  return {};
}

void SimFs::writeback_error() {
  bool dirty = std::any_of(unsynced_.begin(), unsynced_.end(), [](const Op& op) { return !op.is_name_op(); });
  if (dirty) lose_dirty_data();
}

void SimFs::other_program_syncs() {
  for (const auto& op : unsynced_) apply(disk_, op);
  unsynced_.clear();
  if (!error_seen_) history_.push_back("another program's sync sees the writeback error");
  error_seen_ = true;
}

void SimFs::restart() {
  if (!killed_) {
    std::size_t name_ops = std::count_if(unsynced_.begin(), unsynced_.end(), [](const Op& op) { return op.is_name_op(); });
    auto keep = rng_.below(name_ops + 1);
    std::size_t seen = 0, kept_writes = 0, torn = 0, zeros = 0;
    for (auto& op : unsynced_) {
      if (op.is_name_op()) {
        if (seen++ < keep) apply(disk_, op);
        continue;
      }
      switch (rng_.below(4)) {
        case 0: break;  // never reached the disk
        case 1: apply(disk_, op); ++kept_writes; break;
        case 2:  // torn: a prefix reached the disk
          op.bytes.resize(rng_.below(op.bytes.size()));
          apply(disk_, op);
          ++torn;
          break;
        case 3:  // the size reached the disk, the data did not
          op.bytes.assign(op.bytes.size(), '\0');
          apply(disk_, op);
          ++zeros;
          break;
      }
    }
    history_.push_back(fmt::format("restart after power cut: {} of {} name operations kept; of the unsynced writes "
                                   "{} kept, {} torn, {} zeros",
                                   keep, name_ops, kept_writes, torn, zeros));
    cache_ = disk_;
    unsynced_.clear();
    errors_ = 0;
    error_seen_ = true;
  } else {
    history_.push_back("restart after kill -9: the page cache survives");
  }
  fds_.clear();
  frozen_ = killed_ = false;
  calls_ = 0;
  cut_at_ = 0;
}

std::optional<std::string> SimFs::contents(const std::string& path) const {
  auto found = cache_.files.find(path);
  if (found == cache_.files.end()) return std::nullopt;
  return cache_.data.at(found->second);
}

bool SimFs::durable_name(const std::string& path) const { return disk_.files.count(path) > 0; }

std::optional<std::string> SimFs::durable_contents(const std::string& path) const {
  auto found = disk_.files.find(path);
  if (found == disk_.files.end()) return std::nullopt;
  auto data = disk_.data.find(found->second);
  return data == disk_.data.end() ? std::string() : data->second;
}

}  // namespace tern::sim
