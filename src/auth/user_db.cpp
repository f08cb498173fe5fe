#include "auth/user_db.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "auth/password.h"
#include "base/log.h"
#include "base/text.h"
#include "proto/address.h"

namespace tern::auth {
namespace {

Error io_error(std::string_view what, const std::string& path, int err) {
  return Error{451, "4.3.0", "users file error", fmt::format("{} {}: {}", what, path, std::strerror(err))};
}

Error refused(std::string detail) { return Error{550, "5.5.4", "refused", std::move(detail)}; }

// RFC 5322 3.2.3 atext.
bool is_atext(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) != std::string_view::npos;
}

// A dot-atom of atext, with octets beyond ASCII allowed (RFC 6531 3.3:
// atext =/ UTF8-non-ascii); UTF-8 validity is checked by the caller.
bool is_local_part(std::string_view local) {
  if (local.empty() || local.size() > proto::kMaxLocalPart) return false;
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) return false;
  for (unsigned char c : local) {
    if (c != '.' && c < 0x80 && !is_atext(c)) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

// Removes every line of `address` (user or malformed); returns where the
// first one was.
std::size_t erase_address(UsersFile& file, const std::string& address) {
  std::size_t first = file.lines.size();
  std::size_t out = 0;
  for (std::size_t i = 0; i < file.lines.size(); ++i) {
    if (file.lines[i].address == address) {
      first = std::min(first, out);
      continue;
    }
    if (out != i) file.lines[out] = std::move(file.lines[i]);
    ++out;
  }
  file.lines.resize(out);
  return first;
}

int open_dir(const std::string& dir) { return ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); }

Result<void> sync_dir(const std::string& dir) {
  int fd = open_dir(dir);
  if (fd < 0) return io_error("open", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return io_error("fsync", dir, err);
  return {};
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Run as root (`tern user` by an administrator), what is created gets the
// owner and group of the directory it is in, so that a server running as
// that owner can still read it. That grants nothing: the directory's owner
// could replace the file anyway.
Result<void> adopt_owner(int fd, const std::string& path, const std::string& dir) {
  if (::geteuid() != 0) return {};
  struct stat dir_st {};
  if (::stat(dir.c_str(), &dir_st) != 0) return io_error("stat", dir, errno);
  if (::fchown(fd, dir_st.st_uid, dir_st.st_gid) != 0) return io_error("fchown", path, errno);
  return {};
}

// mkdir -p, mode 0755 for what it creates (the data_dir, usually: local
// users reach its maildrop/ through it; the users file itself is 0600);
// each new directory's parent is
// fsync'd so that the name survives a crash.
Result<void> make_dirs(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return io_error("mkdir", dir, ENOTDIR);
    return {};
  }
  if (errno != ENOENT) return io_error("stat", dir, errno);
  auto parent = dir_of(dir);
  if (parent != dir) {
    if (auto made = make_dirs(parent); !made) return made;
  }
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return io_error("mkdir", dir, errno);
  ::chmod(dir.c_str(), 0755);  // whatever the umask
  if (int fd = open_dir(dir); fd >= 0) {
    auto adopted = adopt_owner(fd, dir, parent);
    ::close(fd);
    if (!adopted) return adopted;
  }
  return sync_dir(parent);
}

Result<void> write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    auto n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("write", path, errno);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<void> write_temp(int fd, const std::string& temp, const std::string& dir, std::string_view text) {
  if (::fchmod(fd, 0600) != 0) return io_error("fchmod", temp, errno);
  if (auto adopted = adopt_owner(fd, temp, dir); !adopted) return adopted;
  if (auto written = write_all(fd, text, temp); !written) return written;
  if (::fsync(fd) != 0) return io_error("fsync", temp, errno);
  return {};
}

// Fills `entry` from one line; returns what is wrong with it. The text of
// the line never goes into the message: it may hold a password.
std::optional<std::string> classify(std::string_view line, UsersLine& entry) {
  if (line.empty() || line.front() == '#') return std::nullopt;
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return "no ':' between address and hash";
  auto address = normalize_login(line.substr(0, colon));
  if (!address) return "invalid address";
  entry.address = *address;
  if (!is_supported_hash(line.substr(colon + 1))) return "unsupported or malformed password hash for " + *address;
  entry.hash = std::string(line.substr(colon + 1));
  return std::nullopt;
}

}  // namespace

Result<std::string> normalize_login(std::string_view address) {
  auto at = address.rfind('@');
  if (at == std::string_view::npos) return refused("not an address (local@domain): no '@'");
  auto local = address.substr(0, at);
  auto domain = address.substr(at + 1);
  if (!proto::is_valid_utf8(address)) return refused("not valid UTF-8");
  if (!is_local_part(local)) {
    return refused("invalid local part (letters, digits, !#$%&'*+-/=?^_`{|}~ and single inner dots)");
  }
  if (!proto::is_domain(domain, true)) return refused("invalid domain (a host name is expected)");
  return to_lower(address);
}

const UsersLine* UsersFile::find(std::string_view address) const {
  for (const auto& line : lines) {
    if (line.is_user() && line.address == address) return &line;
  }
  return nullptr;
}

std::vector<std::string> UsersFile::addresses() const {
  std::vector<std::string> out;
  for (const auto& line : lines) {
    if (line.is_user()) out.push_back(line.address);
  }
  return out;
}

UsersFile parse_users(std::string_view text) {
  UsersFile file;
  std::map<std::string, std::size_t, std::less<>> first_line;
  for_each_line(text, [&](std::string_view raw, std::size_t number) {
    UsersLine entry{.address = {}, .hash = {}, .text = std::string(raw)};
    auto problem = classify(trim(raw), entry);
    if (!problem && entry.is_user()) {
      if (auto seen = first_line.find(entry.address); seen != first_line.end()) {
        problem = fmt::format("{} given again (first on line {})", entry.address, seen->second);
        entry.hash.clear();
      } else {
        first_line.emplace(entry.address, number);
        entry.text.clear();
      }
    }
    if (problem) file.problems.push_back({number, std::move(*problem)});
    file.lines.push_back(std::move(entry));
    return true;
  });
  return file;
}

std::string format_users(const UsersFile& file) {
  std::string out;
  for (const auto& line : file.lines) {
    out += line.is_user() ? line.address + ":" + line.hash : line.text;
    out += '\n';
  }
  return out;
}

Result<void> add_user(UsersFile& file, const std::string& address, const std::string& hash) {
  if (file.find(address)) return refused(address + " exists already");
  erase_address(file, address);
  file.lines.push_back({.address = address, .hash = hash, .text = {}});
  return {};
}

Result<void> set_password(UsersFile& file, const std::string& address, const std::string& hash) {
  if (!file.find(address)) return refused("no user " + address);
  auto at = erase_address(file, address);
  file.lines.insert(file.lines.begin() + static_cast<std::ptrdiff_t>(at), {.address = address, .hash = hash, .text = {}});
  return {};
}

Result<void> remove_user(UsersFile& file, const std::string& address) {
  if (!file.find(address)) return refused("no user " + address);
  erase_address(file, address);
  return {};
}

Result<std::optional<std::string>> read_users_text(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return std::optional<std::string>{};
  if (fd < 0) return io_error("open", path, errno);
  std::string text;
  char buffer[8192];
  while (true) {
    auto n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return io_error("read", path, err);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return std::optional<std::string>(std::move(text));
}

Result<void> write_users_file(const std::string& path, std::string_view text) {
  auto dir = dir_of(path);
  if (auto made = make_dirs(dir); !made) return made;
  auto temp = fmt::format("{}.tmp.{}", path, ::getpid());
  ::unlink(temp.c_str());  // left by a crashed run of this pid number; we hold the lock
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("create", temp, errno);
  auto written = write_temp(fd, temp, dir, text);
  if (::close(fd) != 0 && written) written = io_error("close", temp, errno);
  if (written && ::rename(temp.c_str(), path.c_str()) != 0) written = io_error("rename", path, errno);
  if (!written) {
    ::unlink(temp.c_str());
    return written;
  }
  return sync_dir(dir);
}

Result<UsersFileLock> UsersFileLock::acquire(const std::string& users_path) {
  if (auto made = make_dirs(dir_of(users_path)); !made) return made.error();
  auto path = users_path + ".lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("open", path, errno);
  if (auto adopted = adopt_owner(fd, path, dir_of(users_path)); !adopted) {
    ::close(fd);
    return adopted.error();
  }
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd);
    return io_error("flock", path, err);
  }
  return UsersFileLock(fd);
}

UsersFileLock::UsersFileLock(UsersFileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

UsersFileLock::~UsersFileLock() {
  if (fd_ >= 0) ::close(fd_);
}

// -- UserStore ------------------------------------------------------------

namespace {

// yescrypt at libxcrypt's default cost (what hash_password makes) of a
// random password nobody knows: verified for unknown logins, so that they
// take as long as known ones.
constexpr std::string_view kDummyHash = "$y$j9T$FJrLvh/W9vgIiyUcvE11/1$iJAl6pckVTZvK4LgHu5W7y31s.L6K6WGck7jsaKKQM5";

bool same_time(const timespec& a, const timespec& b) { return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec; }

}  // namespace

bool UserStore::Stamp::operator==(const Stamp& other) const {
  if (missing || other.missing) return missing == other.missing;
  return device == other.device && inode == other.inode && size == other.size && same_time(mtime, other.mtime) &&
         same_time(ctime, other.ctime);
}

UserStore::UserStore(std::string path) : path_(std::move(path)) {}

UserStore::Verdict UserStore::verify(std::string_view login, std::string_view password) {
  std::string hash;
  {
    std::lock_guard lock(mutex_);
    auto users = current();
    if (!users) return Verdict::kUnavailable;
    if (auto it = users->find(to_lower(login)); it != users->end()) hash = it->second;
  }
  // Hashing happens outside the lock: verifications run in parallel.
  if (hash.empty()) {
    (void)verify_password(password, kDummyHash);
    return Verdict::kBadCredentials;
  }
  return verify_password(password, hash) ? Verdict::kOk : Verdict::kBadCredentials;
}

bool UserStore::exists(std::string_view login) {
  std::lock_guard lock(mutex_);
  auto users = current();
  return users && users->contains(to_lower(login));
}

std::shared_ptr<const UserStore::Users> UserStore::current() {
  struct stat st {};
  Stamp seen;
  if (::stat(path_.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      report(fmt::format("stat {}: {}", path_, std::strerror(errno)));
      return users_;
    }
    seen.missing = true;
  } else {
    seen = {.device = st.st_dev, .inode = st.st_ino, .size = st.st_size, .mtime = st.st_mtim, .ctime = st.st_ctim,
            .missing = false};
  }
  if (!loaded_ || !(*loaded_ == seen)) load_changed(seen);
  return users_;
}

void UserStore::load_changed(const Stamp& seen) {
  auto users = std::make_shared<Users>();
  if (seen.missing) {
    // Normal before the first `tern user add`: no users, not an error.
    if (users_ && !users_->empty()) spdlog::warn("event=users_file_missing path={}", log_value(path_));
    users_ = std::move(users);
    loaded_ = seen;
    last_error_.clear();
    return;
  }
  auto text = read_users_text(path_);
  if (!text || !*text) {
    report(text ? fmt::format("{} vanished while being read", path_) : text.error().detail);
    return;  // the last good contents stay; the next call tries again
  }
  auto file = parse_users(**text);
  for (const auto& problem : file.problems) {
    spdlog::warn("event=users_file_error path={} line={} detail={}", log_value(path_), problem.line,
                 log_value(problem.message));
  }
  for (auto& line : file.lines) {
    if (line.is_user()) users->emplace(std::move(line.address), std::move(line.hash));
  }
  spdlog::info("event=users_file_loaded path={} users={} skipped={}", log_value(path_), users->size(),
               file.problems.size());
  users_ = std::move(users);
  loaded_ = seen;
  last_error_.clear();
}

void UserStore::report(std::string detail) {
  if (detail == last_error_) return;
  spdlog::error("event=users_file_error path={} detail={}{}", log_value(path_), log_value(detail),
                users_ ? " kept=last_good" : "");
  last_error_ = std::move(detail);
}

}  // namespace tern::auth
