#include "delivery/loop_check.h"

#include "base/text.h"

namespace tern::delivery {
namespace {

constexpr std::size_t kMaxHeader = 1024 * 1024;
constexpr std::string_view kName = "delivered-to:";

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '<')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' || text.back() == '>')) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

Result<std::set<std::string>> delivered_to(const queue::QueuedMessage& message) {
  std::string head(std::min<std::uint64_t>(message.size, kMaxHeader), '\0');
  std::size_t got = 0;
  while (got < head.size()) {
    auto n = message.fs->read_at(message.fd, message.offset + got, head.data() + got, head.size() - got);
    if (!n) return n.error();
    if (*n == 0) break;
    got += *n;
  }
  head.resize(got);
  if (auto end = head.find("\r\n\r\n"); end != std::string::npos) head.resize(end + 2);
  std::set<std::string> out;
  std::size_t pos = 0;
  while (pos < head.size()) {
    auto nl = head.find('\n', pos);
    std::string_view line(head.data() + pos, (nl == std::string::npos ? head.size() : nl) - pos);
    pos = nl == std::string::npos ? head.size() : nl + 1;
    if (line.size() > kName.size() && to_lower(line.substr(0, kName.size())) == kName) {
      out.insert(to_lower(trim(line.substr(kName.size()))));
    }
  }
  return out;
}

Error loop_detected(std::string_view address) {
  return Error{554, "5.4.6", "Mail forwarding loop for " + std::string(address),
               "the message already carries Delivered-To: " + std::string(address)};
}

}  // namespace tern::delivery
