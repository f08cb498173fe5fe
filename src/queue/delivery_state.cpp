#include "queue/delivery_state.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdint>
#include <optional>

#include "base/text.h"

namespace tern::queue {
namespace {

// The record in a line, when its checksum is right.
std::optional<std::string_view> record_of(std::string_view line) {
  auto mark = line.rfind(" #");
  if (mark == std::string_view::npos) return std::nullopt;
  auto record = line.substr(0, mark);
  if (line.substr(mark + 2) != fmt::format("{:08x}", fnv1a(record))) return std::nullopt;
  return record;
}

void mark_done(DeliveryState& state, std::string_view number, bool failed = false) {
  auto index = parse_decimal(number);
  if (!index || *index >= state.done.size()) return;
  state.done[*index] = true;
  if (failed) state.failed[*index] = true;
}

std::time_t time_of(std::string_view text) {
  auto value = parse_decimal(text);
  return value ? static_cast<std::time_t>(*value) : 0;
}

// "reply <time> <i,j> <text>"; none when malformed.
std::optional<ReplyRecord> parse_reply(std::string_view record) {
  auto words = record.substr(6);
  auto space = words.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  ReplyRecord reply{time_of(words.substr(0, space)), {}, {}};
  words.remove_prefix(space + 1);
  space = words.find(' ');
  auto list = words.substr(0, space);
  reply.text = space == std::string_view::npos ? "" : std::string(words.substr(space + 1));
  while (!list.empty()) {
    auto comma = list.find(',');
    if (auto index = parse_decimal(list.substr(0, comma))) reply.indexes.push_back(*index);
    list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
  }
  return reply;
}

// Calls `each` with every record of a state file, in order.
template <typename Each>
void for_each_record(std::string_view text, Each each) {
  while (!text.empty()) {
    auto end = text.find('\n');
    if (end == std::string_view::npos) break;  // no line end: the rest of an append that was cut
    if (auto record = record_of(text.substr(0, end))) each(*record);
    text.remove_prefix(end + 1);
  }
}

void apply(DeliveryState& state, std::string_view record) {
  if (record.starts_with("attempts ")) {
    // "attempts <n> <time>": what other records said, so at least n.
    auto words = record.substr(9);
    auto space = words.find(' ');
    auto count = parse_decimal(words.substr(0, space));
    auto due = space == std::string_view::npos ? std::nullopt : parse_decimal(words.substr(space + 1));
    if (count && *count > state.attempts) state.attempts = static_cast<unsigned>(*count);
    state.next_attempt = due ? static_cast<std::time_t>(*due) : 0;
  } else if (record.starts_with("attempt")) {
    ++state.attempts;
    auto due = record.size() > 8 ? parse_decimal(record.substr(8)) : std::nullopt;
    state.next_attempt = due ? static_cast<std::time_t>(*due) : 0;
  } else if (record == "warned" || record.starts_with("warned ")) {
    state.delay_warned = true;
    if (record.size() > 7) state.dsns.emplace(record.substr(7));
  } else if (record.starts_with("done ")) {
    mark_done(state, record.substr(5));
  } else if (record.starts_with("bounced ")) {
    auto words = record.substr(8);
    auto space = words.find(' ');
    state.dsns.emplace(words.substr(0, space));
    while (space != std::string_view::npos) {
      words.remove_prefix(space + 1);
      space = words.find(' ');
      mark_done(state, words.substr(0, space), true);
    }
  } else if (record.starts_with("notified ")) {
    state.dsns.emplace(record.substr(9));
  } else if (record.starts_with("reply ")) {
    if (auto reply = parse_reply(record)) {
      for (auto index : reply->indexes) {
        if (index < state.replies.size()) state.replies[index] = {reply->time, reply->text};
      }
    }
  } else if (record.starts_with("held ")) {
    state.held = true;
  } else if (record.starts_with("released ")) {
    state.held = false;
    state.released_at = time_of(record.substr(9));
  }
}

}  // namespace

std::vector<std::size_t> DeliveryState::pending() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < done.size(); ++i) {
    if (!done[i]) out.push_back(i);
  }
  return out;
}

Result<DeliveryState> load_state(FileSystem& fs, const std::string& path, std::size_t recipients) {
  auto text = read_file(fs, path);
  if (!text && !file_missing(text.error())) return text.error();
  return parse_state(text ? std::string_view(*text) : std::string_view(), recipients);
}

DeliveryState parse_state(std::string_view text, std::size_t recipients) {
  DeliveryState state;
  state.done.assign(recipients, false);
  state.failed.assign(recipients, false);
  state.replies.resize(recipients);
  for_each_record(text, [&](std::string_view record) { apply(state, record); });
  return state;
}

// Records with a recipient or a DSN are kept as they are (once each); the
// attempt records become one "attempts" record, and of "held" and
// "released" the last one is kept.
std::string settled_records(std::string_view text) {
  auto state = parse_state(text, 0);
  std::set<std::string_view> seen;
  std::string lines;
  bool attempted = false;
  std::string_view hold;  // the last "held" or "released": only it counts
  for_each_record(text, [&](std::string_view record) {
    if (record.starts_with("attempt")) {
      attempted = true;
    } else if (record.starts_with("held ") || record.starts_with("released ")) {
      hold = record;
    } else if (seen.insert(record).second) {
      lines += state_record(record);
    }
  });
  if (attempted) lines += state_record(fmt::format("attempts {} {}", state.attempts, state.next_attempt));
  if (!hold.empty()) lines += state_record(hold);
  return lines;
}

std::string reply_record(std::time_t time, const std::vector<std::size_t>& indexes, std::string_view text) {
  std::string line;
  for (unsigned char c : text.substr(0, 400)) line += c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
  return state_record(fmt::format("reply {} {} {}", time, fmt::join(indexes, ","), line));
}

std::vector<ReplyRecord> reply_history(std::string_view text) {
  std::vector<ReplyRecord> out;
  for_each_record(text, [&](std::string_view record) {
    if (!record.starts_with("reply ")) return;
    if (auto reply = parse_reply(record)) out.push_back(std::move(*reply));
  });
  return out;
}

std::string state_record(std::string_view record) { return fmt::format("{} #{:08x}\n", record, fnv1a(record)); }

Result<void> append_state(FileSystem& fs, const std::string& path, const std::string& lines) {
  auto fd = fs.open_append(path);
  if (!fd) return fd.error();
  auto written = fs.write(*fd, std::string(kAppendStart) + lines);
  fs.close(*fd);
  return written;
}

}  // namespace tern::queue
