#pragma once
// The aliases file ([local] aliases): one entry a line, "#" comments, a key
// and then its targets separated by commas:
//
//   sales                 alice, bob               # a local part: in every local domain
//   info@example.org      carol                    # one address; a bare target = same domain
//   team@example.test     alice, dave@remote.test  # a remote target: forwarded
//   @example.net          catchall@example.test    # every local part of a domain
//
// Lookup order for an address (Lookup below says what else counts): the
// address itself, then its local part (local domains only), then the same
// two without a subaddress ("alice+tag" -> "alice", RFC 5233), then a real
// mailbox (which a catch-all must not swallow), then its domain's
// catch-all. Targets that are aliases expand in turn, up to kMaxAliasDepth
// levels; a target naming the alias being expanded is its own mailbox
// (Postfix: "alice: alice, archive"); any other cycle is a loop.
// Duplicates are delivered once.
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace tern::policy {

inline constexpr std::size_t kMaxAliasDepth = 20;

// RFC 5233 subaddressing: "alice+tag" -> "alice" with delimiters "+" (any
// one of the characters); none without a delimiter, or when the local part
// starts with one ("+x" is a name of its own).
std::optional<std::string> strip_subaddress(std::string_view local_part, std::string_view delimiters);

class Aliases {
 public:
  using IsLocalDomain = std::function<bool(std::string_view domain)>;

  // What the rest of the configuration says about addresses.
  struct Lookup {
    IsLocalDomain is_local_domain;
    // A real mailbox: found before a catch-all. Null: none.
    std::function<bool(std::string_view address)> is_mailbox;
    // Where an address without an alias goes instead (postmaster@ and
    // abuse@, RFC 2142), or "" when it is final. Null: nowhere.
    std::function<std::string(std::string_view address)> redirect;
    std::string delimiter;  // subaddress delimiters; empty: off
  };

  // Errors name the source and line: "aliases:3: 'x y' is not an address".
  static Result<Aliases> parse(std::string_view text, std::string_view source);

  // The final recipients of `address` ("local@domain", any case), lower-
  // cased, in order, each once: the address itself when no alias applies.
  // A loop or a chain deeper than kMaxAliasDepth: 554 5.4.6.
  Result<std::vector<std::string>> expand(std::string_view address, const Lookup& lookup) const;
  Result<std::vector<std::string>> expand(std::string_view address, const IsLocalDomain& is_local_domain) const {
    return expand(address, Lookup{is_local_domain, nullptr, nullptr, ""});
  }
  // Whether an entry applies to `address` (lower-cased), as expand() would
  // find it.
  bool has(std::string_view address, const Lookup& lookup) const;
  // Whether any entry is "@domain" for this domain (lower-cased).
  bool has_catch_all(std::string_view domain) const { return domains_.count(domain) > 0; }

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
    const Entry* entry = nullptr;
    std::string domain;    // what a bare target gets
    std::string redirect;  // no entry: where Lookup::redirect sends it
  };

  const Entry* find_exact(std::string_view address, bool local) const;
  Found find(std::string_view address, const Lookup& lookup) const;
  Result<void> expand_into(const std::string& address, const Lookup& lookup, std::vector<std::string>& path,
                           std::vector<std::string>& out) const;
  Result<void> add_line(std::string_view line, std::size_t number);

  std::string source_;
  std::map<std::string, Entry, std::less<>> addresses_;    // "info@example.org"
  std::map<std::string, Entry, std::less<>> local_parts_;  // "sales"
  std::map<std::string, Entry, std::less<>> domains_;      // "example.net"
};

}  // namespace tern::policy
