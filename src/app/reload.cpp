#include "app/reload.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/log.h"
#include "policy/networks.h"

namespace tern::app {
namespace {

Error refused(std::string text) { return Error{0, "", std::move(text), ""}; }

void log_certificate(const char* event, const net::TlsContext& tls) {
  spdlog::info("event={} subject={} not_after={}", event, log_value(tls.subject()), log_value(tls.not_after()));
}

// The certificate of a reload: the new files, or the old certificate when
// they cannot be read (a renewal half done must not take TLS away).
Result<std::shared_ptr<net::TlsContext>> load_tls(const config::Tls& tls, const std::shared_ptr<net::TicketKeys>& keys,
                                                  const net::Settings* previous) {
  if (!tls.enabled()) return std::shared_ptr<net::TlsContext>();
  auto loaded = net::TlsContext::load(tls, keys);
  if (loaded) {
    // At a reload, said once it is applied (Reloader::reload).
    if (!previous) log_certificate("tls_certificate", **loaded);
    return std::move(loaded.value());
  }
  if (!previous || !previous->tls) return loaded.error();
  spdlog::error("event=tls_reload_failed detail={} kept={}", log_value(loaded.error().text),
                log_value(previous->tls->subject()));
  return previous->tls;
}

}  // namespace

Result<net::SettingsPtr> make_settings(config::Config config, auth::UserStore& users,
                                       const std::shared_ptr<net::TicketKeys>& ticket_keys,
                                       const net::Settings* previous) {
  auto settings = std::make_shared<net::Settings>();
  settings->config = std::move(config);
  const auto& c = settings->config;
  auto networks = policy::Networks::parse(c.relay.networks);
  if (!networks) return refused("'relay.networks': " + networks.error().text);
  if (!c.local.aliases.empty()) {
    const auto& domains = c.local.domains;  // lives as long as the settings, as the file does
    auto opened = policy::AliasesFile::open(c.local.aliases, [&domains](std::string_view d) {
      return std::find(domains.begin(), domains.end(), d) != domains.end();
    });
    if (!opened) {
      if (previous) spdlog::error("event=aliases_rejected detail={}", log_value(opened.error().text));
      return opened.error();
    }
    settings->aliases = std::move(opened.value());
  }
  auto* aliases = settings->aliases.get();  // owned by the settings, as `local` is
  settings->local = std::make_unique<policy::LocalRecipients>(
      c.local, policy::LocalRecipients::Sources{
                   aliases ? std::function([aliases] { return aliases->current(); }) : nullptr,
                   [&users](std::string_view address) { return users.exists(address); }});
  settings->policy = std::make_unique<policy::RecipientPolicy>(*settings->local, std::move(networks.value()));
  settings->sender_logins = std::make_unique<policy::SenderLogins>(c.auth.senders);
  auto tls = load_tls(c.tls, ticket_keys, previous);
  if (!tls) return tls.error();
  settings->tls = std::move(tls.value());
  auto signing = mailauth::SigningKeys::load(c.dkim.keys);
  if (!signing) return signing.error();
  settings->signing = std::move(signing.value());
  if (c.arc.sealing()) {
    auto sealer = arc::Sealer::load({.domain = c.arc.domain, .selector = c.arc.selector}, c.arc.key);
    if (!sealer) {
      const auto& e = sealer.error();
      return refused(fmt::format("'arc.key': {}: {}", c.arc.key, e.detail.empty() ? e.text : e.detail));
    }
    settings->arc_sealer = std::make_shared<const arc::Sealer>(std::move(sealer.value()));
  }
  settings->inbound = {.authserv_id = c.hostname,
                       .spf = c.spf,
                       .dkim = c.dkim.verify,
                       .dmarc = c.dmarc,
                       .arc = c.arc.verify || c.arc.sealing(),
                       .timeout = c.limits.check_timeout};
  return net::SettingsPtr(std::move(settings));
}

std::vector<std::string> restart_needed(const config::Config& a, const config::Config& b) {
  std::vector<std::string> keys;
  auto check = [&](bool same, const char* key) {
    if (!same) keys.emplace_back(key);
  };
  check(a.hostname == b.hostname, "hostname");
  check(a.data_dir == b.data_dir, "data_dir");
  check(a.log_level == b.log_level, "log_level");
  check(a.log_format == b.log_format, "log_format");
  check(a.auth.users_file == b.auth.users_file, "auth.users_file");
  check(a.http.address == b.http.address, "http.address");
  check(a.dns.servers == b.dns.servers, "dns.servers");
  check(a.queue.retry_interval == b.queue.retry_interval && a.queue.max_retry_interval == b.queue.max_retry_interval &&
            a.queue.max_lifetime == b.queue.max_lifetime && a.queue.delay_warning == b.queue.delay_warning,
        "queue");
  check(a.relay.smarthost == b.relay.smarthost && a.relay.smarthost_tls == b.relay.smarthost_tls &&
            a.relay.smarthost_username == b.relay.smarthost_username &&
            a.relay.smarthost_password == b.relay.smarthost_password,
        "relay.smarthost");
  const auto& o = a.outbound;
  const auto& p = b.outbound;
  check(o.port == p.port && o.connect_timeout == p.connect_timeout && o.command_timeout == p.command_timeout &&
            o.data_timeout == p.data_timeout && o.max_connections == p.max_connections &&
            o.max_connections_per_destination == p.max_connections_per_destination &&
            o.max_waiting_per_destination == p.max_waiting_per_destination,
        "outbound");
  return keys;
}

Result<std::string> Reloader::reload() {
  auto fail = [](const Error& error) -> Result<std::string> {
    spdlog::error("event=reload_failed detail={} kept=previous", log_value(error.text));
    return error;
  };
  auto config = config_path_.empty() ? config::parse(config::kEmbeddedDefault, "(embedded default)")
                                     : config::load_file(config_path_);
  if (!config) return fail(refused("config " + config.error().text));
  auto running = server_.settings();
  auto later = restart_needed(started_, *config);
  // Greeting, Received and delivery, DSNs and Maildir names say one name.
  config->hostname = started_.hostname;
  auto settings = make_settings(std::move(config.value()), users_, ticket_keys_, running.get());
  if (!settings) return fail(settings.error());
  if (auto reloaded = server_.reload(*settings); !reloaded) return fail(reloaded.error());
  current_.set(*settings);
  const auto& tls = (*settings)->tls;
  if (tls && tls != running->tls) log_certificate("tls_reloaded", *tls);
  auto listeners = (*settings)->config.listeners.size();
  if (later.empty()) {
    spdlog::info("event=reloaded listeners={}", listeners);
    return fmt::format("reloaded: {} listener{}", listeners, listeners == 1 ? "" : "s");
  }
  spdlog::warn("event=reloaded listeners={} restart_needed={}", listeners, log_value(fmt::format("{}", fmt::join(later, ","))));
  return fmt::format("reloaded: {} listener{}; a restart is needed for: {}", listeners, listeners == 1 ? "" : "s",
                     fmt::join(later, ", "));
}

}  // namespace tern::app
