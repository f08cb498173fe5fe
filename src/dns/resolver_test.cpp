// The resolver against a real DNS server: dnsmasq on a loopback port,
// serving test zones (MX, null MX, A-only, AAAA, NXDOMAIN, SERVFAIL).
#include "dns/resolver.h"
#include "dns/test_dnsmasq.h"

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

  test::Dnsmasq dns_{{"--mx-host=mx.test,mx1.mx.test,10", "--mx-host=mx.test,mx2.mx.test,20",
                      "--host-record=mx1.mx.test,127.0.0.2", "--host-record=mx2.mx.test,127.0.0.3,::1",
                      "--dns-rr=null.test,15,000000",  // RFC 7505 null MX: preference 0, root
                      "--host-record=aonly.test,127.0.0.4",
                      "--server=/fail.test/127.0.0.1#1"}};  // nothing listens there: no answer
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
