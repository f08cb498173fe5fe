#pragma once
// Local delivery into Maildir (https://cr.yp.to/proto/maildir.html):
// data_dir/mail/<domain>/<local-part>/{tmp,new,cur}. The message is written
// to tmp/; the batch syncs the file system once for all its deliveries,
// renames each file into new/, and syncs again (queue/queued_message.h
// DeliveryBatch): a name in new/ always has its data on disk.
//
// File names are derived from the queue id and the recipient's index, so a
// delivery repeated after a crash (delivered, but not yet recorded in the
// queue) finds its file, of the same length as a fresh copy, and does not
// deliver twice.
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "base/result.h"
#include "proto/address.h"
#include "queue/fs.h"
#include "queue/queued_message.h"

namespace tern::delivery {

struct MaildirMessage {
  std::string queue_id;
  std::size_t recipient_index = 0;
  std::string return_path;      // RFC 5321 4.4: added at final delivery
  int fd = -1;                  // the queue file holding the message
  std::size_t offset = 0;       // where the message starts in it
  bool binary = false;          // BINARYMIME: copy octets unchanged
  bool maybe_delivered = true;  // an earlier attempt may have delivered it
  std::string delivered_to = {};  // RFC 9228 Delivered-To; empty: the mailbox's address
  std::uint64_t size = 0;       // the message's octets in the queue file
  std::string_view added_headers = {};  // header fields added at reception, CRLF
};

class Maildir {
 public:
  Maildir(std::string mail_root, std::string hostname, queue::FileSystem& fs = queue::posix_fs());

  // Returns the path of the delivered file. It is durable once `batch`
  // commits.
  Result<std::string> deliver(const MaildirMessage& message, const proto::Mailbox& recipient,
                              queue::DeliveryBatch& batch);

  // data_dir/mail/<domain>/<local-part>: the local part unquoted and
  // lower-cased, with anything that could leave the folder escaped.
  std::string mailbox_dir(const proto::Mailbox& recipient) const;

 private:
  Result<void> ensure_dirs(const std::string& dir);
  // Returns the octets written.
  Result<std::uint64_t> copy_message(int fd, const MaildirMessage& message, const proto::Mailbox& recipient);
  std::optional<std::string> earlier_copy(const std::string& dir, const std::string& name, std::uint64_t size);

  std::string root_;
  std::string hostname_;  // with "/" and ":" escaped, as the Maildir spec asks
  queue::FileSystem& fs_;
  std::mutex dirs_mutex_;
  std::set<std::string> known_dirs_;
};

}  // namespace tern::delivery
