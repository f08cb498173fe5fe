#include "sim/oracle.h"

#include <fmt/format.h>

#include "base/text.h"

namespace tern::sim {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

// The value of the first line that starts with `name`.
std::optional<std::string_view> field(std::string_view text, std::string_view name) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    auto line = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (line.starts_with(name)) return trim(line.substr(name.size()));
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return std::nullopt;
}

}  // namespace

void Oracle::acknowledged(std::size_t sim_id, const std::vector<std::string>& recipients) {
  acknowledged_[sim_id] = recipients;
}

// A delivered message (Delivered-To and X-Sim-Id), or a DSN: the returned
// headers hold the X-Sim-Id, and each "Action: failed" group names a
// bounced recipient in Final-Recipient.
void Oracle::read_mailbox_file(const std::string& text, std::vector<std::string>& history, const std::string& path) {
  auto sim_id = field(text, "X-Sim-Id:");
  auto id = sim_id ? parse_decimal(*sim_id) : std::nullopt;
  if (!id) {
    history.push_back(fmt::format("oracle: {} holds no message ({} octets)", path, text.size()));
    return;
  }
  auto content_type = field(text, "Content-Type:");
  if (!content_type || !content_type->starts_with("multipart/report")) {
    auto to = field(text, "Delivered-To:");
    if (to) ++copies_[{*id, std::string(*to)}];
    return;
  }
  std::string final_recipient;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    auto line = std::string_view(text).substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (line.starts_with("Final-Recipient:")) {
      auto value = line.substr(line.find(';') == std::string_view::npos ? 16 : line.find(';') + 1);
      final_recipient = to_lower(trim(value));
    } else if (line.starts_with("Action: failed") && !final_recipient.empty()) {
      ++bounces_[{*id, final_recipient}];
      history.push_back(fmt::format("oracle: {} bounces message {} to <{}>", path, *id, final_recipient));
    }
    if (end == std::string::npos) break;
    pos = end + 1;
  }
}

std::string Oracle::check(const SimFs& fs, const std::string& mail_root, std::vector<std::string>& history) {
  for (const auto& domain : fs.names(mail_root)) {
    for (const auto& user : fs.names(mail_root + "/" + domain)) {
      for (const auto* sub : {"/new", "/cur"}) {
        auto dir = mail_root + "/" + domain + "/" + user + sub;
        for (const auto& name : fs.names(dir)) {
          read_mailbox_file(fs.contents(dir + "/" + name).value_or(""), history, dir + "/" + name);
        }
      }
    }
  }
  for (const auto& [id, recipients] : acknowledged_) {
    for (const auto& rcpt : recipients) {
      Key key{id, rcpt};
      auto copies = copies_.count(key) ? copies_.at(key) : 0;
      auto bounces = bounces_.count(key) ? bounces_.at(key) : 0;
      bool duplicate_ok = duplicates_ok_.count(key) > 0;
      auto where = fmt::format("message {} to <{}>: {} copies, {} bounces", id, rcpt, copies, bounces);
      if (copies + bounces == 0) return "lost: " + where;
      if (bounces > 1) return "bounced more than once: " + where;
      if (copies > 1 && !duplicate_ok) return "duplicate: " + where;
      bool either = duplicate_ok || bounced_by_admin_.count(id) > 0;
      if (copies > 0 && bounces > 0 && !either) return "delivered and bounced: " + where;
    }
  }
  return {};
}

}  // namespace tern::sim
