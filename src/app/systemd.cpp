#include "app/systemd.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <spdlog/spdlog.h>

#include "base/log.h"
#include "base/text.h"

namespace tern::app {

SystemdNotifier::SystemdNotifier() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path && (path[0] == '/' || path[0] == '@') && std::strlen(path) < sizeof(sockaddr_un::sun_path)) {
    socket_ = path;
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  }
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* pid = std::getenv("WATCHDOG_PID");
  std::uint64_t interval = 0;
  if (usec) interval = parse_decimal(usec).value_or(0);
  bool for_us = !pid || parse_decimal(pid) == static_cast<std::uint64_t>(::getpid());
  if (fd_ >= 0 && interval > 0 && for_us) watchdog_ = std::chrono::microseconds(interval / 2);
}

SystemdNotifier::~SystemdNotifier() {
  if (fd_ >= 0) ::close(fd_);
}

void SystemdNotifier::notify(std::string_view state) const {
  if (fd_ < 0) return;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, socket_.data(), socket_.size());
  if (socket_[0] == '@') address.sun_path[0] = '\0';  // the abstract namespace
  auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size());
  if (::sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&address), length) < 0) {
    spdlog::warn("event=notify_failed socket={} detail={}", log_value(socket_), log_value(std::strerror(errno)));
  }
}

void SystemdNotifier::ready(std::string_view status) const {
  notify("READY=1\nSTATUS=" + std::string(status) + "\nMAINPID=" + std::to_string(::getpid()));
}

// systemd 253+ wants the monotonic time with RELOADING=1 (Type=notify-reload).
void SystemdNotifier::reloading() const {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  auto usec = static_cast<std::uint64_t>(now.tv_sec) * 1'000'000 + static_cast<std::uint64_t>(now.tv_nsec) / 1000;
  notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

}  // namespace tern::app
