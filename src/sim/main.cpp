// tern-sim: runs the deterministic simulator (simulation.h) on a range of
// seeds, or on the seeds of a corpus file (one a line, "#" comments: seeds
// that once found a bug), and prints the history of the first failing one.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "sim/simulation.h"

namespace {

std::vector<std::uint64_t> read_corpus(const std::string& path) {
  std::vector<std::uint64_t> seeds;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    if (line.find_first_not_of(" \t") != std::string::npos) seeds.push_back(std::stoull(line));
  }
  return seeds;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tern-sim: the deterministic crash simulator"};
  std::uint64_t first = 1;
  std::uint64_t count = 100;
  std::string corpus;
  bool history = false;
  bool keep_going = false;
  bool plain = false;
  tern::sim::SimOptions options;
  app.add_option("--first", first, "the first seed");
  app.add_option("--seeds", count, "how many seeds to run");
  app.add_option("--corpus", corpus, "run the seeds listed in this file instead");
  app.add_option("--messages", options.messages, "mail transactions per seed");
  app.add_flag("--history", history, "print the history of every seed run");
  app.add_flag("--plain", plain, "histories without tern's log lines");
  app.add_flag("--keep-going", keep_going, "run every seed; count the failures by kind (the text before ':')");
  CLI11_PARSE(app, argc, argv);

  std::vector<std::uint64_t> seeds;
  if (!corpus.empty()) {
    seeds = read_corpus(corpus);
    if (seeds.empty()) {
      fmt::print(stderr, "tern-sim: no seeds in {}\n", corpus);
      return 2;
    }
  } else {
    for (std::uint64_t s = first; s < first + count; ++s) seeds.push_back(s);
  }
  auto start = std::chrono::steady_clock::now();
  std::size_t acknowledged = 0, crashes = 0, faults = 0;
  std::map<std::string, std::pair<std::size_t, std::uint64_t>> failures;  // kind -> count, first seed
  for (auto seed : seeds) {
    auto result = tern::sim::run_seed(seed, options);
    acknowledged += result.acknowledged;
    crashes += result.crashes;
    faults += result.faults;
    if (!result.ok && keep_going) {
      auto& [n, first_seed] = failures[result.failure.substr(0, result.failure.find(':'))];
      if (n++ == 0) first_seed = seed;
      continue;
    }
    if (history || !result.ok) {
      // The same run again, with tern's log lines in its history.
      auto logged = options;
      logged.log = !plain;
      for (const auto& line : tern::sim::run_seed(seed, logged).history) fmt::print("{}\n", line);
    }
    if (!result.ok) {
      fmt::print("seed {} FAILED: {}\n(replay: tern-sim --first {} --seeds 1 --messages {})\n", seed, result.failure,
                 seed, options.messages);
      return 1;
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& [kind, seen] : failures) {
    fmt::print("{} seeds failed with \"{}\", the first is seed {}\n", seen.first, kind, seen.second);
  }
  if (!failures.empty()) return 1;
  fmt::print("{} seeds passed in {:.1f} s ({:.0f} seeds/s): {} messages acknowledged, {} crashes, {} disk faults\n",
             seeds.size(), seconds, static_cast<double>(seeds.size()) / seconds, acknowledged, crashes, faults);
  return 0;
}
