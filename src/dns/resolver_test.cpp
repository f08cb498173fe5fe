// The resolver against a real DNS server: dnsmasq on a loopback port,
// serving test zones (MX, null MX, A-only, AAAA, NXDOMAIN, SERVFAIL).
#include "dns/resolver.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <random>
#include <thread>

namespace tern::dns {
namespace {

namespace asio = boost::asio;

// Starts dnsmasq on 127.0.0.1:<port> for the test zones; stops it at the end.
class Dnsmasq {
 public:
  Dnsmasq() {
    std::random_device seed;
    for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) {
      port_ = 20000 + static_cast<int>(seed() % 30000);
      start();
    }
  }
  ~Dnsmasq() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  bool running() const { return pid_ > 0; }

 private:
  void start() {
    std::vector<std::string> args = {
        "dnsmasq", "--no-daemon", "--port=" + std::to_string(port_), "--listen-address=127.0.0.1",
        "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--local=/test/",
        "--mx-host=mx.test,mx1.mx.test,10", "--mx-host=mx.test,mx2.mx.test,20",
        "--host-record=mx1.mx.test,127.0.0.2", "--host-record=mx2.mx.test,127.0.0.3,::1",
        "--dns-rr=null.test,15,000000",  // RFC 7505 null MX: preference 0, root
        "--host-record=aonly.test,127.0.0.4",
        "--server=/fail.test/127.0.0.1#1",  // nothing listens there: SERVFAIL
        "--log-facility=/dev/null"};
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

  int port_ = 0;
  pid_t pid_ = -1;
};

class ResolverTest : public ::testing::Test {
 protected:
  template <class T>
  T run(asio::awaitable<T> op) {
    auto future = asio::co_spawn(io_, std::move(op), asio::use_future);
    // The resolver always has a wait pending: run until this answer is in.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready &&
           std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(std::chrono::milliseconds(100));
    }
    return future.get();
  }

  std::unique_ptr<Resolver> resolver() {
    ResolverConfig config{{"127.0.0.1:" + std::to_string(dns_.port())}, std::chrono::milliseconds(1500)};
    auto r = Resolver::create(io_.get_executor(), config);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().text);
    return std::move(r.value());
  }

  Dnsmasq dns_;
  asio::io_context io_;
};

TEST_F(ResolverTest, MxRoutingAgainstDnsmasq) {
  ASSERT_TRUE(dns_.running()) << "dnsmasq did not start (scripts/deps.sh installs dnsmasq-base)";
  auto r = resolver();
  std::mt19937 random(7);

  auto mx = run(r->mx("mx.test"));
  ASSERT_EQ(mx.status, Status::kOk) << mx.detail;
  auto route = route_from_mx("mx.test", mx, random);
  ASSERT_TRUE(route.ok());
  EXPECT_EQ(route->hosts, (std::vector<std::string>{"mx1.mx.test", "mx2.mx.test"}));

  auto null_route = route_from_mx("null.test", run(r->mx("null.test")), random);
  ASSERT_FALSE(null_route.ok());
  EXPECT_EQ(null_route.error().enhanced, "5.1.10");

  auto implicit = route_from_mx("aonly.test", run(r->mx("aonly.test")), random);
  ASSERT_TRUE(implicit.ok());
  EXPECT_TRUE(implicit->implicit);

  auto nx = route_from_mx("nosuch.test", run(r->mx("nosuch.test")), random);
  ASSERT_FALSE(nx.ok());
  EXPECT_EQ(nx.error().enhanced, "5.1.2");

  auto fail = route_from_mx("fail.test", run(r->mx("fail.test")), random);
  ASSERT_FALSE(fail.ok());
  EXPECT_EQ(fail.error().code, 451);
}

TEST_F(ResolverTest, AddressesIpv6First) {
  ASSERT_TRUE(dns_.running());
  auto r = resolver();
  auto both = run(r->addresses("mx2.mx.test"));
  ASSERT_EQ(both.status, Status::kOk) << both.detail;
  ASSERT_EQ(both.addresses.size(), 2u);
  EXPECT_EQ(both.addresses[0].to_string(), "::1");
  EXPECT_EQ(both.addresses[1].to_string(), "127.0.0.3");
  EXPECT_EQ(run(r->addresses("nosuch.test")).status, Status::kNxDomain);
  EXPECT_EQ(run(r->addresses("fail.test")).status, Status::kTempFail);
}

}  // namespace
}  // namespace tern::dns
