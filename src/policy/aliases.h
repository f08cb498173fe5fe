#pragma once
// The aliases file ([local] aliases): one entry a line, "#" comments, a key
// and then its targets separated by commas:
//
//   sales                 alice, bob               # a local part: in every local domain
//   info@example.org      carol                    # one address; a bare target = same domain
//   team@example.test     alice, dave@remote.test  # a remote target: forwarded
//   @example.net          catchall@example.test    # every local part of a domain
//
// Lookup order for an address: the address itself, then its local part
// (local domains only), then its domain's catch-all. Targets that are
// aliases expand in turn, up to kMaxAliasDepth levels; a target naming the
// alias being expanded is its own mailbox (Postfix: "alice: alice,
// archive"); any other cycle is a loop. Duplicates are delivered once.
// Not yet wired into delivery (issue 16).
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace tern::policy {

inline constexpr std::size_t kMaxAliasDepth = 20;

class Aliases {
 public:
  using IsLocalDomain = std::function<bool(std::string_view domain)>;

  // Errors name the source and line: "aliases:3: 'x y' is not an address".
  static Result<Aliases> parse(std::string_view text, std::string_view source);

  // The final recipients of `address` ("local@domain", any case), lower-
  // cased, in order, each once: the address itself when no alias applies.
  // A loop or a chain deeper than kMaxAliasDepth: 554 5.4.6.
  Result<std::vector<std::string>> expand(std::string_view address, const IsLocalDomain& is_local_domain) const;

  // check-config: every entry expands without a loop; errors name the line
  // of the entry that loops.
  Result<void> check(const IsLocalDomain& is_local_domain) const;

  std::size_t size() const { return addresses_.size() + local_parts_.size() + domains_.size(); }

 private:
  struct Entry {
    std::vector<std::string> targets;  // lower-cased; bare local parts kept bare
    std::size_t line = 0;
  };
  struct Found {
    const Entry* entry;
    std::string domain;  // what a bare target gets
  };

  Found find(std::string_view address, const IsLocalDomain& is_local_domain) const;
  Result<void> expand_into(const std::string& address, const IsLocalDomain& is_local_domain,
                           std::vector<std::string>& path, std::vector<std::string>& out) const;
  Result<void> add_line(std::string_view line, std::size_t number);

  std::string source_;
  std::map<std::string, Entry, std::less<>> addresses_;    // "info@example.org"
  std::map<std::string, Entry, std::less<>> local_parts_;  // "sales"
  std::map<std::string, Entry, std::less<>> domains_;      // "example.net"
};

}  // namespace tern::policy
