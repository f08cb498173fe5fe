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
#include <algorithm>
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
                      "--txt-record=txt.test,v=spf1 ,-all", "--txt-record=txt.test,second",
                      // (unbound answers 127.in-addr.arpa itself, RFC 6303)
                      "--ptr-record=8.7.6.5.in-addr.arpa,aonly.test",
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

// lookup(): any type, decoded; TXT strings joined with nothing between.
TEST_F(ResolverTest, LookupDecodesEachType) {
  ASSERT_TRUE(dns_.running());
  auto r = resolver();
  auto txt = run(r->lookup("txt.test", RecordType::kTxt));
  ASSERT_EQ(txt.status, Status::kOk) << txt.detail;
  std::sort(txt.texts.begin(), txt.texts.end());
  EXPECT_EQ(txt.texts, (std::vector<std::string>{"second", "v=spf1 -all"}));
  auto ptr = run(r->lookup("8.7.6.5.in-addr.arpa", RecordType::kPtr));
  ASSERT_EQ(ptr.status, Status::kOk) << ptr.detail;
  EXPECT_EQ(ptr.names, std::vector<std::string>{"aonly.test"});
  auto a = run(r->lookup("aonly.test", RecordType::kA));
  ASSERT_EQ(a.addresses.size(), 1u);
  EXPECT_EQ(a.addresses[0].to_string(), "127.0.0.4");
  auto mx = run(r->lookup("mx.test", RecordType::kMx));
  EXPECT_EQ(mx.mx.size(), 2u);
  EXPECT_EQ(run(r->lookup("aonly.test", RecordType::kTxt)).status, Status::kNoData);
  EXPECT_EQ(run(r->lookup("nosuch.test", RecordType::kTxt)).status, Status::kNxDomain);
}

// A caller's deadline (a policy check's time limit) ends a query that has
// no answer yet: a temporary failure then, not after the resolver's own
// timeout.
TEST_F(ResolverTest, QueriesEndAtTheCallersDeadline) {
  ASSERT_TRUE(dns_.running());
  auto r = resolver();
  auto start = std::chrono::steady_clock::now();
  auto answer = run(r->lookup("fail.test", RecordType::kTxt, start + std::chrono::milliseconds(100)));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(answer.status, Status::kTempFail);
  EXPECT_LT(took, std::chrono::milliseconds(1000));  // the resolver's own timeout is 1.5 s
  EXPECT_GE(took, std::chrono::milliseconds(90));
  // The resolver goes on answering.
  EXPECT_EQ(run(r->lookup("txt.test", RecordType::kTxt)).status, Status::kOk);
}

// lookup() answers come from the resolver's own cache for their TTL: with
// the server gone, a name asked before is still answered; one never asked
// fails, and an answer with TTL 0 is not kept.
TEST_F(ResolverTest, LookupAnswersAreCachedForTheirTtl) {
  test::Dnsmasq dns{{"--local-ttl=60", "--txt-record=cached.test,v=spf1 -all", "--txt-record=zero.test,x"}};
  ASSERT_TRUE(dns.running());
  ResolverConfig config{{"127.0.0.1:" + std::to_string(dns.port())}, std::chrono::milliseconds(500)};
  auto r = Resolver::create(io_.get_executor(), config);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(run((*r)->lookup("cached.test", RecordType::kTxt)).status, Status::kOk);
  dns.stop();
  auto again = run((*r)->lookup("cached.test", RecordType::kTxt));
  EXPECT_EQ(again.status, Status::kOk);
  EXPECT_EQ(again.texts, std::vector<std::string>{"v=spf1 -all"});
  EXPECT_EQ(run((*r)->lookup("never.test", RecordType::kTxt)).status, Status::kTempFail);
}

}  // namespace
}  // namespace tern::dns
