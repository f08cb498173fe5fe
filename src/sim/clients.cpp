#include "sim/clients.h"

#include <fmt/format.h>

#include <algorithm>

namespace tern::sim {

std::string write_script(Client& client, Rng& rng) {
  // Recipients: distinct, some local, some remote.
  std::vector<std::string> rcpts;
  auto count = 1 + rng.below(rng.one_in(4) ? 14 : 3);
  for (std::size_t i = 0; i < count * 2 && rcpts.size() < count; ++i) {
    auto rcpt = rng.one_in(2) ? fmt::format("u{}@local.test", rng.below(kLocalUsers))
                              : fmt::format("r{}@remote.test", rng.below(kRemoteUsers));
    if (std::find(rcpts.begin(), rcpts.end(), rcpt) == rcpts.end()) rcpts.push_back(rcpt);
  }
  auto sender = fmt::format("u{}@local.test", rng.below(kLocalUsers));
  std::string envelope = fmt::format("MAIL FROM:<{}>\r\n", sender);
  for (const auto& r : rcpts) envelope += fmt::format("RCPT TO:<{}>\r\n", r);
  envelope += "DATA\r\n";
  std::string body = fmt::format("From: <{}>\r\nSubject: sim\r\nX-Sim-Id: {}\r\n\r\n", sender, client.sim_id);
  auto lines = rng.one_in(8) ? 2000 + rng.below(2000) : 1 + rng.below(40);  // some pass 64 KB
  for (std::size_t i = 0; i < lines; ++i) body += fmt::format("line {} of message {}\r\n", i, client.sim_id);
  auto& chunks = client.chunks;
  chunks.push_back("EHLO client.test\r\n");
  if (rng.one_in(2)) {
    chunks.push_back(envelope);  // RFC 2920: pipelined up to DATA
  } else {
    std::size_t pos = 0;
    while (pos < envelope.size()) {
      auto end = envelope.find("\r\n", pos) + 2;
      chunks.push_back(envelope.substr(pos, end - pos));
      pos = end;
    }
  }
  auto cut = rng.below(body.size());
  chunks.push_back(body.substr(0, cut));
  client.drops = rng.one_in(10);
  if (!client.drops) {
    chunks.push_back(body.substr(cut) + ".\r\n");
    chunks.push_back("QUIT\r\n");
  }
  return fmt::format("client {} connects: {} recipients, {} octets{}", client.sim_id, rcpts.size(), body.size(),
                     client.drops ? ", will drop in DATA" : "");
}

}  // namespace tern::sim
