#include "control/access.h"

#include "queue/fs.h"
#include "queue/queued_message.h"

namespace tern::control {
namespace {

Error no_such(const std::string& id) { return Error{0, "", "no such message in the queue: " + id, ""}; }

Result<queue::MessageInfo> from_disk(const std::string& queue_dir, const std::string& id, std::time_t now) {
  if (!queue::valid_queue_id(id)) return no_such(id);
  auto info = queue::read_message_info(queue::posix_fs(), queue_dir, id, now);
  if (!info && queue::queue_file_missing(info.error())) return no_such(id);
  if (!info) return Error{0, "", id + ": " + info.error().detail, ""};
  return info;
}

Result<std::string> state_file(const std::string& queue_dir, const std::string& id) {
  auto text = queue::read_file(queue::posix_fs(), queue_dir + "/state/" + id);
  if (!text && queue::file_missing(text.error())) return std::string();
  return text;
}

Result<proto::Envelope> queued_envelope(const std::string& queue_dir, const std::string& id) {
  auto message = queue::load_queued(queue::posix_fs(), id, queue_dir + "/active/" + id);
  if (!message) return message.error();
  return std::move(message->envelope);
}

std::time_t now_t() { return std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()); }

}  // namespace

std::vector<queue::MessageInfo> ServerQueue::messages() { return scheduler_.index().snapshot(); }

// A message the index has not described yet (just after a start) is read
// from its files.
Result<queue::MessageInfo> ServerQueue::message(const std::string& id) {
  if (auto found = scheduler_.index().find(id)) return *found;
  return from_disk(queue_dir_, id, now_t());
}

Result<std::string> ServerQueue::headers(const std::string& id) {
  return queue::read_headers(queue::posix_fs(), queue_dir_, id);
}

Result<std::string> ServerQueue::state_text(const std::string& id) { return state_file(queue_dir_, id); }

Result<proto::Envelope> ServerQueue::envelope(const std::string& id) { return queued_envelope(queue_dir_, id); }

Result<queue::Acted> ServerQueue::act(std::string_view command, const std::vector<std::string>& ids) {
  if (command == "flush") return scheduler_.flush(ids);
  if (command == "hold") return scheduler_.hold(ids);
  if (command == "release") return scheduler_.release(ids);
  if (command == "delete") return scheduler_.remove(ids);
  if (command == "bounce") return scheduler_.bounce(ids);
  return Error{0, "", "unknown command", ""};
}

std::vector<queue::MessageInfo> SpoolAccess::messages() {
  std::vector<queue::MessageInfo> out;
  auto ids = queue::posix_fs().list(queue_dir_ + "/active");
  if (!ids) return out;
  for (const auto& id : *ids) {
    if (auto info = queue::read_message_info(queue::posix_fs(), queue_dir_, id, now_)) out.push_back(std::move(*info));
  }
  return out;
}

Result<queue::MessageInfo> SpoolAccess::message(const std::string& id) { return from_disk(queue_dir_, id, now_); }

Result<std::string> SpoolAccess::headers(const std::string& id) {
  return queue::read_headers(queue::posix_fs(), queue_dir_, id);
}

Result<std::string> SpoolAccess::state_text(const std::string& id) { return state_file(queue_dir_, id); }

Result<proto::Envelope> SpoolAccess::envelope(const std::string& id) { return queued_envelope(queue_dir_, id); }

Result<queue::Acted> SpoolAccess::act(std::string_view command, const std::vector<std::string>&) {
  return Error{0, "", std::string(command) + " needs the server, and it is not running", ""};
}

}  // namespace tern::control
