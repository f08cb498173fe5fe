#pragma once
// The deterministic simulator (DESIGN.md, Architecture 6): tern's real
// spool, scheduler, delivery state, Maildir delivery, DSNs and SMTP server
// session, on one thread, on a simulated disk (sim_fs.h), clock and network.
//
// Scripted SMTP clients send mail (pipelined or not, some dropping the
// connection in the middle of DATA) to local Maildirs and to a scripted
// remote MX (250, 4xx, 5xx, a connection lost after DATA, slow replies).
// Meanwhile the disk fails calls, tears writes and loses writeback, and the
// power goes out or the process is killed, any number of times. Then the
// faults stop and the queue runs until it is empty, on simulated time: a
// five-day retry schedule takes milliseconds.
//
// The oracle: every message that got a 250 is delivered to each of its
// recipients exactly once, or bounced exactly once to its sender; a remote
// recipient may get a second copy only when the power went out between the
// remote server's 250 and tern recording it (or the connection was lost
// after DATA, RFC 1047); a delivery tern has recorded is on stable storage;
// nothing stays in the queue. A run is reproducible from its seed.
#include <cstdint>
#include <string>
#include <vector>

namespace tern::sim {

struct SimOptions {
  std::size_t messages = 12;  // mail transactions the clients start
  bool faults = true;         // disk faults
  bool crashes = true;        // power cuts and kill -9
  bool log = false;           // tern's log lines go into the history too
};

struct SimResult {
  bool ok = true;
  std::string failure;               // the first property that did not hold
  std::vector<std::string> history;  // what happened, in order
  std::size_t acknowledged = 0;      // messages that got a 250
  std::size_t crashes = 0;
  std::size_t faults = 0;
};

SimResult run_seed(std::uint64_t seed, const SimOptions& options);

}  // namespace tern::sim
