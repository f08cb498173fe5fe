#pragma once
// The configuration read again while tern runs (SIGHUP, `tern reload`):
// new SMTP sessions get the new settings, open ones finish on theirs,
// listeners are added and removed, delivery routes with the new domains
// and aliases. A configuration that does not load (syntax, a missing
// certificate, an aliases loop, a port that cannot be bound) is refused
// with a log line, and the old one stays whole. Keys read only at start
// (data_dir, the queue's schedule, outbound and relay delivery, DNS, HTTP,
// logging, the host name) are named in the log when they differ from what
// tern started with: they need a restart (until then sessions keep the
// host name tern started with, as delivery does).
#include <memory>
#include <string>
#include <vector>

#include "auth/user_db.h"
#include "base/result.h"
#include "net/server.h"
#include "net/settings.h"
#include "net/ticket_keys.h"

namespace tern::app {

// The settings SMTP sessions run with, made from `config`. `previous`, on
// a reload: its certificate stays when the files cannot be read now.
Result<net::SettingsPtr> make_settings(config::Config config, auth::UserStore& users,
                                       const std::shared_ptr<net::TicketKeys>& ticket_keys,
                                       const net::Settings* previous);

// The keys whose change only a restart applies.
std::vector<std::string> restart_needed(const config::Config& running, const config::Config& next);

class Reloader {
 public:
  // `started`: the configuration tern started with (what the keys read
  // only at start still are).
  Reloader(const config::Config& started, std::string config_path, auth::UserStore& users,
           std::shared_ptr<net::TicketKeys> ticket_keys, net::Server& server, net::CurrentSettings& current)
      : started_(started),
        config_path_(std::move(config_path)),
        users_(users),
        ticket_keys_(std::move(ticket_keys)),
        server_(server),
        current_(current) {}

  // On the network thread. What was done, for `tern reload`; an error when
  // refused (the old configuration stays).
  Result<std::string> reload();

 private:
  const config::Config& started_;
  std::string config_path_;  // empty: the embedded default
  auth::UserStore& users_;
  std::shared_ptr<net::TicketKeys> ticket_keys_;
  net::Server& server_;
  net::CurrentSettings& current_;
};

}  // namespace tern::app
