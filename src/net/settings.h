#pragma once
// What SMTP sessions run with: the configuration and what is made of it
// (who receives mail, who may relay and send as whom, the certificate).
// Read-only once made. A reload (SIGHUP, `tern reload`) makes new Settings:
// sessions that start afterwards get them, open ones finish on theirs (each
// holds a shared_ptr), and the delivery side routes with the newest.
#include <memory>
#include <mutex>

#include "config/config.h"
#include "arc/sealer.h"
#include "mailauth/inbound.h"
#include "mailauth/signing.h"
#include "net/tls_context.h"
#include "policy/aliases_file.h"
#include "policy/local_recipients.h"
#include "policy/recipient_policy.h"
#include "policy/sender_login.h"

namespace tern::net {

struct Settings {
  config::Config config;
  std::shared_ptr<policy::AliasesFile> aliases;  // null without [local] aliases
  std::unique_ptr<policy::LocalRecipients> local;
  std::unique_ptr<policy::RecipientPolicy> policy;
  std::unique_ptr<policy::SenderLogins> sender_logins;
  std::shared_ptr<TlsContext> tls;  // null without [tls]
  mailauth::InboundOptions inbound;  // SPF, DKIM, DMARC on "mx" listeners
  std::shared_ptr<const mailauth::SigningKeys> signing;  // [dkim."domain"] keys
  std::shared_ptr<const arc::Sealer> arc_sealer;         // [arc]: null without sealing
};

using SettingsPtr = std::shared_ptr<const Settings>;

// The newest Settings, for threads other than the network one (delivery
// workers, pickup): a copy of the pointer under a lock.
class CurrentSettings {
 public:
  explicit CurrentSettings(SettingsPtr settings) : settings_(std::move(settings)) {}
  SettingsPtr get() const {
    std::lock_guard lock(mutex_);
    return settings_;
  }
  void set(SettingsPtr settings) {
    std::lock_guard lock(mutex_);
    settings_ = std::move(settings);
  }

 private:
  mutable std::mutex mutex_;
  SettingsPtr settings_;
};

}  // namespace tern::net
