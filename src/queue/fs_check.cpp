#include "queue/fs_check.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace tern::queue {
namespace {

constexpr long kTmpfsMagic = 0x01021994;
constexpr long kRamfsMagic = 0x858458f6;

struct Mount {
  std::string type;
  std::string source;   // the device, e.g. /dev/vda1
  std::string options;  // per-mount and per-superblock options
};

// The mount holding `st_dev`, from /proc/self/mountinfo (major:minor in
// field 3; after " - ": type, source, super options).
Mount mount_of(dev_t device) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  auto wanted = fmt::format("{}:{}", major(device), minor(device));
  Mount found;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point, options;
    fields >> id >> parent >> dev >> root >> point >> options;
    if (dev != wanted) continue;
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream rest(line.substr(dash + 3));
    std::string super_options;
    rest >> found.type >> found.source >> super_options;
    found.options = options + "," + super_options;
  }
  return found;
}

bool has_option(const std::string& options, const std::string& option) {
  return ("," + options + ",").find("," + option + ",") != std::string::npos;
}

// ext4 with a journal has an entry <device>-8 in /proc/fs/jbd2.
bool ext4_has_journal(const std::string& source) {
  auto slash = source.rfind('/');
  auto name = slash == std::string::npos ? source : source.substr(slash + 1);
  struct stat st {};
  return ::stat(("/proc/fs/jbd2/" + name + "-8").c_str(), &st) == 0;
}

bool kernel_before(int major_wanted, int minor_wanted) {
  struct utsname u {};
  if (::uname(&u) != 0) return false;
  int major_version = 0, minor_version = 0;
  if (std::sscanf(u.release, "%d.%d", &major_version, &minor_version) != 2) return false;
  return major_version < major_wanted || (major_version == major_wanted && minor_version < minor_wanted);
}

}  // namespace

FsCheck check_data_dir(const std::string& data_dir) {
  FsCheck check;
  struct statfs fs {};
  struct statvfs vfs {};
  struct stat st {};
  if (::statfs(data_dir.c_str(), &fs) != 0 || ::statvfs(data_dir.c_str(), &vfs) != 0 ||
      ::stat(data_dir.c_str(), &st) != 0) {
    return check;  // the spool reports what it cannot open
  }
  if (fs.f_type == kTmpfsMagic || fs.f_type == kRamfsMagic) {
    check.refusal = fmt::format("data_dir {} is in memory (tmpfs): a power cut or a reboot would lose every "
                                "message tern acknowledged; put it on a disk file system (ext4, xfs)", data_dir);
    return check;
  }
  if (vfs.f_flag & ST_RDONLY) {
    check.refusal = fmt::format("data_dir {} is on a read-only file system", data_dir);
    return check;
  }
  auto mount = mount_of(st.st_dev);
  if (mount.type == "ext4" && !ext4_has_journal(mount.source)) {
    check.warnings.push_back(fmt::format("data_dir {} is on ext4 without a journal ({}): synced mail is safe, but "
                                         "after a crash the file system needs e2fsck before tern starts", data_dir,
                                         mount.source));
  }
  if (has_option(mount.options, "nobarrier") || has_option(mount.options, "barrier=0")) {
    check.warnings.push_back(fmt::format("data_dir {} is mounted without write barriers: the disk's cache can "
                                         "lose mail that a sync reported on disk", data_dir));
  }
  if (kernel_before(5, 8)) {
    check.warnings.push_back("Linux before 5.8: syncfs(2) does not report write errors, so a failing disk can "
                             "lose acknowledged mail unnoticed");
  }
  return check;
}

}  // namespace tern::queue
