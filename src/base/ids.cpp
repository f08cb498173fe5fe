#include "base/ids.h"

#include <atomic>
#include <chrono>
#include <cstdint>

namespace tern {
namespace {

void append_base36(std::string& out, std::uint64_t value, int width) {
  constexpr char kDigits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string digits(static_cast<std::size_t>(width), '0');
  for (int i = width - 1; i >= 0 && value > 0; --i) {
    digits[static_cast<std::size_t>(i)] = kDigits[value % 36];
    value /= 36;
  }
  out += digits;
}

}  // namespace

std::string make_queue_id() {
  static std::atomic<std::uint64_t> counter{0};
  return make_queue_id(std::chrono::system_clock::now(), counter.fetch_add(1));
}

std::string make_queue_id(TimePoint now, std::uint64_t sequence) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::string id;
  id.reserve(15);
  append_base36(id, static_cast<std::uint64_t>(micros), 11);  // 36^11 µs ≈ 4,200 years
  append_base36(id, sequence % (36 * 36 * 36 * 36), 4);
  return id;
}

std::time_t queue_id_time(std::string_view id) {
  if (id.size() != 15) return 0;
  std::uint64_t micros = 0;
  for (char c : id.substr(0, 11)) {
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'Z' ? c - 'A' + 10 : -1;
    if (digit < 0) return 0;
    micros = micros * 36 + static_cast<std::uint64_t>(digit);
  }
  return static_cast<std::time_t>(micros / 1000000);
}

std::string make_session_id() {
  static std::atomic<std::uint64_t> counter{0};
  std::string id = "S";
  append_base36(id, counter.fetch_add(1) + 1, 6);
  return id;
}

}  // namespace tern
