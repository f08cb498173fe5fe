#include "delivery/maildir.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/log.h"
#include "base/text.h"

namespace tern::delivery {
namespace {

constexpr std::size_t kBlock = 64 * 1024;

// Header fields tern wrote (CRLF) with LF line ends, as Return-Path.
void append_lf(std::string& out, std::string_view fields) {
  for (char c : fields) {
    if (c != '\r') out += c;
  }
}

// Keeps [a-z0-9._+=-]; everything else (and a leading dot) becomes %XX.
std::string path_safe(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '+' ||
                c == '=' || c == '-' || (c == '.' && i > 0);
    out += keep ? std::string(1, static_cast<char>(c)) : fmt::format("%{:02X}", c);
  }
  return out.empty() ? "%" : out;
}

Error read_error(const std::string& queue_id, const Error& error) {
  return Error{451, "4.3.0", "Local error in processing", fmt::format("queue file {}: {}", queue_id, error.detail)};
}

}  // namespace

Maildir::Maildir(std::string mail_root, std::string hostname, queue::FileSystem& fs)
    : root_(std::move(mail_root)), fs_(fs) {
  for (char c : hostname) {
    if (c == '/') hostname_ += "\\057";
    else if (c == ':') hostname_ += "\\072";
    else hostname_ += c;
  }
}

std::string Maildir::mailbox_dir(const proto::Mailbox& r) const {
  auto local = to_lower(proto::unquote_local_part(r.local_part));
  return fmt::format("{}/{}/{}", root_, path_safe(to_lower(r.domain)), path_safe(local));
}

Result<void> Maildir::ensure_dirs(const std::string& dir) {
  {
    std::lock_guard lock(dirs_mutex_);
    if (known_dirs_.count(dir)) return {};
  }
  for (const auto* sub : {"/tmp", "/new", "/cur"}) {
    if (auto made = fs_.make_dirs(dir + sub); !made) return made;
  }
  std::lock_guard lock(dirs_mutex_);
  known_dirs_.insert(dir);
  return {};
}

Result<std::string> Maildir::deliver(const MaildirMessage& message, const proto::Mailbox& recipient,
                                     queue::DeliveryBatch& batch) {
  auto dir = mailbox_dir(recipient);
  auto name = fmt::format("{}.R{}.{}", message.queue_id, message.recipient_index, hostname_);
  auto final_path = dir + "/new/" + name;
  auto tmp_path = dir + "/tmp/" + name;
  if (auto made = ensure_dirs(dir); !made) return made.error();
  if (message.maybe_delivered) fs_.unlink(tmp_path);  // a leftover from an interrupted attempt
  auto fd = fs_.create(tmp_path);
  if (!fd) return fd.error();
  auto written = copy_message(*fd, message, recipient);
  fs_.close(*fd);
  if (!written) {
    fs_.unlink(tmp_path);
    return written.error();
  }
  if (message.maybe_delivered) {
    if (auto earlier = earlier_copy(dir, name, *written)) {
      fs_.unlink(tmp_path);
      batch.sync_later(dir + "/new");  // make sure its name is durable
      return *earlier;
    }
  }
  // The name in new/ comes once the data is durable (DeliveryBatch).
  batch.sync_later(dir + "/new");
  batch.rename_later(tmp_path, final_path);
  return final_path;
}

// A copy delivered by an attempt that a crash kept from being recorded: in
// new/, or moved by a reader to cur/ with ":2,<flags>" added to its name.
// Its name alone proves nothing (the data of a file can be lost while its
// name survives): it counts only with the length of a whole copy. A damaged
// copy is removed, and the message delivered again.
std::optional<std::string> Maildir::earlier_copy(const std::string& dir, const std::string& name,
                                                 std::uint64_t size) {
  std::vector<std::string> candidates{dir + "/new/" + name};
  if (auto entries = fs_.list(dir + "/cur")) {
    for (const auto& entry : *entries) {
      if (entry.starts_with(name + ":")) candidates.push_back(dir + "/cur/" + entry);
    }
  }
  for (const auto& path : candidates) {
    auto found = fs_.file_size(path);
    if (!found) continue;
    if (*found == size) return path;
    spdlog::warn("event=maildir_damaged_copy path={} size={} expected={}", log_value(path), *found, size);
    fs_.unlink(path);
  }
  return std::nullopt;
}

// Return-Path and Delivered-To, then the message with CRLF turned into LF
// (the Unix convention Maildir readers expect), streamed in blocks.
Result<std::uint64_t> Maildir::copy_message(int fd, const MaildirMessage& m, const proto::Mailbox& recipient) {
  std::string out = fmt::format("Return-Path: <{}>\nDelivered-To: {}\n", m.return_path,
                                m.delivered_to.empty() ? to_lower(recipient.to_string()) : m.delivered_to);
  append_lf(out, m.added_headers);
  std::string block(kBlock, '\0');
  std::uint64_t offset = m.offset;
  const std::uint64_t end = m.offset + m.size;  // header fields added at reception follow
  std::uint64_t written = 0;
  bool pending_cr = false;
  Result<void> result;
  while (result && offset < end) {
    auto n = fs_.read_at(m.fd, offset, block.data(), std::min<std::uint64_t>(block.size(), end - offset));
    if (!n) {
      result = read_error(m.queue_id, n.error());
      break;
    }
    if (*n == 0) break;
    offset += *n;
    for (std::size_t i = 0; i < *n; ++i) {
      char c = block[i];
      if (m.binary) {
        out += c;
        continue;
      }
      if (pending_cr && c != '\n') out += '\r';
      pending_cr = c == '\r';
      if (!pending_cr) out += c;
    }
    if (out.size() >= kBlock) {
      result = fs_.write(fd, out);
      written += out.size();
      out.clear();
    }
  }
  if (pending_cr) out += '\r';
  if (result && !out.empty()) result = fs_.write(fd, out);
  if (!result) return result.error();
  return written + out.size();
}

}  // namespace tern::delivery
