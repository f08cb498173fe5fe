#pragma once
// Shared by the DKIM tests: the conformance vectors in shared/conformance/dkim.
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "dkim/verifier.h"

namespace tern::dkim::test {

inline std::string conformance_path(const std::string& name) {
  return std::string(TERN_SHARED_DIR) + "/conformance/dkim/" + name;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

using Zone = std::map<std::string, std::string>;  // key name -> TXT record

// Feeds `message` in pieces of `chunk` octets (or cut once at `split` when
// chunk is 0) and verifies every signature against `zone`.
inline std::vector<SignatureResult> verify_message(std::string_view message, const Zone& zone,
                                                   std::int64_t now, std::size_t chunk,
                                                   std::size_t split = 0,
                                                   VerifierOptions options = {}) {
  Verifier v(options);
  if (chunk == 0) {
    v.feed(message.substr(0, split));
    v.feed(message.substr(split));
  } else {
    for (std::size_t at = 0; at < message.size(); at += chunk) v.feed(message.substr(at, chunk));
  }
  v.finish();
  std::vector<SignatureResult> results;
  for (std::size_t i = 0; i < v.signature_count(); ++i) {
    KeyAnswer key;
    if (auto name = v.key_query(i)) {
      auto found = zone.find(*name);
      key = found == zone.end() ? KeyAnswer::not_found() : KeyAnswer::found({found->second});
    }
    results.push_back(v.verify(i, key, now));
  }
  return results;
}

}  // namespace tern::dkim::test
