// tern: the command line. `tern serve`, `tern check-config`, `tern --version`.
#include <CLI/CLI.hpp>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string_view>

#include "app/dkim_command.h"
#include "app/queue_command.h"
#include "app/sendmail.h"
#include "app/serve.h"
#include "app/user_command.h"
#include "config/config.h"
#include "arc/sealer.h"
#include "mailauth/signing.h"
#include "net/tls_context.h"
#include "policy/aliases_file.h"
#include "policy/networks.h"

namespace {

tern::Result<tern::config::Config> load(const std::string& path) {
  if (path.empty()) return tern::config::parse(tern::config::kEmbeddedDefault, "(embedded default)");
  return tern::config::load_file(path);
}

// The file holds a password (relay.smarthost_password): say so when others
// may read it. A warning, not a refusal: the administrator decides.
void warn_if_password_readable(const std::string& path, const tern::config::Config& config) {
  struct stat st {};
  if (path.empty() || config.relay.smarthost_password.empty() || ::stat(path.c_str(), &st) != 0) return;
  if ((st.st_mode & 077) == 0) return;
  std::cerr << "tern: warning: " << path << " holds relay.smarthost_password and others may read it (mode "
            << std::oct << (st.st_mode & 0777) << std::dec << "); chmod 600 it\n";
}

}  // namespace

int main(int argc, char** argv) {
  // `tern sendmail` and a symlink named sendmail take sendmail's own command
  // line (-oi, -fADDR, -t ...), which CLI11 would not read.
  std::string_view program = argc > 0 && argv[0] != nullptr ? argv[0] : "";
  if (auto slash = program.rfind('/'); slash != std::string_view::npos) program.remove_prefix(slash + 1);
  if (program == "sendmail") return tern::app::sendmail_main(argc, argv);
  if (argc >= 2 && std::string_view(argv[1]) == "sendmail") return tern::app::sendmail_main(argc - 1, argv + 1);
  CLI::App app{"tern: a mail transfer agent"};
  app.set_version_flag("--version", std::string("tern ") + TERN_VERSION);
  app.require_subcommand(1);
  std::string config_path;
  auto* serve = app.add_subcommand("serve", "Run the SMTP server in the foreground");
  serve->add_option("--config,-c", config_path, "Configuration file (TOML); default: the embedded default");
  app.add_subcommand("sendmail", "Queue a message read from standard input, as /usr/sbin/sendmail does");
  auto* check = app.add_subcommand("check-config", "Validate the configuration and exit");
  check->add_option("--config,-c", config_path, "Configuration file (TOML)");
  tern::app::UserArgs user_args;
  tern::app::add_user_command(app, user_args, config_path);
  tern::app::QueueArgs queue_args;
  tern::app::add_queue_command(app, queue_args, config_path);
  tern::app::DkimArgs dkim_args;
  tern::app::add_dkim_command(app, dkim_args);
  auto* reload = app.add_subcommand("reload", "Make the running server read its configuration again");
  reload->add_option("--config,-c", config_path, "Configuration file (TOML); the one the server runs with");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 1, as the
    // commands' own errors do (CLI11 would use codes of its own).
    return app.exit(e) == 0 ? 0 : 1;
  }

  if (dkim_args.keygen) return tern::app::run_dkim_command(dkim_args);  // needs no configuration
  auto config = load(config_path);
  if (!config) {
    std::cerr << "tern: config " << config.error().text << "\n";
    return 1;
  }
  if (auto networks = tern::policy::Networks::parse(config->relay.networks); !networks) {
    std::cerr << "tern: config " << config_path << ": 'relay.networks': " << networks.error().text << "\n";
    return 1;
  }
  warn_if_password_readable(config_path, *config);
  if (check->parsed() && config->srs.secret_short()) {
    std::cerr << "tern: warning: [srs] secret has " << config->srs.secret.size() << " characters; use "
              << tern::config::Srs::kAdvisedSecretSize << " or more\n";
  }
  if (!user_args.action.empty()) return tern::app::run_user_command(user_args, *config);
  if (!queue_args.action.empty()) return tern::app::run_queue_command(queue_args, *config);
  if (reload->parsed()) return tern::app::run_reload_command(*config);
  if (check->parsed()) {
    // The certificate and key are read as `serve` reads them: missing,
    // unreadable, not PEM, or not a pair, each named by its key.
    if (config->tls.enabled()) {
      if (auto tls = tern::net::TlsContext::load(config->tls); !tls) {
        std::cerr << "tern: config " << config_path << ": " << tls.error().text << "\n";
        return 1;
      }
    }
    // The aliases file as `serve` reads it: syntax and loops, with file:line.
    if (!config->local.aliases.empty()) {
      const auto& domains = config->local.domains;
      auto aliases = tern::policy::load_aliases(config->local.aliases, [&domains](std::string_view d) {
        return std::find(domains.begin(), domains.end(), d) != domains.end();
      });
      if (!aliases) {
        std::cerr << "tern: config " << config_path << ": 'local.aliases': " << aliases.error().text << "\n";
        return 1;
      }
    }
    // The DKIM signing keys as `serve` loads them.
    if (auto keys = tern::mailauth::SigningKeys::load(config->dkim.keys); !keys) {
      std::cerr << "tern: config " << config_path << ": " << keys.error().text << "\n";
      return 1;
    }
    if (config->arc.sealing()) {
      auto sealer = tern::arc::Sealer::load({.domain = config->arc.domain, .selector = config->arc.selector},
                                            config->arc.key);
      if (!sealer) {
        std::cerr << "tern: config " << config_path << ": 'arc.key': " << config->arc.key << ": "
                  << (sealer.error().detail.empty() ? sealer.error().text : sealer.error().detail) << "\n";
        return 1;
      }
    }
    std::cout << "config ok\n";
    return 0;
  }
  return tern::app::serve(*config, config_path);
}
