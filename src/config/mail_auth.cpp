// The mail-authentication tables: [spf], [dkim], [dmarc], [srs], [arc].
#include "config/reader.h"

namespace tern::config {

std::string_view action_name(Action action) {
  switch (action) {
    case Action::kAnnotate: return "annotate";
    case Action::kReject: return "reject";
    case Action::kDefer: return "defer";
  }
  return "?";
}

namespace {

// One of `allowed` (by name), into `out`.
void action(Reader& r, const toml::node& node, const std::string& name, std::vector<Action> allowed, Action& out) {
  std::string text;
  r.string(node, name, text);
  if (r.error) return;
  std::string names;
  for (auto a : allowed) {
    if (text == action_name(a)) {
      out = a;
      return;
    }
    names += fmt::format("{}\"{}\"", names.empty() ? "" : " or ", action_name(a));
  }
  r.fail(node, fmt::format("'{}' must be {}", name, names));
}

// RFC 6376 3.1: a selector is a sub-domain (dot-separated labels).
void selector(Reader& r, const toml::node& node, const std::string& name, std::string& out) {
  r.string(node, name, out);
  if (!r.error && !is_host_name(out)) r.fail(node, fmt::format("'{}' must be a DNS label like \"s2026\"", name));
}

void path(Reader& r, const toml::node& node, const std::string& name, std::string& out) {
  r.string(node, name, out);
  if (!r.error && out.empty()) r.fail(node, fmt::format("'{}' must name a file", name));
}

// One signing key of [dkim."domain"].
void read_dkim_key(Reader& r, const toml::node& node, const std::string& prefix, DkimKey& key) {
  const auto* t = node.as_table();
  if (!t) return r.fail(node, fmt::format("'{}' must be a table with selector and key", prefix));
  std::map<std::string, Handler> keys{
      {"selector", [&](auto& n, auto& k) { selector(r, n, k, key.selector); }},
      {"key", [&](auto& n, auto& k) { path(r, n, k, key.key); }},
  };
  r.table(*t, prefix, keys);
  if (!r.error && (key.selector.empty() || key.key.empty())) {
    r.fail(node, fmt::format("'{}' needs both selector and key", prefix));
  }
}

}  // namespace

void read_spf(Reader& r, const toml::node& node, Spf& spf) {
  const auto* t = node.as_table();
  if (!t) return r.fail(node, "'spf' must be a table");
  std::map<std::string, Handler> keys{
      {"verify", [&](auto& n, auto& k) { r.boolean(n, k, spf.verify); }},
      {"action_fail", [&](auto& n, auto& k) { action(r, n, k, {Action::kAnnotate, Action::kReject}, spf.action_fail); }},
      {"action_temperror",
       [&](auto& n, auto& k) { action(r, n, k, {Action::kAnnotate, Action::kDefer}, spf.action_temperror); }},
  };
  r.table(*t, "spf", keys);
}

// [dkim] holds `verify` and one table (or array of tables) per signing
// domain: a key that is not `verify` names a domain.
void read_dkim(Reader& r, const toml::node& node, Dkim& dkim) {
  const auto* t = node.as_table();
  if (!t) return r.fail(node, "'dkim' must be a table");
  for (const auto& [name, value] : *t) {
    if (r.error) return;
    auto domain = to_lower(name.str());
    auto prefix = fmt::format("dkim.{}", name.str());
    if (domain == "verify") {
      r.boolean(value, prefix, dkim.verify);
      continue;
    }
    if (!is_host_name(domain)) return r.fail(value, fmt::format("'{}': not a domain name", prefix));
    const auto* many = value.as_array();
    if (!many) {
      DkimKey key{domain, "", ""};
      read_dkim_key(r, value, prefix, key);
      dkim.keys.push_back(std::move(key));
      continue;
    }
    for (const auto& item : *many) {
      DkimKey key{domain, "", ""};
      read_dkim_key(r, item, prefix, key);
      dkim.keys.push_back(std::move(key));
    }
  }
}

void read_dmarc(Reader& r, const toml::node& node, Dmarc& dmarc) {
  const auto* t = node.as_table();
  if (!t) return r.fail(node, "'dmarc' must be a table");
  std::map<std::string, Handler> keys{
      {"verify", [&](auto& n, auto& k) { r.boolean(n, k, dmarc.verify); }},
      {"action_reject",
       [&](auto& n, auto& k) { action(r, n, k, {Action::kReject, Action::kAnnotate}, dmarc.action_reject); }},
      {"action_temperror",
       [&](auto& n, auto& k) { action(r, n, k, {Action::kAnnotate, Action::kDefer}, dmarc.action_temperror); }},
  };
  r.table(*t, "dmarc", keys);
}

void read_srs(Reader& r, const toml::node& node, Srs& srs) {
  const auto* t = node.as_table();
  if (!t) return r.fail(node, "'srs' must be a table");
  std::map<std::string, Handler> keys{
      {"secret", [&](auto& n, auto& k) {
         // Any length: a short one is only warned about at start (tern serve),
         // rather than refusing to start for it.
         r.string(n, k, srs.secret);
       }},
      {"domain", [&](auto& n, auto& k) {
         r.string(n, k, srs.domain);
         srs.domain = to_lower(srs.domain);
         if (!r.error && !is_host_name(srs.domain)) r.fail(n, fmt::format("'{}' must be a domain name", k));
       }},
      {"max_age", [&](auto& n, auto& k) { r.timeout(n, k, srs.max_age); }},
  };
  r.table(*t, "srs", keys);
}

void read_arc(Reader& r, const toml::node& node, Arc& arc) {
  const auto* t = node.as_table();
  if (!t) return r.fail(node, "'arc' must be a table");
  std::map<std::string, Handler> keys{
      {"verify", [&](auto& n, auto& k) { r.boolean(n, k, arc.verify); }},
      {"domain", [&](auto& n, auto& k) {
         r.string(n, k, arc.domain);
         arc.domain = to_lower(arc.domain);
         if (!r.error && !is_host_name(arc.domain)) r.fail(n, fmt::format("'{}' must be a domain name", k));
       }},
      {"selector", [&](auto& n, auto& k) { selector(r, n, k, arc.selector); }},
      {"key", [&](auto& n, auto& k) { path(r, n, k, arc.key); }},
  };
  r.table(*t, "arc", keys);
  if (!r.error && arc.sealing() && (arc.selector.empty() || arc.key.empty())) {
    r.fail(node, "'arc.domain' needs 'arc.selector' and 'arc.key' (sealing)");
  }
}

}  // namespace tern::config
