#pragma once
// Time and chance come in through seams (DESIGN.md, Architecture 6): the
// queue asks a Clock for "now" and an Rng for random numbers, so that the
// simulator (src/sim/) can run a five-day retry schedule in milliseconds and
// replay any run from its seed.
#include <chrono>
#include <cstdint>

namespace tern {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

// The wall clock.
Clock& system_clock();

class Rng {
 public:
  virtual ~Rng() = default;
  virtual std::uint64_t next() = 0;
  // Uniform in [0, bound); 0 when bound is 0.
  std::uint64_t below(std::uint64_t bound) { return bound == 0 ? 0 : next() % bound; }
  // True with probability 1/n.
  bool one_in(std::uint64_t n) { return below(n) == 0; }
};

// A generator seeded from the operating system (std::random_device).
Rng& system_rng();

// SplitMix64: small, fast, and the same sequence for a seed on every
// machine (the simulator's runs are reproducible from their seed).
class SeededRng : public Rng {
 public:
  explicit SeededRng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() override;

 private:
  std::uint64_t state_;
};

}  // namespace tern
