#pragma once
// systemd's service notifications (sd_notify(3), Type=notify), by the
// documented protocol rather than libsystemd: one datagram of
// newline-separated assignments to the Unix socket in $NOTIFY_SOCKET (a
// path, or "@name" for the abstract namespace). READY=1 once tern listens
// and its queue is recovered, RELOADING=1/READY=1 around a SIGHUP reload,
// STOPPING=1 at stop, and WATCHDOG=1 at half of $WATCHDOG_USEC
// (WatchdogSec=) while the network thread runs. Without $NOTIFY_SOCKET it
// does nothing.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace tern::app {

class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID.
  SystemdNotifier();
  ~SystemdNotifier();
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  void notify(std::string_view state) const;
  void ready(std::string_view status) const;
  void reloading() const;
  void stopping() const { notify("STOPPING=1"); }
  // How often to send WATCHDOG=1: half the watchdog timeout, when systemd
  // asked this process for it.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

 private:
  int fd_ = -1;
  std::string socket_;
  std::optional<std::chrono::microseconds> watchdog_;
};

}  // namespace tern::app
