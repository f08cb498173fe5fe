#include "app/pickup.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <spdlog/spdlog.h>
#include <vector>

#include "base/log.h"
#include "base/text.h"
#include "proto/header_fixer.h"
#include "proto/maildrop.h"
#include "queue/scheduler.h"
#include "queue/spool.h"

namespace tern::app {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr std::size_t kChunk = 64 * 1024;
constexpr std::time_t kStaleTmp = 24 * 60 * 60;  // a .tmp file older than this was abandoned

// RFC 5322 3.3 date-time, in UTC as the SMTP session writes it.
std::string rfc5322_date(std::time_t now) {
  std::tm tm{};
  gmtime_r(&now, &tm);
  char date[64];
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return date;
}

std::string errno_text(std::string_view what) { return std::string(what) + ": " + std::strerror(errno); }

// Reads up to `size` octets at `offset`; fewer only at the end of the file.
Result<std::string> read_at(int fd, std::uint64_t offset, std::size_t size) {
  std::string data(size, '\0');
  std::size_t got = 0;
  while (got < size) {
    auto n = ::pread(fd, data.data() + got, size - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{451, "4.3.0", "", errno_text("read")};
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  data.resize(got);
  return data;
}

}  // namespace

struct Pickup::Dropped {
  std::string name;
  int fd = -1;
  struct stat st {};
  proto::ParsedMaildrop parsed;

  ~Dropped() {
    if (fd >= 0) ::close(fd);
  }
};

Pickup::Pickup(asio::io_context& io, queue::Spool& spool, queue::Scheduler& scheduler, Options options)
    : io_(io), spool_(spool), scheduler_(scheduler), options_(std::move(options)),
      dir_(options_.data_dir + "/maildrop"), inotify_(io), timer_(io) {}

Pickup::~Pickup() {
  stop();
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

Result<void> Pickup::start() {
  auto failed = [this](std::string detail) {
    return Error{451, "4.3.0", "", "maildrop " + dir_ + ": " + std::move(detail)};
  };
  // Local users reach maildrop/ through data_dir: it must let them pass.
  struct stat data_st {};
  if (::stat(options_.data_dir.c_str(), &data_st) == 0 && (data_st.st_mode & S_IXOTH) == 0) {
    spdlog::warn("event=maildrop_unreachable data_dir={} detail={}", log_value(options_.data_dir),
                 log_value("data_dir is not searchable by other users (chmod o+x): only root can use tern sendmail"));
  }
  if (::mkdir(dir_.c_str(), kMaildropMode) != 0 && errno != EEXIST) return failed(errno_text("mkdir"));
  struct stat st {};
  if (::lstat(dir_.c_str(), &st) != 0) return failed(errno_text("lstat"));
  if (!S_ISDIR(st.st_mode)) return failed("not a directory");
  if (st.st_uid != ::geteuid()) return failed("owned by uid " + std::to_string(st.st_uid) + ", not tern's");
  // At every start: the umask took bits from mkdir, or someone changed them.
  if (::chmod(dir_.c_str(), kMaildropMode) != 0) return failed(errno_text("chmod"));
  dir_fd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir_fd_ < 0) return failed(errno_text("open"));
  int watch = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (watch >= 0 && ::inotify_add_watch(watch, dir_.c_str(), IN_MOVED_TO) >= 0) {
    inotify_.assign(watch);
  } else {
    spdlog::warn("event=maildrop_no_inotify detail={}", log_value(errno_text("inotify")));
    if (watch >= 0) ::close(watch);
  }
  asio::co_spawn(io_, run(), asio::detached);
  spdlog::info("event=pickup_started maildrop={}", log_value(dir_));
  return {};
}

void Pickup::stop() {
  stopped_ = true;
  boost::system::error_code ignored;
  timer_.cancel();
  inotify_.close(ignored);
}

asio::awaitable<void> Pickup::run() {
  while (!stopped_) {
    back_off_ = false;
    std::vector<std::string> names;
    if (DIR* dir = ::opendir(dir_.c_str())) {
      while (auto* entry = ::readdir(dir)) {
        std::string name = entry->d_name;
        if (name != "." && name != "..") names.push_back(std::move(name));
      }
      ::closedir(dir);
    } else {
      spdlog::error("event=pickup_error detail={}", log_value(errno_text("opendir " + dir_)));
    }
    for (const auto& name : names) {
      if (stopped_) co_return;
      if (name.ends_with(".tmp")) {
        remove_stale(name);
        continue;
      }
      bool ok = co_await take(name);
      if (!ok) {
        back_off_ = true;  // the queue failed: try again at the next scan
        break;
      }
    }
    if (stopped_) co_return;
    co_await wait_for_work();
  }
}

// An inotify event (a file renamed into maildrop/), or the scan interval.
asio::awaitable<void> Pickup::wait_for_work() {
  timer_.expires_after(options_.scan_interval);
  boost::system::error_code ec;
  if (back_off_ || !inotify_.is_open()) {
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return;
  }
  co_await (timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec)) ||
            inotify_.async_wait(asio::posix::stream_descriptor::wait_read,
                                asio::redirect_error(asio::use_awaitable, ec)));
  // The events only say "look again": the next scan finds the names.
  alignas(inotify_event) char buffer[4096];
  while (inotify_.is_open() && ::read(inotify_.native_handle(), buffer, sizeof buffer) > 0) {
  }
}

// Opens and checks a file before anything is queued (plain code: the
// coroutines only wait, GCC 12 miscompiles some of them).
Pickup::Opened Pickup::open_file(Dropped& file) {
  const auto& name = file.name;
  file.fd = ::openat(dir_fd_, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (file.fd < 0) {
    if (errno == ENOENT) return Opened::kGone;
    reject(name, -1, errno_text("open"));  // a symlink (ELOOP), a mode tern may not read...
    return Opened::kRejected;
  }
  auto& st = file.st;
  if (::fstat(file.fd, &st) != 0) {
    spdlog::error("event=pickup_error file={} detail={}", log_value(name), log_value(errno_text("fstat")));
    return Opened::kError;
  }
  long uid = static_cast<long>(st.st_uid);
  auto size = static_cast<std::uint64_t>(st.st_size);
  std::string refused;
  if (!S_ISREG(st.st_mode)) {
    refused = "not a regular file";
  } else if (st.st_nlink != 1) {
    refused = "more than one link";  // a hard link to a file the caller may not read
  } else if (size > proto::kMaxMaildropEnvelope + options_.max_message_size()) {
    refused = "larger than limits.max_message_size";
  } else if (auto head = read_at(file.fd, 0, std::min<std::uint64_t>(size, proto::kMaxMaildropEnvelope)); !head) {
    refused = head.error().detail;
  } else if (auto parsed = proto::parse_maildrop_envelope(*head); !parsed) {
    refused = parsed.error().detail;
  } else if (size - parsed->envelope_size > options_.max_message_size()) {
    refused = "message larger than limits.max_message_size";
  } else {
    file.parsed = std::move(*parsed);
    return Opened::kOk;
  }
  reject(name, uid, refused);
  return Opened::kRejected;
}

// One file; false when the queue could not take it (the file stays).
asio::awaitable<bool> Pickup::take(const std::string& name) {
  Dropped file;
  file.name = name;
  auto opened = open_file(file);
  if (opened == Opened::kError) co_return false;
  if (opened != Opened::kOk) co_return true;
  Result<void> spooled = co_await spool_message(file);
  if (!spooled) {
    spdlog::error("event=pickup_error file={} uid={} detail={}", log_value(name), static_cast<long>(file.st.st_uid),
                  log_value(spooled.error().detail));
    co_return false;
  }
  co_return true;
}

// Copies a dropped file into the queue a piece at a time: the envelope, a
// Received field, the submission fixes (RFC 6409 8), the content with CRLF
// line ends. A first pass over the content decides BODY=8BITMIME (RFC 6152:
// only when an octet needs it).
class Pickup::Copier {
 public:
  Copier(Dropped& file, const Options& options)
      : file_(file), options_(options), offset_(file.parsed.envelope_size),
        end_(static_cast<std::uint64_t>(file.st.st_size)) {}

  // One piece of the first pass; true when it is over.
  Result<bool> scan_step() {
    if (offset_ >= end_ || eight_bit_) {
      offset_ = file_.parsed.envelope_size;
      return true;
    }
    auto chunk = read_at(file_.fd, offset_, kChunk);
    if (!chunk) return chunk.error();
    eight_bit_ = !is_ascii(*chunk);
    offset_ += kChunk;
    return false;
  }

  Result<void> create(queue::Spool& spool) {
    const auto& md = file_.parsed.envelope;
    proto::Envelope envelope;
    envelope.reverse_path = md.sender;
    bool utf8 = !is_ascii(md.sender.mailbox.to_string());
    for (const auto& r : md.recipients) {
      proto::Recipient recipient;
      recipient.mailbox = r;
      envelope.recipients.push_back(std::move(recipient));
      utf8 = utf8 || !is_ascii(r.to_string());
    }
    envelope.params.body = eight_bit_ ? proto::Body::k8BitMime : proto::Body::k7Bit;
    envelope.params.smtputf8 = utf8;
    envelope.protocol = "LOCAL";
    if (options_.expand) {
      auto finals = options_.expand(envelope.recipients);
      if (!finals) return finals.error();
      envelope.recipients = std::move(finals.value());
    }
    auto id = spool.new_id();
    auto created = spool.create(id, envelope);
    if (!created) return created.error();
    writer_ = std::move(created.value());
    if (options_.signing_keys) keys_ = options_.signing_keys();
    if (keys_ && !keys_->empty()) signing_.emplace(*keys_);
    auto date = rfc5322_date(std::time(nullptr));
    auto from = md.sender.null ? "MAILER-DAEMON@" + options_.hostname : md.sender.mailbox.to_string();
    // RFC 6409 8.1-8.3; From too, as Postfix's cleanup adds it for local mail.
    fixer_.emplace(std::vector<proto::HeaderField>{{"From", proto::from_field_value(md.full_name, from)},
                                                    {"Date", date},
                                                    {"Message-ID", "<" + id + "@" + options_.hostname + ">"}});
    return write(fmt::format("Received: by {} (tern sendmail, uid {}) id {}; {}\r\n", options_.hostname,
                             static_cast<long>(file_.st.st_uid), id, date));
  }

  // One piece of the copy; true when the message is whole.
  Result<bool> copy_step() {
    std::string out;
    normalized_.clear();
    if (offset_ < end_) {
      auto chunk = read_at(file_.fd, offset_, std::min<std::uint64_t>(kChunk, end_ - offset_));
      if (!chunk) return chunk.error();
      offset_ += kChunk;
      if (chunk->empty()) offset_ = end_;  // cut short meanwhile by its owner: the rest is its message
      crlf_.feed(*chunk, normalized_);
      fixer_->feed(normalized_, out);
      if (auto written = write(out); !written) return written.error();
      return false;
    }
    crlf_.finish(normalized_);
    fixer_->feed(normalized_, out);
    fixer_->finish(out);
    if (auto written = write(out); !written) return written.error();
    return true;
  }

  // The DKIM-Signature fields of a From domain with keys, stored to go in
  // front of the message (spool.h add_headers).
  Result<void> sign() {
    if (!signing_) return {};
    auto fields = signing_->finish(std::time(nullptr));
    if (!fields) return fields.error();
    if (fields->empty()) return {};
    spdlog::info("event=dkim_signed pickup=yes domain={}", signing_->domain());
    return writer_->add_headers(*fields);
  }

  std::unique_ptr<queue::SpoolWriter> take_writer() { return std::move(writer_); }
  std::uint64_t size() const { return size_; }

 private:
  Result<void> write(std::string_view data) {
    size_ += data.size();
    if (signing_) signing_->feed(data);
    return writer_->write(data);
  }

  Dropped& file_;
  const Options& options_;
  std::uint64_t offset_;
  std::uint64_t end_;
  bool eight_bit_ = false;
  std::unique_ptr<queue::SpoolWriter> writer_;
  std::shared_ptr<const mailauth::SigningKeys> keys_;  // those of the settings when it began
  std::optional<mailauth::MessageSigning> signing_;
  std::optional<proto::HeaderFixer> fixer_;
  proto::CrlfNormalizer crlf_;
  std::string normalized_;
  std::uint64_t size_ = 0;
};

asio::awaitable<Result<void>> Pickup::spool_message(Dropped& file) {
  auto executor = co_await asio::this_coro::executor;
  Copier copier(file, options_);
  while (true) {
    Result<bool> scanned = copier.scan_step();
    if (!scanned) co_return scanned.error();
    if (*scanned) break;
    co_await asio::post(executor, asio::use_awaitable);  // others' turn between pieces
  }
  Result<void> created = copier.create(spool_);
  if (!created) co_return created;
  while (true) {
    Result<bool> copied = copier.copy_step();
    if (!copied) co_return copied.error();
    if (*copied) break;
    co_await asio::post(executor, asio::use_awaitable);
  }
  if (auto signed_ok = copier.sign(); !signed_ok) co_return signed_ok;
  auto size = copier.size();
  co_return co_await commit(file, copier.take_writer(), size);
}

// The group commit; on success the file is removed (if it is still the one
// read: its owner may have renamed another of its files over the name) and
// the message joins the schedule, on the committer thread, so that a stop
// right after the commit does not leave the file to be taken again.
asio::awaitable<Result<void>> Pickup::commit(Dropped& file, std::unique_ptr<queue::SpoolWriter> writer,
                                             std::uint64_t size) {
  auto id = writer->id();
  auto executor = co_await asio::this_coro::executor;
  auto& scheduler = scheduler_;
  auto remove = [dir_fd = dir_fd_, name = file.name, dev = file.st.st_dev, ino = file.st.st_ino] {
    struct stat now {};
    if (::fstatat(dir_fd, name.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_dev == dev && now.st_ino == ino) {
      ::unlinkat(dir_fd, name.c_str(), 0);
    }
  };
  auto result = co_await asio::async_initiate<decltype(asio::use_awaitable), void(Result<void>)>(
      [&](auto handler) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        spool_.commit(std::move(writer), [shared, executor, &scheduler, id, remove](Result<void> outcome) {
          if (outcome) {
            remove();
            scheduler.enqueue(id, true);
          }
          asio::post(executor, [shared, outcome = std::move(outcome)]() mutable { (*shared)(std::move(outcome)); });
        });
      },
      asio::use_awaitable);
  if (result) {
    const auto& md = file.parsed.envelope;
    spdlog::info("event=pickup queue_id={} file={} uid={} from={} rcpts={} size={}", id, log_value(file.name),
                 static_cast<long>(file.st.st_uid),
                 log_value("<" + (md.sender.null ? std::string() : md.sender.mailbox.to_string()) + ">"),
                 md.recipients.size(), size);
  }
  co_return result;
}

void Pickup::reject(const std::string& name, long uid, std::string_view detail) {
  spdlog::warn("event=maildrop_rejected file={} uid={} detail={}", log_value(name), uid, log_value(detail));
  if (::unlinkat(dir_fd_, name.c_str(), 0) != 0 && errno != ENOENT) {
    spdlog::error("event=pickup_error file={} detail={}", log_value(name), log_value(errno_text("unlink")));
  }
}

void Pickup::remove_stale(const std::string& name) {
  struct stat st {};
  if (::fstatat(dir_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  if (std::time(nullptr) - st.st_mtime < kStaleTmp) return;  // a sendmail still writing it
  spdlog::info("event=maildrop_stale file={} uid={}", log_value(name), static_cast<long>(st.st_uid));
  ::unlinkat(dir_fd_, name.c_str(), 0);
}

}  // namespace tern::app
