#pragma once
// The user database of SMTP AUTH: the users file, and UserStore, the
// server's view of it.
//
// The users file ([auth] users_file, default data_dir/users) is text, one
// user per line:
//
//   # comment
//   alice@example.test:$y$j9T$...$...
//
// - A user line is `address:hash`: the login (the user's full address,
//   stored lower-cased), one ':', and a crypt(3) hash (see password.h for
//   the schemes accepted; `tern user` writes yescrypt). Spaces and tabs
//   around the line are ignored.
// - Lines that are empty or blank, or whose first non-blank character is
//   '#', are comments.
// - Any other line is malformed: no ':', an invalid address, an unsupported
//   or malformed hash, or a second line for an address already given (the
//   first one counts). Loading reports each with its line number (never
//   its text: it may hold a password typed in the wrong place) and skips
//   it; the good lines still count. `tern user` keeps malformed lines and
//   comments verbatim when it rewrites the file, except that add, passwd
//   and del replace every line of the address they name.
// - Mode 0600; written atomically (temporary file in the same directory,
//   fsync, rename, fsync of the directory). Changes by `tern user` take an
//   exclusive flock(2) on users_file + ".lock" for the read-modify-write.
//
// A login is valid when it is local@domain: the local part a dot-atom
// (RFC 5322 3.2.3) or, beyond ASCII, valid UTF-8 without space, control
// characters, quotes or '@' (RFC 6531), at most 64 octets; the domain a host
// name (letters, digits, hyphens, U-labels), at most 255 octets.
#include <sys/stat.h>

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace tern::auth {

// The login lower-cased (ASCII letters only), or an error whose detail says
// what is wrong with it.
Result<std::string> normalize_login(std::string_view address);

struct UsersLine {
  std::string address;  // lower-cased; set for a user line and a malformed line with a valid address
  std::string hash;     // set only for a user line
  std::string text;     // verbatim, for comments and malformed lines
  bool is_user() const { return !hash.empty(); }
};

struct LineProblem {
  std::size_t line = 0;  // 1-based
  std::string message;   // "invalid address", never the line's text
};

struct UsersFile {
  std::vector<UsersLine> lines;
  std::vector<LineProblem> problems;  // filled by parse_users

  // The user line of `address` (lower-cased), or null.
  const UsersLine* find(std::string_view address) const;
  // Every user's address, in the file's order.
  std::vector<std::string> addresses() const;
};

// Never fails: what cannot be read as a user is kept as a malformed line
// and reported in `problems`.
UsersFile parse_users(std::string_view text);
// Each line followed by "\n"; user lines as `address:hash`.
std::string format_users(const UsersFile& file);

// Edits by `tern user`; `address` is normalized (normalize_login), `hash` a
// supported hash. Each removes any malformed line of the same address.
// Errors: add of an existing user, passwd or del of a missing one.
Result<void> add_user(UsersFile& file, const std::string& address, const std::string& hash);
Result<void> set_password(UsersFile& file, const std::string& address, const std::string& hash);
Result<void> remove_user(UsersFile& file, const std::string& address);

// The file's text; none when it does not exist.
Result<std::optional<std::string>> read_users_text(const std::string& path);

// Replaces the file atomically with `text`, mode 0600: a temporary file in
// the same directory is written, fsync'd and renamed over it, then the
// directory is fsync'd. Creates the directory (and parents, mode 0700)
// when missing. Run as root, each file and directory created gets the owner
// and group of the directory it is in, so that a server running as that
// owner can read it (the lock file too).
Result<void> write_users_file(const std::string& path, std::string_view text);

// An exclusive flock(2) on path + ".lock" (created 0600 beside the users
// file, its directory created if needed), held until destruction: `tern
// user` runs one read-modify-write at a time. The server never takes it: it
// only reads, and a rename is atomic.
class UsersFileLock {
 public:
  static Result<UsersFileLock> acquire(const std::string& users_path);
  UsersFileLock(UsersFileLock&& other) noexcept;
  UsersFileLock& operator=(UsersFileLock&&) = delete;
  ~UsersFileLock();

 private:
  explicit UsersFileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// The server's view of the users file; thread-safe. Every call stats the
// file and loads it again when it changed (device, inode, size, mtime or
// ctime), so `tern user` changes apply without a restart.
class UserStore {
 public:
  enum class Verdict { kOk, kBadCredentials, kUnavailable };

  explicit UserStore(std::string path);

  // Hashes: tens of milliseconds. Call it on a worker thread, never on an
  // event loop. An unknown login costs one verification against a fixed
  // hash too, so that timing does not tell which logins exist.
  // kUnavailable: the file has never been readable (a missing file is no
  // users: kBadCredentials). When a changed file cannot be read, the last
  // good contents stay in use and the error is logged
  // (event=users_file_error).
  Verdict verify(std::string_view login, std::string_view password);

  // Whether `login` (any case) is a user.
  bool exists(std::string_view login);

 private:
  struct Stamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    timespec mtime{};
    timespec ctime{};
    bool missing = false;
    bool operator==(const Stamp& other) const;
  };
  using Users = std::map<std::string, std::string, std::less<>>;

  // With mutex_ held: loads the file again if it changed. Returns the
  // users, or null when the file has never been readable.
  std::shared_ptr<const Users> current();
  void load_changed(const Stamp& seen);
  void report(std::string detail);

  const std::string path_;
  std::mutex mutex_;
  std::optional<Stamp> loaded_;        // what users_ was read from
  std::shared_ptr<const Users> users_;  // null until the first good load
  std::string last_error_;              // logged once until it changes
};

}  // namespace tern::auth
