#pragma once
// Test helper: dnsmasq serving test zones on a loopback port, for tests of
// DNS and of MX routing against a real server. Only 127.0.0.1; stopped with
// the object. `zone_args` are dnsmasq options (--mx-host=, --host-record=...).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace tern::dns::test {

// Starts dnsmasq on 127.0.0.1:<port> for the test zones; stops it at the end.
class Dnsmasq {
 public:
  explicit Dnsmasq(std::vector<std::string> zone_args) : zone_args_(std::move(zone_args)) {
    std::random_device seed;
    for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) {
      port_ = 20000 + static_cast<int>(seed() % 30000);
      start();
    }
  }
  ~Dnsmasq() { stop(); }
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  int port() const { return port_; }
  bool running() const { return pid_ > 0; }

 private:
  void start() {
    std::vector<std::string> args = {
        "dnsmasq", "--no-daemon", "--port=" + std::to_string(port_), "--listen-address=127.0.0.1",
        "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--local=/test/",
        "--log-facility=/dev/null"};
    args.insert(args.end(), zone_args_.begin(), zone_args_.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, STDOUT_FILENO);
      ::dup2(devnull, STDERR_FILENO);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("dnsmasq", argv.data());
      ::_exit(127);
    }
    // Ready when it answers; gone when the port was taken.
    for (int i = 0; i < 100; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      if (i >= 5) return;
    }
  }

  std::vector<std::string> zone_args_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace tern::dns::test
