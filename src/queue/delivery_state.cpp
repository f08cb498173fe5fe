#include "queue/delivery_state.h"

#include <string_view>

#include "base/text.h"

namespace tern::queue {

std::vector<std::size_t> DeliveryState::pending() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < done.size(); ++i) {
    if (!done[i]) out.push_back(i);
  }
  return out;
}

DeliveryState load_state(FileSystem& fs, const std::string& path, std::size_t recipients) {
  auto text = read_file(fs, path);
  return parse_state(text ? std::string_view(*text) : std::string_view(), recipients);
}

DeliveryState parse_state(std::string_view text, std::size_t recipients) {
  DeliveryState state;
  state.done.assign(recipients, false);
  std::string_view rest = text;
  while (!rest.empty()) {
    auto end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    if (line.starts_with("attempt")) {
      ++state.attempts;
      auto due = line.size() > 8 ? parse_decimal(line.substr(8)) : std::nullopt;
      state.next_attempt = due ? static_cast<std::time_t>(*due) : 0;
    } else if (line == "warned") {
      state.delay_warned = true;
    } else if (line.starts_with("done ")) {
      auto index = parse_decimal(line.substr(5));
      if (index && *index < recipients) state.done[*index] = true;
    }
    // Anything else (a torn last line) is ignored.
  }
  return state;
}

Result<void> append_state(FileSystem& fs, const std::string& path, const std::string& lines) {
  auto fd = fs.open_append(path);
  if (!fd) return fd.error();
  auto written = fs.write(*fd, lines);
  fs.close(*fd);
  return written;
}

}  // namespace tern::queue
