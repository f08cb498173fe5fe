#pragma once
// Can the file system under data_dir keep the promise behind a 250 (a
// message acknowledged is on stable storage)? Checked at start.
//   - tmpfs or ramfs: nothing survives a power cut: refused.
//   - read-only: refused.
//   - ext4 without a journal (no /proc/fs/jbd2 entry): synced data is safe,
//     but a crash can leave the file system to e2fsck: a warning.
//   - mounted with nobarrier / barrier=0: the disk's write cache can lose
//     what a sync returned for: a warning.
//   - Linux before 5.8: syncfs(2) does not report writeback errors, so a
//     failed write can go unnoticed: a warning.
#include <string>
#include <vector>

namespace tern::queue {

struct FsCheck {
  std::string refusal;                // why tern must not start; empty: it may
  std::vector<std::string> warnings;  // what the administrator must know
};

FsCheck check_data_dir(const std::string& data_dir);

}  // namespace tern::queue
