#include "policy/aliases.h"

#include <algorithm>
#include <optional>
#include <fmt/format.h>

#include "base/text.h"
#include "proto/address.h"

namespace tern::policy {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

// "#" starts a comment at the start of a line or after white space ("#"
// may be part of a local part: a#b@example.test).
std::string_view strip_comment(std::string_view line) {
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) return line.substr(0, i);
  }
  return line;
}

// A mailbox as an SMTP path would carry it (RFC 5321 4.1.2, RFC 6531).
bool is_address(std::string_view text) {
  auto parsed = proto::parse_path("<" + std::string(text) + ">", {.smtputf8 = true});
  return parsed && parsed->rest.empty() && !parsed->path.mailbox.domain.empty();
}

bool is_local_part(std::string_view text) {
  return !text.empty() && text.find('@') == std::string_view::npos && is_address(std::string(text) + "@example.invalid");
}

std::string domain_of(std::string_view address) {
  auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : std::string(address.substr(at + 1));
}

Error loop_error(std::string detail) { return Error{554, "5.4.6", "Mail loop in aliases", std::move(detail)}; }

}  // namespace

Result<Aliases> Aliases::parse(std::string_view text, std::string_view source) {
  Aliases aliases;
  aliases.source_ = source;
  std::optional<Error> error;
  for_each_line(text, [&](std::string_view line, std::size_t number) {
    auto added = aliases.add_line(line, number);
    if (!added) error = added.error();
    return added.ok();
  });
  if (error) return *error;
  return aliases;
}

Result<void> Aliases::add_line(std::string_view raw, std::size_t number) {
  auto fail = [&](std::string message) {
    return Error{0, "", fmt::format("{}:{}: {}", source_, number, message), ""};
  };
  auto line = trim(strip_comment(raw));
  if (line.empty()) return {};
  auto gap = line.find_first_of(" \t");
  if (gap == std::string_view::npos) return fail(fmt::format("'{}' has no targets", line));
  auto key = to_lower(line.substr(0, gap));
  if (!key.empty() && key.back() == ':') key.pop_back();  // "sales: alice" as in /etc/aliases
  Entry entry;
  entry.line = number;
  auto rest = line.substr(gap + 1);
  while (true) {
    auto comma = rest.find(',');
    auto target = to_lower(trim(rest.substr(0, comma)));
    if (target.empty()) return fail(fmt::format("'{}': an empty target", key));
    if (!is_address(target) && !is_local_part(target)) return fail(fmt::format("'{}' is not an address", target));
    if (std::find(entry.targets.begin(), entry.targets.end(), target) == entry.targets.end()) {
      entry.targets.push_back(target);
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  std::map<std::string, Entry, std::less<>>* table = nullptr;
  if (key.size() > 1 && key.front() == '@' && proto::is_domain(std::string_view(key).substr(1), true)) {
    table = &domains_;
    key.erase(0, 1);
  } else if (is_address(key)) {
    table = &addresses_;
  } else if (is_local_part(key)) {
    table = &local_parts_;
  } else {
    return fail(fmt::format("'{}' is not a local part, an address or @domain", key));
  }
  if (table->count(key)) return fail(fmt::format("'{}' is listed twice (also on line {})", key, table->at(key).line));
  table->emplace(std::move(key), std::move(entry));
  return {};
}

std::optional<std::string> strip_subaddress(std::string_view local, std::string_view delimiters) {
  if (delimiters.empty()) return std::nullopt;
  auto cut = local.find_first_of(delimiters);
  if (cut == std::string_view::npos || cut == 0) return std::nullopt;
  return std::string(local.substr(0, cut));
}

const Aliases::Entry* Aliases::find_exact(std::string_view address, bool local) const {
  if (auto it = addresses_.find(address); it != addresses_.end()) return &it->second;
  if (local) {
    if (auto it = local_parts_.find(address.substr(0, address.rfind('@'))); it != local_parts_.end()) return &it->second;
  }
  return nullptr;
}

Aliases::Found Aliases::find(std::string_view address, const Lookup& lookup) const {
  auto domain = domain_of(address);
  bool local = lookup.is_local_domain(domain);
  if (auto* entry = find_exact(address, local)) return {entry, domain, ""};
  auto base = strip_subaddress(address.substr(0, address.rfind('@')), lookup.delimiter);
  if (base) {
    if (auto* entry = find_exact(*base + "@" + domain, local)) return {entry, domain, ""};
  }
  if (lookup.redirect) {
    auto to = lookup.redirect(base ? *base + "@" + domain : std::string(address));
    if (!to.empty()) return {nullptr, domain, to};
  }
  if (lookup.is_mailbox && lookup.is_mailbox(address)) return {nullptr, domain, ""};
  if (auto it = domains_.find(domain); it != domains_.end()) return {&it->second, domain, ""};
  return {nullptr, domain, ""};
}

bool Aliases::has(std::string_view address, const Lookup& lookup) const {
  auto found = find(address, lookup);
  return found.entry != nullptr;
}

Result<void> Aliases::expand_into(const std::string& address, const Lookup& lookup, std::vector<std::string>& path,
                                  std::vector<std::string>& out) const {
  auto found = find(address, lookup);
  auto add = [&out](const std::string& final) {
    if (std::find(out.begin(), out.end(), final) == out.end()) out.push_back(final);
  };
  if (!found.entry && (found.redirect.empty() || found.redirect == address)) {
    add(address);
    return {};
  }
  if (path.size() >= kMaxAliasDepth) {
    return loop_error(fmt::format("{}:{}: aliases nested deeper than {} at {}", source_,
                                  found.entry ? found.entry->line : 0, kMaxAliasDepth, address));
  }
  std::vector<std::string> targets{found.redirect};
  if (found.entry) targets = found.entry->targets;
  path.push_back(address);
  for (const auto& target : targets) {
    auto full = target.find('@') == std::string::npos ? target + "@" + found.domain : target;
    if (full == address) {  // the alias's own mailbox
      add(full);
      continue;
    }
    if (std::find(path.begin(), path.end(), full) != path.end()) {
      return loop_error(fmt::format("{}:{}: alias loop: {} -> {}", source_, found.entry ? found.entry->line : 0,
                                    address, full));
    }
    if (auto expanded = expand_into(full, lookup, path, out); !expanded) return expanded;
  }
  path.pop_back();
  return {};
}

Result<std::vector<std::string>> Aliases::expand(std::string_view address, const Lookup& lookup) const {
  std::vector<std::string> path;
  std::vector<std::string> out;
  auto expanded = expand_into(to_lower(address), lookup, path, out);
  if (!expanded) return expanded.error();
  return out;
}

Result<void> Aliases::check(const IsLocalDomain& is_local_domain) const {
  // A local part is tried with a domain that stands for every local domain.
  constexpr std::string_view kAnyLocalDomain = "local.invalid";
  IsLocalDomain local = [&](std::string_view domain) { return domain == kAnyLocalDomain || is_local_domain(domain); };
  auto try_key = [&](const std::string& address) -> Result<void> {
    auto expanded = expand(address, local);
    if (!expanded) {
      // Local-part keys are named as written ("a -> b", not "a@local.invalid").
      auto text = expanded.error().detail;
      for (auto at = text.find("@" + std::string(kAnyLocalDomain)); at != std::string::npos;
           at = text.find("@" + std::string(kAnyLocalDomain))) {
        text.erase(at, kAnyLocalDomain.size() + 1);
      }
      return Error{0, "", text, ""};
    }
    return {};
  };
  for (const auto& [address, entry] : addresses_) {
    if (auto r = try_key(address); !r) return r;
  }
  for (const auto& [part, entry] : local_parts_) {
    if (auto r = try_key(part + "@" + std::string(kAnyLocalDomain)); !r) return r;
  }
  for (const auto& [domain, entry] : domains_) {
    if (auto r = try_key("any-local-part@" + domain); !r) return r;
  }
  return {};
}

}  // namespace tern::policy
