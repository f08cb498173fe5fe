#pragma once
// The aliases file ([local] aliases) as the running server sees it: read at
// start, and again when it changes (its inode, size or mtime, looked at no
// more than once a second) or on reload() (SIGHUP), so that an edit applies
// without a restart. A new version that does not parse or holds a loop is
// refused with a log line (event=aliases_rejected) and the old one stays.
// Thread-safe: RCPT checks, pickup and reloads may run on different threads.
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "base/result.h"
#include "policy/aliases.h"

namespace tern::policy {

// Reads and checks an aliases file; errors name the file and line.
Result<Aliases> load_aliases(const std::string& path, const Aliases::IsLocalDomain& is_local_domain);

class AliasesFile {
 public:
  // Fails (file:line) when the file cannot be read or is invalid.
  static Result<std::shared_ptr<AliasesFile>> open(std::string path, Aliases::IsLocalDomain is_local_domain);

  std::shared_ptr<const Aliases> current();
  // Reads the file again now, changed or not.
  void reload();

 private:
  struct Stamp {
    ino_t inode = 0;
    off_t size = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const Stamp&) const = default;
  };

  AliasesFile(std::string path, Aliases::IsLocalDomain is_local_domain)
      : path_(std::move(path)), is_local_domain_(std::move(is_local_domain)) {}
  // With mutex_ held.
  void load(const Stamp& stamp);
  Stamp stamp() const;

  const std::string path_;
  const Aliases::IsLocalDomain is_local_domain_;
  std::mutex mutex_;
  std::shared_ptr<const Aliases> aliases_;
  Stamp loaded_;
  std::chrono::steady_clock::time_point checked_{};
};

}  // namespace tern::policy
