#include "queue/spool.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>


#include "base/log.h"
#include "base/metrics.h"
#include "queue/delivery_state.h"
#include "queue/envelope_file.h"

namespace tern::queue {
namespace {

constexpr std::size_t kWriteBlock = 64 * 1024;
// In the queue directory while no process runs on it, after a clean stop.
constexpr const char* kCleanStop = "/clean";

// A sync failed while the message was being written (reported to this
// batch or another): some of its data may never have reached the disk.
Error data_lost(const SpoolWriter& w) {
  return Error{451, "4.3.0", "Local error in processing",
               fmt::format("a sync failed while {} was written: its data may be lost", w.id())};
}


}  // namespace

SpoolWriter::~SpoolWriter() {
  if (fd_ >= 0) spool_.fs_.close(fd_);
  if (!committed_) spool_.files_.release(tmp_name_);
}

Result<void> SpoolWriter::write(std::string_view data) {
  pending_.append(data);
  written_ += data.size();
  if (pending_.size() >= kWriteBlock) return flush();
  return {};
}

Result<void> SpoolWriter::add_headers(std::string_view fields) {
  if (message_end_ != 0) return Error{451, "4.3.0", "Local error in processing", "header fields added twice"};
  message_end_ = written_;
  return write(added_headers_record(fields));
}

Result<void> SpoolWriter::flush() {
  auto result = spool_.fs_.write(fd_, pending_);
  pending_.clear();
  pending_.shrink_to_fit();
  return result;
}

Result<void> SpoolWriter::finish() {
  auto size = size_field((message_end_ ? message_end_ : written_) - header_size_);
  // Most messages are still all in the buffer: the length goes in there,
  // without a write of its own.
  if (pending_.size() == written_) {
    pending_.replace(kSizeFieldOffset, size.size(), size);
    return flush();
  }
  if (auto flushed = flush(); !flushed) return flushed;
  return spool_.fs_.write_at(fd_, kSizeFieldOffset, size);
}

Spool::Spool(std::string queue_dir, FileSystem& fs, const Clock& clock)
    : dir_(std::move(queue_dir)), fs_(fs), clock_(clock), ids_(clock), files_(dir_, fs, ids_) {}

Spool::~Spool() { stop(); }

Result<std::vector<std::string>> Spool::open(std::size_t committers) {
  for (const auto* sub : {"/tmp", "/active", "/state", "/corrupt", "/dsn"}) {
    if (auto made = fs_.make_dirs(dir_ + sub); !made) {
      return Error{451, "4.3.0", "Queue unavailable", made.error().detail};
    }
  }
  auto active = fs_.list(dir_ + "/active");
  if (!active) return active.error();
  auto states = fs_.list(dir_ + "/state");
  if (!states) return states.error();
  // A crash between removing a delivered message and its state leaves the
  // state alone; both lists are sorted.
  std::erase_if(*states, [&](const std::string& name) {
    if (std::binary_search(active->begin(), active->end(), name)) return false;
    fs_.unlink(state_path(name));
    return true;
  });
  syncer_ = std::make_unique<Syncer>(dir_, fs_);
  if (auto opened = syncer_->open(); !opened) return opened.error();
  if (auto settled = settle(*states); !settled) return settled.error();
  if (auto recovered = recover_held(*active); !recovered) return recovered.error();
  if (auto started = files_.start(committers > 0, [this] { return syncer_->succeeded(); }); !started) {
    return started.error();
  }
  for (std::size_t i = 0; i < committers; ++i) committers_.emplace_back([this] { run_committer(); });
  opened_ = true;
  return active;
}

void Spool::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& committer : committers_) committer.join();
  committers_.clear();
  // Without committers (the simulator's crashes) some may be left: their
  // files go back to the pool while it still runs, unacknowledged.
  std::vector<PendingCommit> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(pending_);
  }
  left.clear();
  files_.stop();
  if (opened_) mark_clean_stop();
  opened_ = false;
}

// The mark says that all the last process wrote reached the disk: no sync
// of it failed, the last one included. Without it (a crash, or a disk that
// failed a sync), a start cannot tell the page cache from the disk: after a
// sync failed, what it lost stays readable in the cache (marked clean, never
// written again: Linux since 4.13), and would be acted on as if durable
// (a bounce sent twice once the power goes). settle() writes again what the
// state files say before anything is decided on them.
void Spool::mark_clean_stop() {
  if (syncer_->failures() != 0) return;
  if (auto synced = syncer_->sync(); !synced || syncer_->failures() != 0) return;
  auto fd = fs_.create(dir_ + kCleanStop);
  if (!fd) return;
  fs_.close(*fd);
  (void)syncer_->sync();
}

// `states`: the state files of queued messages. The mark goes first, and
// durably: a crash of this process must not pass for a clean stop.
Result<void> Spool::settle(const std::vector<std::string>& states) {
  if (fs_.file_size(dir_ + kCleanStop)) {
    fs_.unlink(dir_ + kCleanStop);
    return syncer_->sync();
  }
  std::size_t settled = 0;
  for (const auto& id : states) {
    auto text = read_file(fs_, state_path(id));
    if (!text && file_missing(text.error())) continue;
    if (!text) return text.error();
    auto lines = settled_records(*text);
    if (lines.empty()) continue;
    if (auto appended = append_state(fs_, state_path(id), lines); !appended) return appended.error();
    ++settled;
  }
  if (settled == 0) return {};
  spdlog::info("event=queue_settled state_files={}", settled);
  return syncer_->sync();
}

Result<std::unique_ptr<SpoolWriter>> Spool::create(const std::string& id, const proto::Envelope& envelope) {
  auto file = files_.take();
  if (!file) return file.error();
  std::unique_ptr<SpoolWriter> writer(new SpoolWriter(*this, id, std::move(file.value())));
  writer->sync_failures_ = syncer_->failures();
  auto header = serialize_envelope(envelope);
  writer->header_size_ = header.size();
  if (auto written = writer->write(header); !written) return written.error();
  return writer;
}

void Spool::commit(std::unique_ptr<SpoolWriter> writer, CommitDone done) {
  {
    std::lock_guard lock(mutex_);
    pending_.push_back({std::move(writer), std::move(done)});
  }
  wake_.notify_one();
}

// Needs no sync: should the rename be lost in a crash, the message is found
// in active/ again and its deliveries find their files (idempotent).
void Spool::remove(const std::string& id) {
  files_.recycle(id, syncer_->started());
  fs_.unlink(state_path(id));
}

Result<void> Spool::release(const std::string& id, const std::string& held_for) {
  return fs_.rename(held_path(id, held_for), active_path(id));
}

std::string Spool::committed_path(const SpoolWriter& w) const {
  return w.held_for_.empty() ? active_path(w.id_) : held_path(w.id_, w.held_for_);
}

// DSNs a crash left held (commit_now): one whose message recorded it, or
// has left the queue (which it does only once all is recorded), joins the
// queue; one whose record the crash lost goes, and its message sends it
// again. A message whose state cannot be read fails the start: guessing
// either way would lose a bounce or send it twice.
Result<void> Spool::recover_held(std::vector<std::string>& active) {
  auto held = fs_.list(dir_ + "/dsn");
  if (!held) return held.error();
  bool changed = false;
  std::vector<std::string> released;  // `active` stays sorted for the searches
  for (const auto& name : *held) {
    auto dot = name.find('.');
    auto id = name.substr(0, dot);
    auto parent = dot == std::string::npos ? "" : name.substr(dot + 1);
    bool recorded = !std::binary_search(active.begin(), active.end(), parent);
    if (!recorded) {
      auto text = read_file(fs_, state_path(parent));
      if (!text && !file_missing(text.error())) return text.error();
      recorded = text && parse_state(*text, 0).dsns.count(id) > 0;
    }
    changed = true;
    if (!recorded) {
      fs_.unlink(dir_ + "/dsn/" + name);
    } else if (fs_.rename(dir_ + "/dsn/" + name, active_path(id))) {
      released.push_back(id);
    }
  }
  active.insert(active.end(), released.begin(), released.end());
  std::sort(active.begin(), active.end());
  if (changed) return syncer_->sync();
  return {};
}

Result<void> Spool::set_aside(const std::string& id) {
  auto moved = fs_.rename(active_path(id), dir_ + "/corrupt/" + id);
  if (!moved) return moved;
  (void)fs_.rename(state_path(id), dir_ + "/corrupt/" + id + ".state");  // often none
  return syncer_->sync();
}

void Spool::run_committer() {
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping, and nothing left to commit
    }
    commit_pending();
  }
}

bool Spool::commit_pending() {
  std::vector<PendingCommit> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(pending_);
  }
  if (batch.empty()) return false;
  commit_batch(batch);
  return true;
}

Result<void> Spool::commit_now(std::unique_ptr<SpoolWriter> writer, const std::string& held_for) {
  writer->held_for_ = held_for;
  Result<void> result;
  std::vector<PendingCommit> batch;
  batch.push_back({std::move(writer), [&result](Result<void> r) { result = std::move(r); }});
  commit_batch(batch);
  return result;
}

// Two syncs per batch, however many messages it holds: one for the data,
// one for the renames into active/.
void Spool::commit_batch(std::vector<PendingCommit>& batch) {
  std::vector<Result<void>> results;
  results.reserve(batch.size());
  bool any_written = false;
  for (auto& pending : batch) {
    results.push_back(pending.writer->finish());
    any_written = any_written || results.back().ok();
  }
  auto data_synced = any_written ? syncer_->sync() : Result<void>{};
  bool any_renamed = false;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& w = *batch[i].writer;
    fs_.close(w.fd_);
    w.fd_ = -1;
    if (results[i] && !data_synced) results[i] = data_synced.error();
    // Never a name in active/ for data that may not be on disk.
    if (results[i] && syncer_->failures() != w.sync_failures_) results[i] = data_lost(w);
    if (results[i]) results[i] = fs_.rename(tmp_path(w.tmp_name_), committed_path(w));
    if (results[i]) w.committed_ = any_renamed = true;
  }
  if (any_renamed) {
    auto synced = syncer_->sync();
    // Not known to be durable: refuse the message (the client retries) and
    // take it back out of the queue.
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto& w = *batch[i].writer;
      if (!results[i]) continue;
      if (!synced) results[i] = synced.error();
      if (results[i] && syncer_->failures() != w.sync_failures_) results[i] = data_lost(w);
      if (!results[i]) fs_.unlink(committed_path(w));
    }
  }
  metrics::metrics().group_commit.observe(static_cast<double>(batch.size()));
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!results[i]) {
      spdlog::error("event=commit_failed queue_id={} detail={}", batch[i].writer->id_,
                    log_value(results[i].error().detail));
    } else if (batch[i].writer->held_for_.empty()) {
      metrics::metrics().messages_received.add();  // not a DSN of ours
    }
    batch[i].writer.reset();  // a failed message's tmp file goes before the reply
    batch[i].done(std::move(results[i]));
  }
}

}  // namespace tern::queue
