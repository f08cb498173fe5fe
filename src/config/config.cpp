#include "config/config.h"

#include <fmt/format.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <toml++/toml.h>

#include "base/text.h"
#include "config/reader.h"

namespace tern::config {

const std::string_view kEmbeddedDefault = R"(# tern's embedded default configuration
data_dir = "var"

[[listener]]
address = "127.0.0.1:2525"

[local]
domains = ["localhost"]
accept_any_user = true
)";

// A host name (RFC 1035 2.3.1, RFC 1123 2.1): letters, digits and hyphens
// in labels of 1-63 octets, not starting or ending with a hyphen; 253
// octets in all. tern puts these names in its greeting and headers, so a
// line break or a space in one would be an injection. With `utf8`, octets
// of U-labels too (RFC 6531: local domains may be IDNs).
bool is_host_name(std::string_view name, bool utf8) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    char c = i < name.size() ? name[i] : '.';
    if (c == '.') {
      if (label == 0 || label > 63 || name[i - 1] == '-' || name[i - label] == '-') return false;
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
               (utf8 && static_cast<unsigned char>(c) >= 0x80)) {
      ++label;
    } else {
      return false;
    }
  }
  return true;
}

namespace {

// A local part as tern stores mail for it (RFC 5322 3.2.3 dot-atom text,
// and UTF-8 for RFC 6531 addresses): no space, control byte, "@" or quote.
bool is_user_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '.' || name.back() == '.') return false;
  static constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~.";
  for (unsigned char c : name) {
    bool ok = std::isalnum(c) || kSpecials.find(static_cast<char>(c)) != std::string_view::npos || c >= 0x80;
    if (!ok) return false;
  }
  return true;
}

bool has_control(std::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

bool is_ip_address(const std::string& host) {
  in6_addr ip{};
  return inet_pton(AF_INET, host.c_str(), &ip) == 1 || inet_pton(AF_INET6, host.c_str(), &ip) == 1;
}


void read_limits(Reader& r, const toml::node& node, Limits& l) {
  const auto* t = node.as_table();
  if (!t) return r.fail(node, "'limits' must be a table");
  std::map<std::string, Handler> keys{
      {"max_message_size", [&](auto& n, auto& k) { r.integer(n, k, l.max_message_size, 1); }},
      {"max_recipients", [&](auto& n, auto& k) { r.integer(n, k, l.max_recipients, 1); }},
      {"max_connections", [&](auto& n, auto& k) { r.integer(n, k, l.max_connections, 1); }},
      {"max_connections_per_ip", [&](auto& n, auto& k) { r.integer(n, k, l.max_connections_per_ip, 1); }},
      // RFC 5321 4.5.3.1.4/6: the limits may not go below 512 and 1000.
      {"max_command_line_length", [&](auto& n, auto& k) { r.integer(n, k, l.max_command_line_length, 512); }},
      {"max_line_length", [&](auto& n, auto& k) { r.integer(n, k, l.max_line_length, 1000); }},
      {"max_errors", [&](auto& n, auto& k) { r.integer(n, k, l.max_errors, 1); }},
      {"max_received_headers", [&](auto& n, auto& k) { r.integer(n, k, l.max_received_headers, 1); }},
      {"max_recipient_overshoot", [&](auto& n, auto& k) { r.integer(n, k, l.max_recipient_overshoot, 0); }},
      {"max_junk_commands", [&](auto& n, auto& k) { r.integer(n, k, l.max_junk_commands, 0); }},
      {"check_timeout", [&](auto& n, auto& k) { r.timeout(n, k, l.check_timeout); }},
      {"command_timeout", [&](auto& n, auto& k) { r.timeout(n, k, l.command_timeout); }},
      {"data_timeout", [&](auto& n, auto& k) { r.timeout(n, k, l.data_timeout); }},
  };
  r.table(*t, "limits", keys);
}

void read_queue(Reader& r, const toml::node& node, Queue& q) {
  const auto* t = node.as_table();
  if (!t) return r.fail(node, "'queue' must be a table");
  std::map<std::string, Handler> keys{
      {"retry_interval", [&](auto& n, auto& k) { r.duration(n, k, q.retry_interval); }},
      {"max_retry_interval", [&](auto& n, auto& k) { r.duration(n, k, q.max_retry_interval); }},
      {"max_lifetime", [&](auto& n, auto& k) { r.duration(n, k, q.max_lifetime); }},
      {"delay_warning", [&](auto& n, auto& k) { r.duration(n, k, q.delay_warning); }},
  };
  r.table(*t, "queue", keys);
}

void read_relay(Reader& r, const toml::node& node, Relay& relay) {
  const auto* t = node.as_table();
  if (!t) return r.fail(node, "'relay' must be a table");
  std::map<std::string, Handler> keys{
      {"networks", [&](auto& n, auto& k) { r.strings(n, k, relay.networks); }},
      {"smarthost", [&](auto& n, auto& k) {
         r.string(n, k, relay.smarthost);
         Listener probe{relay.smarthost, "", 0};
         bool ok = parse_host_port(probe) && (is_host_name(probe.host) || is_ip_address(probe.host));
         if (!r.error && !relay.smarthost.empty() && !ok) r.fail(n, fmt::format("'{}' must be host:port", k));
       }},
      {"smarthost_tls", [&](auto& n, auto& k) {
         r.string(n, k, relay.smarthost_tls);
         if (!r.error && relay.smarthost_tls != "may" && relay.smarthost_tls != "required" &&
             relay.smarthost_tls != "implicit") {
           r.fail(n, fmt::format("'{}' must be one of may, required, implicit", k));
         }
       }},
      {"smarthost_username", [&](auto& n, auto& k) { r.string(n, k, relay.smarthost_username); }},
      {"smarthost_password", [&](auto& n, auto& k) { r.string(n, k, relay.smarthost_password); }},
  };
  r.table(*t, "relay", keys);
  if (!relay.smarthost_username.empty() && relay.smarthost.empty()) {
    r.fail(node, "'relay.smarthost_username' needs 'relay.smarthost'");
  }
  if (!relay.smarthost_password.empty() && relay.smarthost_username.empty()) {
    r.fail(node, "'relay.smarthost_password' needs 'relay.smarthost_username'");
  }
}

void read_outbound(Reader& r, const toml::node& node, Outbound& outbound) {
  const auto* t = node.as_table();
  if (!t) return r.fail(node, "'outbound' must be a table");
  std::map<std::string, Handler> keys{
      {"port", [&](auto& n, auto& k) {
         std::uint64_t port = 0;
         r.integer(n, k, port, 1);
         if (!r.error && port > 65535) r.fail(n, fmt::format("'{}' must be a port number", k));
         outbound.port = static_cast<std::uint16_t>(port);
       }},
      {"max_connections", [&](auto& n, auto& k) { r.integer(n, k, outbound.max_connections, 1); }},
      {"max_connections_per_destination",
       [&](auto& n, auto& k) { r.integer(n, k, outbound.max_connections_per_destination, 1); }},
      {"max_waiting_per_destination",
       [&](auto& n, auto& k) { r.integer(n, k, outbound.max_waiting_per_destination, 1); }},
      {"connect_timeout", [&](auto& n, auto& k) { r.timeout(n, k, outbound.connect_timeout); }},
      {"command_timeout", [&](auto& n, auto& k) { r.timeout(n, k, outbound.command_timeout); }},
      {"data_timeout", [&](auto& n, auto& k) { r.timeout(n, k, outbound.data_timeout); }},
  };
  r.table(*t, "outbound", keys);
}

// "ip:port" or "[v6]:port" with an IP address, not a name.
std::optional<Listener> parse_ip_port(const std::string& text) {
  Listener parsed{text, "", 0};
  in6_addr ip{};
  if (!parse_host_port(parsed)) return std::nullopt;
  if (inet_pton(AF_INET, parsed.host.c_str(), &ip) != 1 && inet_pton(AF_INET6, parsed.host.c_str(), &ip) != 1) {
    return std::nullopt;
  }
  return parsed;
}

// A [dns] server as "ip:port": given so, as "[v6]:port", as a bare IP
// address (port 53, as in resolv.conf), or as unbound's "ip@port".
std::optional<std::string> dns_server(const std::string& text) {
  if (parse_ip_port(text)) return text;
  auto at = text.rfind('@');
  std::string ip = text.substr(0, at);
  std::string port = at == std::string::npos ? "53" : text.substr(at + 1);
  std::string normal = ip.find(':') == std::string::npos ? ip + ":" + port : "[" + ip + "]:" + port;
  if (!parse_ip_port(normal)) return std::nullopt;
  return normal;
}

void read_dns(Reader& r, const toml::node& node, Dns& dns) {
  const auto* t = node.as_table();
  if (!t) return r.fail(node, "'dns' must be a table");
  std::map<std::string, Handler> keys{
      {"servers", [&](auto& n, auto& k) {
         r.strings(n, k, dns.servers);
         for (auto& server : dns.servers) {
           auto normal = dns_server(server);
           if (!normal) return r.fail(n, fmt::format("'{}' entries must be IP addresses, as ip:port", k));
           server = *normal;
         }
       }},
  };
  r.table(*t, "dns", keys);
}

void read_http(Reader& r, const toml::node& node, Http& http) {
  const auto* t = node.as_table();
  if (!t) return r.fail(node, "'http' must be a table");
  std::map<std::string, Handler> keys{
      {"address", [&](auto& n, auto& k) {
         r.string(n, k, http.address);
         auto parsed = parse_ip_port(http.address);
         if (!r.error && !parsed) r.fail(n, fmt::format("'{}' must be ip:port, like \"127.0.0.1:9025\"", k));
         if (parsed) {
           http.host = parsed->host;
           http.port = parsed->port;
         }
       }},
  };
  r.table(*t, "http", keys);
}

bool is_address(std::string_view text) {
  auto at = text.rfind('@');
  return at != std::string_view::npos && is_user_name(text.substr(0, at)) && is_host_name(text.substr(at + 1), true);
}

// RFC 5233 subaddressing: each character a delimiter, none that can end or
// quote a local part.
bool is_delimiter(std::string_view text) {
  static constexpr std::string_view kAllowed = "+-_=.~#%&!$^{}|/";
  return text.size() <= 8 && text.find_first_not_of(kAllowed) == std::string_view::npos;
}

void read_mail_store(Reader& r, const toml::node& node, const std::string& name, MailStore& out) {
  std::string text;
  r.string(node, name, text);
  if (r.error) return;
  auto store = parse_mail_store(text);
  if (!store) {
    return r.fail(node, fmt::format("'{}' must be \"maildir\", \"lmtp:unix:/path/to/socket\" or \"lmtp:host:port\"", name));
  }
  out = *store;
}

void read_users(Reader& r, const toml::node& node, const std::string& name, std::vector<std::string>& users);

void read_local(Reader& r, const toml::node& node, Local& l) {
  const auto* t = node.as_table();
  if (!t) return r.fail(node, "'local' must be a table");
  std::map<std::string, Handler> keys{
      {"domains", [&](auto& n, auto& k) {
         r.strings(n, k, l.domains);
         for (const auto& domain : l.domains) {
           if (!r.error && !is_host_name(domain, true)) r.fail(n, fmt::format("'{}': \"{}\" is not a domain name", k, domain));
         }
       }},
      {"users", [&](auto& n, auto& k) { read_users(r, n, k, l.users); }},
      {"accept_any_user", [&](auto& n, auto& k) { r.boolean(n, k, l.accept_any_user); }},
      {"aliases", [&](auto& n, auto& k) {
         r.string(n, k, l.aliases);
         if (!r.error && has_control(l.aliases)) r.fail(n, fmt::format("'{}' must be a path without control characters", k));
       }},
      {"recipient_delimiter", [&](auto& n, auto& k) {
         r.string(n, k, l.recipient_delimiter);
         if (!r.error && !is_delimiter(l.recipient_delimiter)) {
           r.fail(n, fmt::format("'{}' must be \"\" or characters such as \"+\" or \"-\" (each one a delimiter)", k));
         }
       }},
      {"delivery", [&](auto& n, auto& k) { read_mail_store(r, n, k, l.delivery); }},
      {"postmaster", [&](auto& n, auto& k) {
         r.string(n, k, l.postmaster);
         if (!r.error && !is_address(l.postmaster)) r.fail(n, fmt::format("'{}' must be an address, user@domain", k));
       }},
  };
  r.table(*t, "local", keys);
  for (std::size_t i = 0; i < l.domains.size() && !r.error; ++i) {
    if (std::find(l.domains.begin(), l.domains.begin() + i, l.domains[i]) != l.domains.begin() + i) {
      r.fail(node, fmt::format("'local.domains': \"{}\" is listed twice", l.domains[i]));
    }
  }
}

void read_users(Reader& r, const toml::node& node, const std::string& name, std::vector<std::string>& users) {
  r.strings(node, name, users);
  for (const auto& user : users) {
    if (!r.error && !is_user_name(user)) {
      r.fail(node, fmt::format("'{}': \"{}\" is not a local part (no spaces, control characters, @ or quotes)", name, user));
    }
  }
}

// [domain."example.org"] tables: each makes its domain local.
void read_domains(Reader& r, const toml::node& node, Local& local) {
  const auto* t = node.as_table();
  if (!t) return r.fail(node, "'domain' must be tables: [domain.\"example.org\"]");
  for (const auto& [name, value] : *t) {
    auto prefix = fmt::format("domain.\"{}\"", name.str());
    auto domain_name = to_lower(name.str());
    const auto* table = value.as_table();
    if (!table) return r.fail(value, fmt::format("'{}' must be a table", prefix));
    if (!is_host_name(domain_name, true)) return r.fail(value, fmt::format("'{}': not a domain name", prefix));
    if (local.domain.count(domain_name)) return r.fail(value, fmt::format("'{}': the domain is listed twice", prefix));
    Domain domain;
    std::map<std::string, Handler> keys{
        {"users", [&](auto& n, auto& k) { read_users(r, n, k, domain.users.emplace()); }},
        {"accept_any_user", [&](auto& n, auto& k) { r.boolean(n, k, domain.accept_any_user.emplace()); }},
        {"delivery", [&](auto& n, auto& k) { read_mail_store(r, n, k, domain.delivery.emplace()); }},
        {"verify_recipients", [&](auto& n, auto& k) {
           std::string how;
           r.string(n, k, how);
           if (!r.error && how != "lmtp" && how != "none") r.fail(n, fmt::format("'{}' must be \"lmtp\" or \"none\"", k));
           domain.verify_recipients = how == "lmtp";
         }},
    };
    r.table(*table, prefix, keys);
    if (r.error) return;
    local.domain.emplace(domain_name, std::move(domain));
  }
}

// After the whole file is read: [domain] tables add their domains, and
// verify_recipients needs an LMTP store to ask.
void finish_local(Reader& r, const toml::node& root, Local& local) {
  for (const auto& [name, domain] : local.domain) {
    if (std::find(local.domains.begin(), local.domains.end(), name) == local.domains.end()) local.domains.push_back(name);
    const auto& store = domain.delivery ? *domain.delivery : local.delivery;
    if (domain.verify_recipients && !store.lmtp()) {
      const auto* where = root.as_table()->get("domain");
      r.fail(where ? *where : root, fmt::format("'domain.\"{}\".verify_recipients = \"lmtp\"' needs an LMTP "
                                                "'delivery' for that domain", name));
    }
  }
  if (local.postmaster.empty()) local.postmaster = "postmaster@" + (local.domains.empty() ? "localhost" : local.domains.front());
}

void read_listeners(Reader& r, const toml::node& node, std::vector<Listener>& out) {
  const auto* array = node.as_array();
  if (!array) return r.fail(node, "'listener' must be an array of tables: [[listener]]");
  for (const auto& item : *array) {
    const auto* t = item.as_table();
    if (!t) return r.fail(item, "'listener' must be an array of tables: [[listener]]");
    Listener listener;
    std::map<std::string, Handler> keys{
        {"address", [&](auto& n, auto& k) {
           r.string(n, k, listener.address);
           if (!r.error && (!parse_host_port(listener) || !is_ip_address(listener.host))) {
             r.fail(n, fmt::format("'{}' must be ip:port or [ipv6]:port", k));
           }
         }},
        {"role", [&](auto& n, auto& k) {
           std::string role;
           r.string(n, k, role);
           if (role == "mx") {
             listener.role = ListenerRole::kMx;
           } else if (role == "submission") {
             listener.role = ListenerRole::kSubmission;
           } else if (role == "submissions") {
             listener.role = ListenerRole::kSubmissions;
           } else if (!r.error) {
             r.fail(n, fmt::format("'{}' must be one of mx, submission, submissions", k));
           }
         }},
    };
    r.table(*t, "listener", keys);
    if (listener.port == 0 && !r.error) r.fail(item, "'listener.address' is required");
    out.push_back(std::move(listener));
  }
}

void read_tls(Reader& r, const toml::node& node, Tls& tls) {
  const auto* t = node.as_table();
  if (!t) return r.fail(node, "'tls' must be a table");
  std::map<std::string, Handler> keys{
      {"certificate", [&](auto& n, auto& k) { r.string(n, k, tls.certificate); }},
      {"key", [&](auto& n, auto& k) { r.string(n, k, tls.key); }},
  };
  r.table(*t, "tls", keys);
  if (!r.error && tls.certificate.empty() != tls.key.empty()) {
    r.fail(node, tls.certificate.empty() ? "'tls.key' needs 'tls.certificate'" : "'tls.certificate' needs 'tls.key'");
  }
}

// An address a login may use as its envelope sender: "user@domain" or
// "@domain".
bool is_sender_pattern(std::string_view text) {
  auto at = text.rfind('@');
  if (at == std::string_view::npos || has_control(text) || text.find(' ') != std::string_view::npos) return false;
  return is_host_name(text.substr(at + 1), true);
}

void read_auth_senders(Reader& r, const toml::node& node, std::map<std::string, std::vector<std::string>>& out) {
  const auto* t = node.as_table();
  if (!t) return r.fail(node, "'auth.senders' must be a table: login = [\"address\", \"@domain\"]");
  for (const auto& [login, addresses] : *t) {
    auto name = fmt::format("auth.senders.\"{}\"", login.str());
    if (!is_sender_pattern(login.str()) || login.str().front() == '@') {
      return r.fail(addresses, fmt::format("'{}': the login must be an address", name));
    }
    auto& list = out[to_lower(login.str())];
    r.strings(addresses, name, list);
    for (const auto& address : list) {
      if (!r.error && !is_sender_pattern(address)) {
        r.fail(addresses, fmt::format("'{}': \"{}\" is not an address or @domain", name, address));
      }
    }
  }
}

void read_auth(Reader& r, const toml::node& node, Auth& auth) {
  const auto* t = node.as_table();
  if (!t) return r.fail(node, "'auth' must be a table");
  std::map<std::string, Handler> keys{
      {"users_file", [&](auto& n, auto& k) {
         r.string(n, k, auth.users_file);
         if (!r.error && (auth.users_file.empty() || has_control(auth.users_file))) {
           r.fail(n, fmt::format("'{}' must be a path without control characters", k));
         }
       }},
      {"max_failures", [&](auto& n, auto& k) { r.integer(n, k, auth.max_failures, 1); }},
      {"failure_delay", [&](auto& n, auto& k) { r.duration(n, k, auth.failure_delay); }},
      {"show_login", [&](auto& n, auto& k) { r.boolean(n, k, auth.show_login); }},
      {"senders", [&](auto& n, auto&) { read_auth_senders(r, n, auth.senders); }},
  };
  r.table(*t, "auth", keys);
}

std::string system_hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || !is_host_name(name)) return "localhost";
  return name;
}

}  // namespace

std::string_view role_name(ListenerRole role) {
  switch (role) {
    case ListenerRole::kMx: return "mx";
    case ListenerRole::kSubmission: return "submission";
    case ListenerRole::kSubmissions: return "submissions";
  }
  return "mx";
}

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
  if (text == "0") return std::chrono::seconds(0);
  if (text.size() < 2) return std::nullopt;
  auto number = parse_decimal(text.substr(0, text.size() - 1));
  if (!number || *number > 100u * 365 * 86400) return std::nullopt;
  auto n = static_cast<std::int64_t>(*number);
  switch (text.back()) {
    case 's': return std::chrono::seconds(n);
    case 'm': return std::chrono::seconds(n * 60);
    case 'h': return std::chrono::seconds(n * 3600);
    case 'd': return std::chrono::seconds(n * 86400);
    default: return std::nullopt;
  }
}

std::optional<MailStore> parse_mail_store(std::string_view text) {
  MailStore store;
  store.text = std::string(text);
  if (text == "maildir") return store;
  if (!text.starts_with("lmtp:") || has_control(text)) return std::nullopt;
  auto rest = text.substr(5);
  if (rest.starts_with("unix:")) {
    store.kind = MailStore::Kind::kLmtpUnix;
    store.path = std::string(rest.substr(5));
    // sockaddr_un holds 107 octets and a NUL.
    if (store.path.empty() || store.path.front() != '/' || store.path.size() > 107) return std::nullopt;
    return store;
  }
  Listener probe{std::string(rest), "", 0};
  if (!parse_host_port(probe) || !(is_host_name(probe.host) || is_ip_address(probe.host))) return std::nullopt;
  store.kind = MailStore::Kind::kLmtpTcp;
  store.host = probe.host;
  store.port = probe.port;
  return store;
}

bool parse_host_port(Listener& listener) {
  const auto& a = listener.address;
  auto colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string host = a.substr(0, colon);
  if (host.front() == '[') {
    if (host.back() != ']') return false;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return false;  // IPv6 needs brackets
  }
  auto port = parse_decimal(std::string_view(a).substr(colon + 1));
  if (!port || *port == 0 || *port > 65535 || host.empty()) return false;
  listener.host = host;
  listener.port = static_cast<std::uint16_t>(*port);
  return true;
}

Result<Config> parse(std::string_view text, std::string_view source_name) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    return Error{0, "", fmt::format("{}:{}:{}: {}", source_name, e.source().begin.line,
                                    e.source().begin.column, e.description()), ""};
  }
  Config config;
  Reader r(source_name);
  std::map<std::string, Handler> keys{
      {"hostname", [&](auto& n, auto& k) {
         r.string(n, k, config.hostname);
         if (!r.error && !is_host_name(config.hostname)) {
           r.fail(n, fmt::format("'{}' must be a host name (letters, digits, hyphens and dots)", k));
         }
       }},
      {"data_dir", [&](auto& n, auto& k) {
         r.string(n, k, config.data_dir);
         if (!r.error && (config.data_dir.empty() || has_control(config.data_dir))) {
           r.fail(n, fmt::format("'{}' must be a path without control characters", k));
         }
       }},
      {"log_level", [&](auto& n, auto& k) {
         r.string(n, k, config.log_level);
         if (config.log_level == "warning") config.log_level = "warn";  // syslog's name for it
         static const std::vector<std::string> kLevels{"trace", "debug", "info", "warn",
                                                       "error", "critical", "off"};
         if (std::find(kLevels.begin(), kLevels.end(), config.log_level) == kLevels.end()) {
           r.fail(n, fmt::format("'{}' must be one of trace, debug, info, warn, error, critical, off", k));
         }
       }},
      {"log_format", [&](auto& n, auto& k) {
         r.string(n, k, config.log_format);
         if (!r.error && config.log_format != "text" && config.log_format != "json") {
           r.fail(n, fmt::format("'{}' must be \"text\" or \"json\"", k));
         }
       }},
      {"listener", [&](auto& n, auto&) { read_listeners(r, n, config.listeners); }},
      {"local", [&](auto& n, auto&) { read_local(r, n, config.local); }},
      {"limits", [&](auto& n, auto&) { read_limits(r, n, config.limits); }},
      {"queue", [&](auto& n, auto&) { read_queue(r, n, config.queue); }},
      {"relay", [&](auto& n, auto&) { read_relay(r, n, config.relay); }},
      {"outbound", [&](auto& n, auto&) { read_outbound(r, n, config.outbound); }},
      {"dns", [&](auto& n, auto&) { read_dns(r, n, config.dns); }},
      {"http", [&](auto& n, auto&) { read_http(r, n, config.http); }},
      {"tls", [&](auto& n, auto&) { read_tls(r, n, config.tls); }},
      {"auth", [&](auto& n, auto&) { read_auth(r, n, config.auth); }},
      {"domain", [&](auto& n, auto&) { read_domains(r, n, config.local); }},
      {"spf", [&](auto& n, auto&) { read_spf(r, n, config.spf); }},
      {"dkim", [&](auto& n, auto&) { read_dkim(r, n, config.dkim); }},
      {"dmarc", [&](auto& n, auto&) { read_dmarc(r, n, config.dmarc); }},
      {"srs", [&](auto& n, auto&) { read_srs(r, n, config.srs); }},
      {"arc", [&](auto& n, auto&) { read_arc(r, n, config.arc); }},
  };
  r.table(root, "", keys);
  if (!r.error) finish_local(r, root, config.local);
  if (r.error) return *r.error;
  const auto& q = config.queue;
  if (q.retry_interval.count() <= 0 || q.max_retry_interval < q.retry_interval) {
    return Error{0, "", fmt::format("{}: 'queue.retry_interval' must be more than 0 and not more than "
                                    "'queue.max_retry_interval'", source_name), ""};
  }
  for (const auto& listener : config.listeners) {
    if (listener.role == ListenerRole::kSubmissions && !config.tls.enabled()) {
      return Error{0, "", fmt::format("{}: listener {} has role \"submissions\" (TLS from the first byte), which needs "
                                      "'tls.certificate' and 'tls.key'", source_name, listener.address), ""};
    }
  }
  if (config.auth.users_file.empty()) config.auth.users_file = config.data_dir + "/users";
  if (config.hostname.empty()) config.hostname = system_hostname();
  if (config.srs.enabled() && config.srs.domain.empty()) config.srs.domain = to_lower(config.hostname);
  if (config.listeners.empty()) {
    Listener listener;
    parse_host_port(listener);
    config.listeners.push_back(listener);
  }
  return config;
}

Result<Config> load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{0, "", fmt::format("{}: cannot read the file", path), ""};
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

}  // namespace tern::config
