#include "base/clock.h"

#include <mutex>
#include <random>

namespace tern {
namespace {

class SystemClock : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
};

class SystemRng : public Rng {
 public:
  std::uint64_t next() override {
    std::lock_guard lock(mutex_);
    return (static_cast<std::uint64_t>(device_()) << 32) | device_();
  }

 private:
  std::mutex mutex_;
  std::random_device device_;
};

}  // namespace

Clock& system_clock() {
  static SystemClock clock;
  return clock;
}

Rng& system_rng() {
  static SystemRng rng;
  return rng;
}

std::uint64_t SeededRng::next() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace tern
