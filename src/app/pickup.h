#pragma once
// The pickup: moves what `tern sendmail` dropped in data_dir/maildrop/ into
// the queue (Postfix's pickup daemon). It runs on the network io_context
// (serve.cpp) and never blocks it for long: it reads a file in 64 KB pieces
// and yields between them; the queue's group commit does the syncing.
//
// maildrop/ is mode 3733 and owned by tern: any local user may create a
// file there but none may list it (-wx for others), the sticky bit keeps
// users from removing or renaming each other's files, and the setgid bit
// gives every file tern's group, so that a 0640 file is readable by tern
// and by nobody else. The files are untrusted input: each must be a
// regular file with one link, of a sane size, in the strict format of
// proto/maildrop.h; anything else is logged (event=maildrop_rejected) and
// removed. The sender's uid is the file's owner (the kernel's word, not
// the file's).
//
// A file is removed only after its message is durable in the queue. A
// failed commit leaves it for the next scan; a crash between the commit and
// the removal delivers it twice (at least once, never lost).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"
#include "mailauth/signing.h"
#include "proto/envelope.h"

namespace tern::queue {
class Scheduler;
class Spool;
class SpoolWriter;
}  // namespace tern::queue

namespace tern::app {

class Pickup {
 public:
  struct Options {
    std::string data_dir;
    std::string hostname;
    // [limits] max_message_size now (a reload may raise it after `tern
    // sendmail` checked against the file).
    std::function<std::uint64_t()> max_message_size;
    std::chrono::seconds scan_interval{60};  // the fallback when no inotify event comes
    // The final recipients (aliases expanded); null: as given.
    std::function<Result<std::vector<proto::Recipient>>(const std::vector<proto::Recipient>&)> expand = nullptr;
    // The DKIM signing keys now ([dkim."domain"]): local mail (web
    // applications' sendmail) is signed as authenticated mail is; null: none.
    std::function<std::shared_ptr<const mailauth::SigningKeys>()> signing_keys = nullptr;
  };

  Pickup(boost::asio::io_context& io, queue::Spool& spool, queue::Scheduler& scheduler, Options options);
  ~Pickup();
  Pickup(const Pickup&) = delete;
  Pickup& operator=(const Pickup&) = delete;

  // Makes maildrop/ (and sets its mode, whatever the umask did), then
  // watches it. After spool.open() and scheduler.start(). An error means
  // local submission does not work; SMTP is not affected.
  Result<void> start();
  // No more files are taken; one half taken stays for the next start.
  void stop();

  static constexpr mode_t kMaildropMode = 03733;

 private:
  struct Dropped;
  class Copier;
  enum class Opened { kOk, kGone, kRejected, kError };
  Opened open_file(Dropped& file);
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> wait_for_work();
  boost::asio::awaitable<bool> take(const std::string& name);
  boost::asio::awaitable<Result<void>> spool_message(Dropped& file);
  boost::asio::awaitable<Result<void>> commit(Dropped& file, std::unique_ptr<queue::SpoolWriter> writer,
                                             std::uint64_t size);
  void reject(const std::string& name, long uid, std::string_view detail);
  void remove_stale(const std::string& name);

  boost::asio::io_context& io_;
  queue::Spool& spool_;
  queue::Scheduler& scheduler_;
  Options options_;
  std::string dir_;
  int dir_fd_ = -1;
  boost::asio::posix::stream_descriptor inotify_;
  boost::asio::steady_timer timer_;
  bool stopped_ = false;
  bool back_off_ = false;  // after a queue error: wait for the timer, not for events
};

}  // namespace tern::app
