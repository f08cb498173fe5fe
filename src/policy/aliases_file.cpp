#include "policy/aliases_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <spdlog/spdlog.h>
#include <sstream>

#include "base/log.h"

namespace tern::policy {
namespace {

constexpr auto kCheckInterval = std::chrono::seconds(1);

}  // namespace

Result<Aliases> load_aliases(const std::string& path, const Aliases::IsLocalDomain& is_local_domain) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{0, "", path + ": cannot read the aliases file: " + std::strerror(errno), ""};
  std::stringstream text;
  text << in.rdbuf();
  auto aliases = Aliases::parse(text.str(), path);
  if (!aliases) return aliases.error();
  if (auto checked = aliases->check(is_local_domain); !checked) return checked.error();
  return aliases;
}

Result<std::shared_ptr<AliasesFile>> AliasesFile::open(std::string path, Aliases::IsLocalDomain is_local_domain) {
  std::shared_ptr<AliasesFile> file(new AliasesFile(std::move(path), std::move(is_local_domain)));
  auto stamp = file->stamp();
  auto aliases = load_aliases(file->path_, file->is_local_domain_);
  if (!aliases) return aliases.error();
  file->aliases_ = std::make_shared<const Aliases>(std::move(aliases.value()));
  file->loaded_ = stamp;
  file->checked_ = std::chrono::steady_clock::now();
  spdlog::info("event=aliases_loaded path={} entries={}", log_value(file->path_), file->aliases_->size());
  return file;
}

AliasesFile::Stamp AliasesFile::stamp() const {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return {};
  return {st.st_ino, st.st_size, static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

std::shared_ptr<const Aliases> AliasesFile::current() {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  if (now - checked_ >= kCheckInterval) {
    checked_ = now;
    if (auto seen = stamp(); !(seen == loaded_)) load(seen);
  }
  return aliases_;
}

void AliasesFile::reload() {
  std::lock_guard lock(mutex_);
  checked_ = std::chrono::steady_clock::now();
  load(stamp());
}

void AliasesFile::load(const Stamp& seen) {
  // Remembered even when refused: the same broken file is reported once.
  loaded_ = seen;
  auto aliases = load_aliases(path_, is_local_domain_);
  if (!aliases) {
    spdlog::error("event=aliases_rejected path={} detail={}", log_value(path_), log_value(aliases.error().text));
    return;
  }
  aliases_ = std::make_shared<const Aliases>(std::move(aliases.value()));
  spdlog::info("event=aliases_loaded path={} entries={}", log_value(path_), aliases_->size());
}

}  // namespace tern::policy
