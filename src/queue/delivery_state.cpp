#include "queue/delivery_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "base/text.h"

namespace tern::queue {

std::vector<std::size_t> DeliveryState::pending() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < done.size(); ++i) {
    if (!done[i]) out.push_back(i);
  }
  return out;
}

DeliveryState load_state(const std::string& path, std::size_t recipients) {
  DeliveryState state;
  state.done.assign(recipients, false);
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("attempt")) {
      ++state.attempts;
      auto due = line.size() > 8 ? parse_decimal(std::string_view(line).substr(8)) : std::nullopt;
      state.next_attempt = due ? static_cast<std::time_t>(*due) : 0;
    } else if (line == "warned") {
      state.delay_warned = true;
    } else if (line.starts_with("done ")) {
      auto index = parse_decimal(std::string_view(line).substr(5));
      if (index && *index < recipients) state.done[*index] = true;
    }
    // Anything else (a torn last line) is ignored.
  }
  return state;
}

Result<void> append_state(FileSystem& fs, const std::string& path, const std::string& lines) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Error{451, "4.3.0", "Local error in processing", "open " + path};
  auto written = fs.write(fd, lines);
  fs.close(fd);
  return written;
}

}  // namespace tern::queue
