#pragma once
// What the simulator checks at the end of a run: each acknowledged message
// reached each of its recipients exactly once (a copy in a local Maildir or
// at the remote MX), or its sender got exactly one bounce for it.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sim/sim_fs.h"

namespace tern::sim {

class Oracle {
 public:
  using Key = std::pair<std::size_t, std::string>;  // message (X-Sim-Id), recipient

  void acknowledged(std::size_t sim_id, const std::vector<std::string>& recipients);
  void remote_copy(std::size_t sim_id, const std::string& recipient) { ++copies_[{sim_id, recipient}]; }
  // A second copy of this one is within what tern promises.
  void may_duplicate(std::size_t sim_id, const std::string& recipient) { duplicates_ok_.insert({sim_id, recipient}); }
  // `tern queue bounce` of this message: a recipient whose delivery was
  // under way, or done but not yet known to be, may have a copy and a
  // bounce (as with any MTA's "bounce now").
  void bounced_by_admin(std::size_t sim_id) { bounced_by_admin_.insert(sim_id); }
  std::size_t acknowledged_count() const { return acknowledged_.size(); }

  // Counts the copies and bounces in the Maildirs under `mail_root` (the
  // file system's cache, after the run); returns the first violation, or
  // an empty string.
  std::string check(const SimFs& fs, const std::string& mail_root, std::vector<std::string>& history);

 private:
  void read_mailbox_file(const std::string& text, std::vector<std::string>& history, const std::string& path);

  std::map<std::size_t, std::vector<std::string>> acknowledged_;
  std::map<Key, int> copies_;
  std::map<Key, int> bounces_;
  std::set<Key> duplicates_ok_;
  std::set<std::size_t> bounced_by_admin_;
};

}  // namespace tern::sim
