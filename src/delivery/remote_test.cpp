// Remote delivery against real SMTP servers on loopback ports: Postfix's
// smtp-sink and a scripted aiosmtpd server (tests/lib/scripted_smtp.py),
// routed by a smarthost or by MX records served by dnsmasq.
#include "delivery/remote.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "dns/test_dnsmasq.h"

namespace tern::delivery {
namespace {

namespace asio = boost::asio;
namespace fsys = std::filesystem;

// A child process whose first line of output may be read (a port number).
class Child {
 public:
  explicit Child(std::vector<std::string> args) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, STDERR_FILENO);
      ::close(fds[0]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  std::string first_line() {
    std::string line;
    char c;
    while (::read(out_, &c, 1) == 1 && c != '\n') line += c;
    return line;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(s);
  return ntohs(addr.sin_port);
}

// What the tests read of one job's outcomes (queue::RecipientOutcome, one
// per recipient): each recipient's reply, and where it went.
struct RemoteOutcome {
  struct Reply {
    int code = 0;
    std::string enhanced, text;
    bool delivered() const { return code / 100 == 2; }
    bool temporary() const { return code / 100 == 4; }
    const std::string& status() const { return enhanced; }
  };
  std::vector<Reply> results;
  std::string remote_mta;
  std::string connected_to;  // of a delivered recipient: "host[address]"
  bool not_attempted = false;
};

RemoteOutcome view(const std::vector<queue::RecipientOutcome>& outcomes) {
  RemoteOutcome out;
  for (const auto& o : outcomes) {
    if (o.result) {
      out.results.push_back({250, "2.0.0", *o.result});
      out.connected_to = o.result->substr(o.result->find(':') + 1);  // "smtp:host[address]"
    } else {
      out.results.push_back({o.result.error().code, o.result.error().enhanced, o.result.error().text});
    }
    out.remote_mta = o.remote_mta;
    out.not_attempted = out.not_attempted || o.not_attempted;
  }
  return out;
}

class RemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tern-remote-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    fsys::permissions(dir_, fsys::perms::all);  // smtp-sink drops to nobody
    // The queue file: an envelope head, then the message (a dot line included).
    content_ = "Subject: remote\r\n\r\n.leading dot\r\nbody\r\n";
    std::ofstream(dir_ + "/queued", std::ios::binary) << "HEAD\n\n" << content_;
    fd_ = ::open((dir_ + "/queued").c_str(), O_RDONLY);
  }
  void TearDown() override {
    ::close(fd_);
    fsys::remove_all(dir_);
  }

  RemoteMessage message(std::vector<std::string> recipients) {
    RemoteMessage m;
    m.message.reverse_path.mailbox = {"sender", "example.test"};
    for (auto& r : recipients) {
      auto at = r.find('@');
      m.message.recipients.push_back({{r.substr(0, at), r.substr(at + 1)}, {}});
    }
    m.message.size = content_.size();
    m.fd = fd_;
    m.offset = 6;
    return m;
  }

  // The command line of the scripted server (tests/lib/scripted_smtp.py),
  // dumping into dir_/scripted; `tls`: with the certificate of
  // make_certificate().
  std::vector<std::string> scripted(std::vector<std::string> more = {}, bool tls = false) {
    fsys::create_directory(dir_ + "/scripted");
    std::vector<std::string> args{"/usr/bin/python3", TERN_SOURCE_DIR "/tests/lib/scripted_smtp.py", "--dump",
                                  dir_ + "/scripted", "--lifetime", "60"};
    if (tls) args.insert(args.end(), {"--tls-cert", dir_ + "/cert.pem", "--tls-key", dir_ + "/key.pem"});
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  // A self-signed certificate for a TLS test server.
  void make_certificate() {
    auto cmd = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 -keyout " + dir_ +
               "/key.pem -out " + dir_ + "/cert.pem 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }

  // Submits the messages to one RemoteDelivery (which remembers hosts whose
  // TLS failed, and reuses connections) and runs its event loop until every
  // outcome is in, or 30 s.
  std::vector<RemoteOutcome> deliver_all(RemoteConfig config, std::vector<RemoteMessage> messages,
                                         std::string domain, int dns_port = 0, bool one_by_one = true) {
    asio::io_context io;
    dns::ResolverConfig dns_config{{"127.0.0.1:" + std::to_string(dns_port ? dns_port : 9)},
                                   std::chrono::milliseconds(1500)};
    auto resolver = dns::Resolver::create(io.get_executor(), dns_config);
    EXPECT_TRUE(resolver.ok());
    config.helo_name = "tern.example.test";
    config.connect_timeout = std::chrono::seconds(5);
    config.idle_time = std::chrono::milliseconds(200);
    RemoteDelivery remote(io.get_executor(), **resolver, config);
    std::vector<RemoteOutcome> out(messages.size());
    std::size_t done = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    auto run_until = [&](std::size_t count) {
      while (done < count && std::chrono::steady_clock::now() < deadline) io.run_one_for(std::chrono::milliseconds(100));
    };
    for (std::size_t i = 0; i < messages.size(); ++i) {
      remote.submit({std::move(messages[i]), domain, [&out, &done, i](std::vector<queue::RecipientOutcome> o) {
                       out[i] = view(o);
                       ++done;
                     }});
      if (one_by_one) run_until(i + 1);
    }
    run_until(messages.size());
    EXPECT_EQ(done, messages.size()) << "outcomes within 30 s";
    // Let idle connections (idle_time 200 ms) say QUIT.
    io.run_for(std::chrono::milliseconds(600));
    return out;
  }

  RemoteOutcome deliver(RemoteConfig config, RemoteMessage m, std::string domain, int dns_port = 0) {
    return deliver_all(config, {std::move(m)}, std::move(domain), dns_port).at(0);
  }

  std::vector<std::string> dumped(const std::string& sub) {
    std::vector<std::string> out;
    if (!fsys::exists(dir_ + "/" + sub)) return out;
    for (const auto& e : fsys::recursive_directory_iterator(dir_ + "/" + sub)) {
      if (!e.is_regular_file()) continue;
      std::stringstream text;
      text << std::ifstream(e.path(), std::ios::binary).rdbuf();
      out.push_back(text.str());
    }
    return out;
  }

  std::string dir_;
  std::string content_;
  int fd_ = -1;
};

TEST_F(RemoteTest, SmarthostSmtpSinkTakesTheMessage) {
  int port = free_port();
  Child sink({"smtp-sink", "-u", "nobody", "-d", dir_ + "/sink/%M.", "127.0.0.1:" + std::to_string(port), "10"});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  RemoteConfig config;
  config.smarthost = "127.0.0.1:" + std::to_string(port);
  auto outcome = deliver(config, message({"a@remote.test", "b@remote.test"}), "remote.test");
  ASSERT_EQ(outcome.results.size(), 2u);
  for (const auto& r : outcome.results) EXPECT_TRUE(r.delivered()) << r.code << " " << r.text;
  EXPECT_EQ(outcome.remote_mta, "[127.0.0.1]");
  EXPECT_EQ(outcome.connected_to, "127.0.0.1[127.0.0.1]");
  auto files = dumped("sink");
  ASSERT_EQ(files.size(), 1u);
  // smtp-sink stores what it received unstuffed, with LF line ends.
  EXPECT_NE(files[0].find("\nX-Rcpt-Args: <a@remote.test>\nX-Rcpt-Args: <b@remote.test>\n"), std::string::npos);
  EXPECT_NE(files[0].find("\nSubject: remote\n\n.leading dot\nbody\n"), std::string::npos)
      << ::testing::PrintToString(files[0]);
}

TEST_F(RemoteTest, PerRecipientRepliesAndDroppedConnection) {
  Child server(scripted());
  auto port = server.first_line();
  ASSERT_FALSE(port.empty());
  RemoteConfig config;
  config.smarthost = "127.0.0.1:" + port;
  auto outcome = deliver(config, message({"ok@remote.test", "temp@remote.test", "perm@remote.test"}), "remote.test");
  ASSERT_EQ(outcome.results.size(), 3u);
  EXPECT_EQ(outcome.results[0].code, 250);
  EXPECT_EQ(outcome.results[1].code, 451);
  EXPECT_EQ(outcome.results[2].code, 550);
  EXPECT_EQ(outcome.results[2].status(), "5.1.1");
  auto files = dumped("scripted");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_NE(files[0].find("rcpt ok@remote.test\n\n"), std::string::npos) << files[0];
  EXPECT_NE(files[0].find("\r\n.leading dot\r\n"), std::string::npos);

  // A peer that vanishes mid-transaction: a temporary failure for all.
  auto dropped = deliver(config, message({"ok@remote.test", "drop@remote.test"}), "remote.test");
  ASSERT_EQ(dropped.results.size(), 2u);
  for (const auto& r : dropped.results) {
    EXPECT_TRUE(r.temporary()) << r.code << " " << r.text;
  }
}

TEST_F(RemoteTest, AddressLiteralDomainNeedsNoDns) {
  int port = free_port();
  Child sink({"smtp-sink", "-u", "nobody", "-d", dir_ + "/sink/%M.", "127.0.0.1:" + std::to_string(port), "10"});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  RemoteConfig config;
  config.port = static_cast<std::uint16_t>(port);
  // No DNS server answers (port 9): RFC 5321 4.1.3 literals go straight there.
  auto outcome = deliver(config, message({"a@[127.0.0.1]"}), "[127.0.0.1]");
  ASSERT_EQ(outcome.results.size(), 1u);
  EXPECT_TRUE(outcome.results[0].delivered()) << outcome.results[0].code << " " << outcome.results[0].text;
  EXPECT_EQ(outcome.remote_mta, "[127.0.0.1]");
}

TEST_F(RemoteTest, OpportunisticStarttls) {
  make_certificate();
  Child server(scripted({}, true));
  auto port = server.first_line();
  ASSERT_FALSE(port.empty());
  RemoteConfig config;
  config.smarthost = "127.0.0.1:" + port;
  auto outcome = deliver(config, message({"ok@remote.test"}), "remote.test");
  ASSERT_EQ(outcome.results.size(), 1u);
  EXPECT_TRUE(outcome.results[0].delivered()) << outcome.results[0].code << " " << outcome.results[0].text;
  auto files = dumped("scripted");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_NE(files[0].find("tls yes\n"), std::string::npos) << files[0];
}

TEST_F(RemoteTest, FailedTlsIsRetriedInPlaintext) {
  make_certificate();
  Child server(scripted({"--tls-broken"}, true));
  auto port = server.first_line();
  ASSERT_FALSE(port.empty());
  RemoteConfig config;
  config.smarthost = "127.0.0.1:" + port;
  auto outcomes = deliver_all(config, {message({"ok@remote.test"}), message({"ok@remote.test"})}, "remote.test");
  ASSERT_EQ(outcomes.size(), 2u);
  ASSERT_EQ(outcomes[0].results.size(), 1u);
  EXPECT_TRUE(outcomes[0].results[0].temporary()) << outcomes[0].results[0].code;  // the handshake failed
  ASSERT_EQ(outcomes[1].results.size(), 1u);
  EXPECT_TRUE(outcomes[1].results[0].delivered()) << outcomes[1].results[0].code;  // then in plaintext
  auto files = dumped("scripted");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_NE(files[0].find("tls no\n"), std::string::npos) << files[0];
}

TEST_F(RemoteTest, SmarthostAuthAfterStarttls) {
  make_certificate();
  for (std::string mechanism : {"PLAIN", "LOGIN"}) {
    Child server(scripted({"--auth", "relay-user:s3cret", "--auth-mechanism", mechanism}, true));
    auto port = server.first_line();
    ASSERT_FALSE(port.empty());
    RemoteConfig config;
    config.smarthost = "127.0.0.1:" + port;
    config.auth_username = "relay-user";
    config.auth_password = "s3cret";
    auto outcome = deliver(config, message({"ok@remote.test"}), "remote.test");
    ASSERT_EQ(outcome.results.size(), 1u);
    EXPECT_TRUE(outcome.results[0].delivered()) << mechanism << ": " << outcome.results[0].text;
    // A wrong password: the message waits (4xx), it does not bounce.
    config.auth_password = "wrong";
    auto refused = deliver(config, message({"ok@remote.test"}), "remote.test");
    EXPECT_EQ(refused.results.at(0).status(), "4.7.0") << refused.results[0].text;
  }
  auto files = dumped("scripted");
  ASSERT_EQ(files.size(), 2u);
  for (const auto& f : files) {
    EXPECT_NE(f.find("\ntls yes\n"), std::string::npos) << f;
    EXPECT_NE(f.find("\nauth relay-user\n"), std::string::npos) << f;
  }
}

TEST_F(RemoteTest, RequiredTlsWithoutStarttlsWaits) {
  Child server(scripted());
  auto port = server.first_line();
  ASSERT_FALSE(port.empty());
  RemoteConfig config;
  config.smarthost = "127.0.0.1:" + port;
  config.tls = RemoteConfig::Tls::kRequired;
  auto outcome = deliver(config, message({"ok@remote.test"}), "remote.test");
  EXPECT_EQ(outcome.results.at(0).status(), "4.7.4") << outcome.results[0].text;
  // The same for AUTH: no password in plaintext.
  config.tls = RemoteConfig::Tls::kMay;
  config.auth_username = "relay-user";
  config.auth_password = "s3cret";
  outcome = deliver(config, message({"ok@remote.test"}), "remote.test");
  EXPECT_EQ(outcome.results.at(0).status(), "4.7.4") << outcome.results[0].text;
  EXPECT_TRUE(dumped("scripted").empty());
}

TEST_F(RemoteTest, ImplicitTlsWithAuth) {
  make_certificate();
  Child server(scripted({"--implicit-tls", "--auth", "relay-user:s3cret"}, true));
  auto port = server.first_line();
  ASSERT_FALSE(port.empty());
  RemoteConfig config;
  config.smarthost = "127.0.0.1:" + port;
  config.tls = RemoteConfig::Tls::kImplicit;
  config.auth_username = "relay-user";
  config.auth_password = "s3cret";
  auto outcome = deliver(config, message({"ok@remote.test"}), "remote.test");
  EXPECT_TRUE(outcome.results.at(0).delivered()) << outcome.results[0].text;
  auto files = dumped("scripted");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_NE(files[0].find("\nauth relay-user\n"), std::string::npos) << files[0];
  EXPECT_NE(files[0].find("\ntls yes\n"), std::string::npos) << files[0];
}

TEST_F(RemoteTest, SilentServerTimesOut) {
  // A socket that listens but never accepts: the connection is made (the
  // kernel's backlog), the greeting never comes.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  RemoteConfig config;
  config.smarthost = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  config.command_timeout = std::chrono::seconds(1);
  auto outcome = deliver(config, message({"a@remote.test"}), "remote.test");  // gives up after 30 s
  ::close(listener);
  ASSERT_EQ(outcome.results.size(), 1u);
  EXPECT_EQ(outcome.results[0].status(), "4.4.2") << outcome.results[0].text;
  EXPECT_EQ(outcome.results[0].text, "Timed out waiting for the server");
}

TEST_F(RemoteTest, NobodyListeningIsTemporary) {
  RemoteConfig config;
  config.smarthost = "127.0.0.1:" + std::to_string(free_port());
  auto outcome = deliver(config, message({"a@remote.test"}), "remote.test");
  ASSERT_EQ(outcome.results.size(), 1u);
  EXPECT_TRUE(outcome.results[0].temporary());
  EXPECT_EQ(outcome.results[0].status(), "4.4.1");
}

TEST_F(RemoteTest, MxRoutingThroughDnsmasq) {
  int port = free_port();
  Child sink({"smtp-sink", "-u", "nobody", "-d", dir_ + "/sink/%M.", "127.0.0.1:" + std::to_string(port), "10"});
  // mx.test: a dead MX first (nothing on 127.0.0.9), then one that works
  // on its IPv4 address (its IPv6 address ::1, tried first, has no server).
  // alias.test: a CNAME to that host, and no MX (implicit MX).
  dns::test::Dnsmasq dns({"--mx-host=mx.test,dead.mx.test,10", "--mx-host=mx.test,live.mx.test,20",
                          "--host-record=dead.mx.test,127.0.0.9", "--host-record=live.mx.test,127.0.0.1,::1",
                          "--cname=alias.test,live.mx.test", "--dns-rr=null.test,15,000000"});
  ASSERT_TRUE(dns.running());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  RemoteConfig config;
  config.port = static_cast<std::uint16_t>(port);
  auto outcome = deliver(config, message({"a@mx.test"}), "mx.test", dns.port());
  ASSERT_EQ(outcome.results.size(), 1u);
  EXPECT_TRUE(outcome.results[0].delivered()) << outcome.results[0].code << " " << outcome.results[0].text;
  EXPECT_EQ(outcome.remote_mta, "live.mx.test");
  EXPECT_EQ(outcome.connected_to, "live.mx.test[127.0.0.1]");

  auto alias = deliver(config, message({"a@alias.test"}), "alias.test", dns.port());
  ASSERT_EQ(alias.results.size(), 1u);
  EXPECT_TRUE(alias.results[0].delivered()) << alias.results[0].code << " " << alias.results[0].text;
  EXPECT_EQ(alias.connected_to, "alias.test[127.0.0.1]");

  auto null_mx = deliver(config, message({"a@null.test"}), "null.test", dns.port());
  ASSERT_EQ(null_mx.results.size(), 1u);
  EXPECT_EQ(null_mx.results[0].status(), "5.1.10");
  auto nx = deliver(config, message({"a@nosuch.test"}), "nosuch.test", dns.port());
  EXPECT_EQ(nx.results[0].status(), "5.1.2");
}

// Lines "<key> <value>" of the scripted server's dumps.
std::vector<std::string> dump_field(const std::vector<std::string>& files, const std::string& key) {
  std::vector<std::string> out;
  for (const auto& f : files) {
    auto at = f.find("\n" + key + " ");
    if (at == std::string::npos) continue;
    auto start = at + key.size() + 2;
    out.push_back(f.substr(start, f.find('\n', start) - start));
  }
  return out;
}

TEST_F(RemoteTest, ConnectionIsReusedForTheNextMessages) {
  Child server(scripted());
  auto port = server.first_line();
  ASSERT_FALSE(port.empty());
  RemoteConfig config;
  config.smarthost = "127.0.0.1:" + port;
  config.max_connections_per_destination = 1;
  std::vector<RemoteMessage> messages;
  for (int i = 0; i < 5; ++i) messages.push_back(message({"ok@remote.test"}));
  // A temporary failure in between leaves the connection open for the rest.
  messages.push_back(message({"temp@remote.test"}));
  messages.push_back(message({"ok@remote.test"}));
  auto outcomes = deliver_all(config, std::move(messages), "remote.test", 0, false);
  ASSERT_EQ(outcomes.size(), 7u);
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    ASSERT_EQ(outcomes[i].results.size(), 1u) << i;
    EXPECT_EQ(outcomes[i].results[0].code, i == 5 ? 451 : 250) << i << " " << outcomes[i].results[0].text;
  }
  // Six messages taken, all on one connection.
  auto connections = dump_field(dumped("scripted"), "connection");
  ASSERT_EQ(connections.size(), 6u);
  EXPECT_EQ(std::set<std::string>(connections.begin(), connections.end()).size(), 1u);
}

TEST_F(RemoteTest, ConnectionsPerDestinationAreLimited) {
  // Each DATA takes 0.3 s: the client's connections overlap.
  Child server(scripted({"--delay", "0.3"}));
  auto port = server.first_line();
  ASSERT_FALSE(port.empty());
  RemoteConfig config;
  config.smarthost = "127.0.0.1:" + port;
  config.max_connections_per_destination = 2;
  std::vector<RemoteMessage> messages;
  for (int i = 0; i < 8; ++i) messages.push_back(message({"ok@remote.test"}));
  auto outcomes = deliver_all(config, std::move(messages), "remote.test", 0, false);
  for (const auto& o : outcomes) {
    ASSERT_EQ(o.results.size(), 1u);
    EXPECT_TRUE(o.results[0].delivered());
  }
  auto files = dumped("scripted");
  ASSERT_EQ(files.size(), 8u);
  auto concurrent = dump_field(files, "concurrent");
  auto connections = dump_field(files, "connection");
  EXPECT_EQ(std::set<std::string>(concurrent.begin(), concurrent.end()), (std::set<std::string>{"2"}));
  EXPECT_EQ(std::set<std::string>(connections.begin(), connections.end()).size(), 2u);
}

// A slow destination keeps at most max_waiting_per_destination messages
// waiting; the others come back at once, not tried (they wait in the queue,
// where they hold no place among the messages being delivered).
TEST_F(RemoteTest, WaitingMessagesPerDestinationAreLimited) {
  Child server(scripted({"--delay", "0.3"}));
  auto port = server.first_line();
  ASSERT_FALSE(port.empty());
  RemoteConfig config;
  config.smarthost = "127.0.0.1:" + port;
  config.max_connections_per_destination = 1;
  config.max_waiting_per_destination = 2;
  std::vector<RemoteMessage> messages;
  for (int i = 0; i < 6; ++i) messages.push_back(message({"ok@remote.test"}));
  auto outcomes = deliver_all(config, std::move(messages), "remote.test", 0, false);
  std::size_t delivered = 0, not_attempted = 0;
  for (const auto& o : outcomes) {
    ASSERT_EQ(o.results.size(), 1u);
    if (o.results[0].delivered()) ++delivered;
    if (o.not_attempted) {
      ++not_attempted;
      EXPECT_EQ(o.results[0].status(), "4.4.5");
    }
  }
  // Two wait, and one more when the connection took the first before the
  // last were submitted.
  EXPECT_GE(delivered, 2u);
  EXPECT_LE(delivered, 3u);
  EXPECT_EQ(delivered + not_attempted, 6u);
  EXPECT_EQ(dumped("scripted").size(), delivered);
}

TEST_F(RemoteTest, ConnectionsInAllAreLimited) {
  Child server(scripted({"--delay", "0.2"}));
  auto port = server.first_line();
  ASSERT_FALSE(port.empty());
  // Two destinations (implicit MX), both on the scripted server.
  dns::test::Dnsmasq dns({"--host-record=a.test,127.0.0.1", "--host-record=b.test,127.0.0.1"});
  ASSERT_TRUE(dns.running());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  asio::io_context io;
  auto resolver = dns::Resolver::create(
      io.get_executor(), {{"127.0.0.1:" + std::to_string(dns.port())}, std::chrono::milliseconds(1500)});
  ASSERT_TRUE(resolver.ok());
  RemoteConfig config;
  config.helo_name = "tern.example.test";
  config.port = static_cast<std::uint16_t>(std::stoi(port));
  config.max_connections = 1;
  RemoteDelivery remote(io.get_executor(), **resolver, config);
  int delivered = 0;
  for (std::string domain : {"a.test", "b.test", "a.test", "b.test"}) {
    remote.submit({message({"ok@" + domain}), domain, [&delivered](std::vector<queue::RecipientOutcome> o) {
                     delivered += view(o).results.at(0).delivered() ? 1 : 0;
                   }});
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (delivered < 4 && std::chrono::steady_clock::now() < deadline) io.run_one_for(std::chrono::milliseconds(100));
  EXPECT_EQ(delivered, 4);
  // One connection at a time; one per destination, each carrying its two
  // messages (the idle wait is cut short: the other destination waits).
  auto files = dumped("scripted");
  auto concurrent = dump_field(files, "concurrent");
  auto connections = dump_field(files, "connection");
  EXPECT_EQ(std::set<std::string>(concurrent.begin(), concurrent.end()), (std::set<std::string>{"1"}));
  EXPECT_EQ(std::set<std::string>(connections.begin(), connections.end()).size(), 2u);
}

TEST_F(RemoteTest, MailHostsWithoutAddressesArePermanent) {
  dns::test::Dnsmasq dns({"--mx-host=noaddr.test,nothere.test,10", "--mx-host=slow.test,dead.mx.test,10",
                          "--host-record=dead.mx.test,127.0.0.9"});
  ASSERT_TRUE(dns.running());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  RemoteConfig config;
  config.port = static_cast<std::uint16_t>(free_port());
  auto outcome = deliver(config, message({"a@noaddr.test"}), "noaddr.test", dns.port());
  ASSERT_EQ(outcome.results.size(), 1u);
  EXPECT_EQ(outcome.results[0].code, 550);
  EXPECT_EQ(outcome.results[0].status(), "5.4.4");
  // A smarthost without an address is a mistake to fix: the mail waits.
  RemoteConfig via_smarthost = config;
  via_smarthost.smarthost = "nothere.test:25";
  auto waits = deliver(via_smarthost, message({"a@example.org"}), "example.org", dns.port());
  EXPECT_EQ(waits.results.at(0).status(), "4.4.1") << waits.results[0].text;
  // A host with an address that does not answer stays temporary, and the
  // other messages waiting for that destination share the outcome.
  auto dead = deliver_all(config, {message({"a@slow.test"}), message({"b@slow.test"})}, "slow.test", dns.port(),
                          false);
  for (const auto& o : dead) {
    ASSERT_EQ(o.results.size(), 1u);
    EXPECT_EQ(o.results[0].status(), "4.4.1") << o.results[0].text;
  }
}

}  // namespace
}  // namespace tern::delivery
