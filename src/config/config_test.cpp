#include "config/config.h"

#include <gtest/gtest.h>

namespace tern::config {
namespace {

TEST(Config, EmbeddedDefault) {
  auto c = parse(kEmbeddedDefault, "default");
  ASSERT_TRUE(c.ok()) << c.error().text;
  ASSERT_EQ(c->listeners.size(), 1u);
  EXPECT_EQ(c->listeners[0].host, "127.0.0.1");
  EXPECT_EQ(c->listeners[0].port, 2525);
  EXPECT_EQ(c->local.domains, std::vector<std::string>{"localhost"});
  EXPECT_TRUE(c->local.accept_any_user);
  EXPECT_FALSE(c->hostname.empty());
  EXPECT_EQ(c->data_dir, "var");
  EXPECT_EQ(c->relay.networks, (std::vector<std::string>{"127.0.0.0/8", "::1/128"}));
  EXPECT_EQ(c->outbound.port, 25);
}

TEST(Config, AllKeys) {
  auto c = parse(R"(
hostname = "mx.example.test"
data_dir = "/tmp/x"
log_level = "warn"
[[listener]]
address = "[::1]:25"
[[listener]]
address = "0.0.0.0:587"
[local]
domains = ["Example.TEST"]
users = ["Alice"]
accept_any_user = false
[limits]
max_message_size = 1000
max_recipients = 5
max_connections = 10
max_connections_per_ip = 2
max_command_line_length = 2048
max_line_length = 1000
max_errors = 3
max_received_headers = 30
command_timeout = "2m"
data_timeout = "1h"
[queue]
retry_interval = "30s"
max_retry_interval = "10m"
max_lifetime = "2d"
delay_warning = "0"
[relay]
networks = ["192.0.2.0/24"]
smarthost = "[::1]:2526"
smarthost_tls = "required"
smarthost_username = "relay-user"
smarthost_password = "s3cret"
[outbound]
port = 2527
max_connections = 10
max_connections_per_destination = 3
connect_timeout = "10s"
command_timeout = "2m"
data_timeout = "15m"
[dns]
servers = ["127.0.0.1:5353"]
)", "t.toml");
  ASSERT_TRUE(c.ok()) << c.error().text;
  EXPECT_EQ(c->hostname, "mx.example.test");
  EXPECT_EQ(c->listeners[0].host, "::1");
  EXPECT_EQ(c->listeners[1].port, 587);
  EXPECT_EQ(c->local.domains[0], "example.test");
  EXPECT_EQ(c->local.users[0], "alice");
  EXPECT_EQ(c->limits.max_message_size, 1000u);
  EXPECT_EQ(c->limits.command_timeout, std::chrono::seconds(120));
  EXPECT_EQ(c->limits.data_timeout, std::chrono::seconds(3600));
  EXPECT_EQ(c->queue.retry_interval, std::chrono::seconds(30));
  EXPECT_EQ(c->queue.max_retry_interval, std::chrono::seconds(600));
  EXPECT_EQ(c->queue.max_lifetime, std::chrono::seconds(2 * 86400));
  EXPECT_EQ(c->queue.delay_warning, std::chrono::seconds(0));
  EXPECT_EQ(c->relay.networks, std::vector<std::string>{"192.0.2.0/24"});
  EXPECT_EQ(c->relay.smarthost, "[::1]:2526");
  EXPECT_EQ(c->relay.smarthost_tls, "required");
  EXPECT_EQ(c->relay.smarthost_username, "relay-user");
  EXPECT_EQ(c->relay.smarthost_password, "s3cret");
  EXPECT_EQ(c->outbound.port, 2527);
  EXPECT_EQ(c->outbound.max_connections, 10u);
  EXPECT_EQ(c->outbound.max_connections_per_destination, 3u);
  EXPECT_EQ(c->outbound.connect_timeout, std::chrono::seconds(10));
  EXPECT_EQ(c->outbound.command_timeout, std::chrono::seconds(120));
  EXPECT_EQ(c->outbound.data_timeout, std::chrono::seconds(900));
  EXPECT_EQ(c->dns.servers, std::vector<std::string>{"127.0.0.1:5353"});
}

void expect_error(std::string_view text, std::string_view needle) {
  auto c = parse(text, "t.toml");
  ASSERT_FALSE(c.ok()) << text;
  EXPECT_NE(c.error().text.find(needle), std::string::npos) << c.error().text;
}

TEST(Config, ErrorsNameKeyAndLine) {
  expect_error("\n[limits]\nmax_foo = 1\n", "t.toml:3:11: unknown key 'limits.max_foo'");
  expect_error("colour = 1\n", "unknown key 'colour'");
  expect_error("[limits]\nmax_recipients = \"x\"\n", "t.toml:2:18: 'limits.max_recipients' must be an integer");
  expect_error("[limits]\nmax_recipients = 0\n", "'limits.max_recipients' must be an integer >= 1");
  expect_error("[limits]\ncommand_timeout = \"5x\"\n", "'limits.command_timeout' must be a duration");
  expect_error("[limits]\nmax_line_length = 80\n", "'limits.max_line_length' must be an integer >= 1000");
  expect_error("[[listener]]\naddress = \"nowhere\"\n", "'listener.address' must be ip:port");
  expect_error("[[listener]]\naddress = \"mx.example.test:25\"\n", "'listener.address' must be ip:port");
  expect_error("[[listener]]\naddress = \"::1:25\"\n", "'listener.address'");
  expect_error("[local]\ndomains = [1]\n", "'local.domains' must hold only strings");
  expect_error("log_level = \"loud\"\n", "'log_level' must be one of");
  expect_error("log_format = \"xml\"\n", "'log_format' must be \"text\" or \"json\"");
  expect_error("hostname = \n", "t.toml:1:");
  expect_error("[queue]\nretry_interval = \"2h\"\n", "'queue.retry_interval' must be more than 0");
  expect_error("[relay]\nsmarthost = \"nowhere\"\n", "'relay.smarthost' must be host:port");
  expect_error("[relay]\nsmarthost_tls = \"yes\"\n", "'relay.smarthost_tls' must be one of may, required, implicit");
  expect_error("[relay]\nsmarthost_username = \"u\"\n", "'relay.smarthost_username' needs 'relay.smarthost'");
  expect_error("[relay]\nsmarthost = \"a:1\"\nsmarthost_password = \"p\"\n",
               "'relay.smarthost_password' needs 'relay.smarthost_username'");
  expect_error("[outbound]\nport = 70000\n", "'outbound.port' must be a port number");
  expect_error("[outbound]\ncommand_timeout = \"0\"\n", "'outbound.command_timeout' must be more than 0");
  expect_error("[limits]\ndata_timeout = \"0s\"\n", "'limits.data_timeout' must be more than 0");
  expect_error("[outbound]\nmax_connections_per_destination = 0\n",
               "'outbound.max_connections_per_destination' must be an integer >= 1");
  expect_error("[dns]\nservers = [\"x\"]\n", "'dns.servers' entries must be IP addresses, as ip:port");
  expect_error("[dns]\nservers = [\"dns.example:53\"]\n", "'dns.servers' entries must be IP addresses, as ip:port");
  expect_error("[dns]\nservers = [\"127.0.0.1@x\"]\n", "'dns.servers' entries must be IP addresses, as ip:port");
  expect_error("[http]\naddress = \"localhost:9025\"\n", "'http.address' must be ip:port");
  expect_error("[http]\naddress = \"127.0.0.1\"\n", "'http.address' must be ip:port");
  expect_error("[http]\nport = 9025\n", "unknown key 'http.port'");
}

// [http]: off unless an address is given.
TEST(Config, HttpAddress) {
  auto off = parse("", "t.toml");
  ASSERT_TRUE(off.ok());
  EXPECT_TRUE(off->http.address.empty());
  auto on = parse("[http]\naddress = \"[::1]:9025\"\n", "t.toml");
  ASSERT_TRUE(on.ok()) << on.error().text;
  EXPECT_EQ(on->http.host, "::1");
  EXPECT_EQ(on->http.port, 9025);
}

// Names that reach the greeting, headers or paths are checked: a line
// break in one would inject protocol lines or header fields.
TEST(Config, NamesAreValidated) {
  expect_error("hostname = \"mx.example.test\\r\\nX-Injected: 1\"\n", "t.toml:1:12: 'hostname' must be a host name");
  expect_error("hostname = \"mx example.test\"\n", "'hostname' must be a host name");
  expect_error("hostname = \"-mx.example.test\"\n", "'hostname' must be a host name");
  expect_error("hostname = \"mx..example.test\"\n", "'hostname' must be a host name");
  expect_error("hostname = \"\"\n", "'hostname' must be a host name");
  expect_error("[local]\ndomains = [\"example.test\", \"exa mple.test\"]\n", "'local.domains': \"exa mple.test\"");
  expect_error("[local]\nusers = [\"al ice\"]\n", "'local.users': \"al ice\" is not a local part");
  expect_error("[local]\nusers = [\"a@b\"]\n", "'local.users'");
  expect_error("[local]\nusers = [\"a\\nb\"]\n", "'local.users'");
  expect_error("data_dir = \"\"\n", "'data_dir' must be a path without control characters");
  expect_error("data_dir = \"var\\nx\"\n", "'data_dir' must be a path");
  expect_error("[relay]\nsmarthost = \"a\\r\\nb:25\"\n", "'relay.smarthost' must be host:port");
  auto ok = parse("hostname = \"mx-1.Example.test\"\ndata_dir = \"/var/lib/tern\"\n[local]\n"
                  "domains = [\"example.test\", \"xn--bcher-kva.example\"]\nusers = [\"alice\", \"first.last\", \"a+b\"]\n"
                  "[relay]\nsmarthost = \"[::1]:25\"\n",
                  "t.toml");
  EXPECT_TRUE(ok.ok()) << ok.error().text;
}

TEST(Config, TlsAuthAndRoles) {
  auto c = parse(R"(
data_dir = "/srv/tern"
[[listener]]
address = "0.0.0.0:25"
[[listener]]
address = "0.0.0.0:587"
role = "submission"
[[listener]]
address = "0.0.0.0:465"
role = "submissions"
[tls]
certificate = "/etc/tern/cert.pem"
key = "/etc/tern/key.pem"
[auth]
max_failures = 3
failure_delay = "2s"
show_login = true
[auth.senders]
"Alice@example.test" = ["sales@example.test", "@example.org"]
)", "t.toml");
  ASSERT_TRUE(c.ok()) << c.error().text;
  ASSERT_EQ(c->listeners.size(), 3u);
  EXPECT_EQ(c->listeners[0].role, ListenerRole::kMx);
  EXPECT_EQ(c->listeners[1].role, ListenerRole::kSubmission);
  EXPECT_EQ(c->listeners[2].role, ListenerRole::kSubmissions);
  EXPECT_TRUE(c->tls.enabled());
  EXPECT_EQ(c->tls.key, "/etc/tern/key.pem");
  EXPECT_EQ(c->auth.users_file, "/srv/tern/users");
  EXPECT_EQ(c->auth.max_failures, 3u);
  EXPECT_EQ(c->auth.failure_delay, std::chrono::seconds(2));
  EXPECT_TRUE(c->auth.show_login);
  EXPECT_EQ(c->auth.senders.at("alice@example.test"),
            (std::vector<std::string>{"sales@example.test", "@example.org"}));

  auto d = parse("", "t.toml");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->tls.enabled());
  EXPECT_EQ(d->auth.users_file, "var/users");
  EXPECT_EQ(d->auth.max_failures, 5u);
  EXPECT_FALSE(d->auth.show_login);
}

TEST(Config, TlsAuthErrors) {
  expect_error("[tls]\ncertificate = \"c.pem\"\n", "'tls.certificate' needs 'tls.key'");
  expect_error("[tls]\nkey = \"k.pem\"\n", "'tls.key' needs 'tls.certificate'");
  expect_error("[tls]\nchain = \"k.pem\"\n", "unknown key 'tls.chain'");
  expect_error("[[listener]]\naddress = \"127.0.0.1:465\"\nrole = \"submissions\"\n", "needs 'tls.certificate'");
  expect_error("[[listener]]\naddress = \"127.0.0.1:587\"\nrole = \"smtps\"\n",
               "'listener.role' must be one of mx, submission, submissions");
  expect_error("[auth]\nmax_failures = 0\n", "'auth.max_failures' must be an integer >= 1");
  expect_error("[auth]\nusers_file = \"\"\n", "'auth.users_file' must be a path");
  expect_error("[auth]\nfailure_delay = \"soon\"\n", "'auth.failure_delay' must be a duration");
  expect_error("[auth]\nshow_login = \"yes\"\n", "'auth.show_login' must be true or false");
  expect_error("[auth.senders]\n\"alice\" = [\"a@b.test\"]\n", "the login must be an address");
  expect_error("[auth.senders]\n\"alice@a.test\" = [\"not an address\"]\n", "is not an address or @domain");
}

TEST(Config, DomainsAndStores) {
  auto c = parse(R"(
[local]
domains = ["example.test", "example.org"]
users = ["alice", "bob"]
aliases = "/etc/tern/aliases"
recipient_delimiter = "+-"
postmaster = "root@example.test"
[domain."example.org"]
users = ["carol"]
accept_any_user = true
delivery = "lmtp:unix:/run/dovecot/lmtp"
verify_recipients = "lmtp"
[domain."Example.NET"]
delivery = "lmtp:127.0.0.1:24"
)", "t.toml");
  ASSERT_TRUE(c.ok()) << c.error().text;
  const auto& l = c->local;
  EXPECT_EQ(l.domains, (std::vector<std::string>{"example.test", "example.org", "example.net"}));
  EXPECT_EQ(l.aliases, "/etc/tern/aliases");
  EXPECT_EQ(l.recipient_delimiter, "+-");
  EXPECT_EQ(l.postmaster, "root@example.test");
  EXPECT_EQ(l.delivery.kind, MailStore::Kind::kMaildir);
  const auto& org = l.domain.at("example.org");
  EXPECT_EQ(org.users, std::vector<std::string>{"carol"});
  EXPECT_EQ(org.accept_any_user, true);
  EXPECT_TRUE(org.verify_recipients);
  ASSERT_TRUE(org.delivery);
  EXPECT_EQ(org.delivery->kind, MailStore::Kind::kLmtpUnix);
  EXPECT_EQ(org.delivery->path, "/run/dovecot/lmtp");
  const auto& net = l.domain.at("example.net");
  EXPECT_FALSE(net.users);
  EXPECT_EQ(net.delivery->kind, MailStore::Kind::kLmtpTcp);
  EXPECT_EQ(net.delivery->host, "127.0.0.1");
  EXPECT_EQ(net.delivery->port, 24);
  EXPECT_EQ(net.delivery->text, "lmtp:127.0.0.1:24");

  auto d = parse("[local]\ndomains = [\"a.test\"]\n", "t.toml");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->local.postmaster, "postmaster@a.test");
  EXPECT_EQ(d->local.recipient_delimiter, "+");
}

TEST(Config, MailStores) {
  EXPECT_TRUE(parse_mail_store("maildir"));
  EXPECT_TRUE(parse_mail_store("lmtp:[::1]:24"));
  EXPECT_TRUE(parse_mail_store("lmtp:store.example.test:24"));
  EXPECT_FALSE(parse_mail_store("lmtp:unix:relative/path"));
  EXPECT_FALSE(parse_mail_store("lmtp:unix:"));
  EXPECT_FALSE(parse_mail_store("lmtp:127.0.0.1"));
  EXPECT_FALSE(parse_mail_store("lmtp:127.0.0.1:0"));
  EXPECT_FALSE(parse_mail_store("smtp:127.0.0.1:25"));
  EXPECT_FALSE(parse_mail_store("mbox"));
  EXPECT_FALSE(parse_mail_store("lmtp:unix:/run/a\nb"));
}

TEST(Config, DomainErrors) {
  expect_error("[domain.\"example.org\"]\ncolour = 1\n", "unknown key 'domain.\"example.org\".colour'");
  expect_error("[domain.\"example.org\"]\ndelivery = \"lmtp:nowhere\"\n", "'domain.\"example.org\".delivery' must be");
  expect_error("[local]\ndelivery = \"mbox\"\n", "'local.delivery' must be");
  expect_error("[domain.\"a.test\"]\n[domain.\"A.test\"]\n", "the domain is listed twice");
  expect_error("[local]\ndomains = [\"a.test\", \"A.TEST\"]\n", "\"a.test\" is listed twice");
  expect_error("[domain.\"a.test\"]\nverify_recipients = \"lmtp\"\n", "needs an LMTP 'delivery'");
  expect_error("[domain.\"a.test\"]\nverify_recipients = \"yes\"\n", "must be \"lmtp\" or \"none\"");
  expect_error("[domain.\"a.test\"]\nusers = [\"a b\"]\n", "'domain.\"a.test\".users': \"a b\" is not a local part");
  expect_error("[domain.\"bad domain\"]\n", "not a domain name");
  expect_error("[local]\npostmaster = \"root\"\n", "'local.postmaster' must be an address");
  expect_error("[local]\nrecipient_delimiter = \"@\"\n", "'local.recipient_delimiter' must be");
}

TEST(Config, Durations) {
  EXPECT_EQ(parse_duration("30s"), std::chrono::seconds(30));
  EXPECT_EQ(parse_duration("5d"), std::chrono::seconds(5 * 86400));
  EXPECT_EQ(parse_duration("0"), std::chrono::seconds(0));
  EXPECT_FALSE(parse_duration("5").has_value());
  EXPECT_FALSE(parse_duration("m").has_value());
  EXPECT_FALSE(parse_duration("-5m").has_value());
}

TEST(Config, LogLevelWarningIsWarn) {
  auto c = parse("hostname = \"mx.example.test\"\nlog_level = \"warning\"\n", "t.toml");
  ASSERT_TRUE(c.ok()) << c.error().text;
  EXPECT_EQ(c->log_level, "warn");
}

// [dns] servers as resolv.conf (a bare address: port 53) or unbound
// ("ip@port") write them, kept as ip:port.
TEST(Config, DnsServerForms) {
  auto c = parse("hostname = \"mx.example.test\"\n[dns]\n"
                 "servers = [\"127.0.0.1\", \"::1\", \"127.0.0.1@5353\", \"::1@5300\", \"[::1]:54\"]\n",
                 "t.toml");
  ASSERT_TRUE(c.ok()) << c.error().text;
  EXPECT_EQ(c->dns.servers,
            (std::vector<std::string>{"127.0.0.1:53", "[::1]:53", "127.0.0.1:5353", "[::1]:5300", "[::1]:54"}));
}

// Issue 18's names: [dkim."domain"] (one selector) or [[dkim."domain"]]
// (several), [spf], [dmarc], [srs], [arc]; careful defaults.
TEST(Config, MailAuthentication) {
  auto d = parse("hostname = \"mx.example.test\"\n", "t.toml");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->spf.verify && d->dkim.verify && d->dmarc.verify && d->arc.verify);
  EXPECT_EQ(d->spf.action_fail, Action::kAnnotate);
  EXPECT_EQ(d->dmarc.action_reject, Action::kReject);
  EXPECT_EQ(d->spf.action_temperror, Action::kAnnotate);
  EXPECT_TRUE(d->dkim.keys.empty());
  EXPECT_FALSE(d->srs.enabled());
  EXPECT_FALSE(d->arc.sealing());
  EXPECT_EQ(d->limits.check_timeout, std::chrono::seconds(20));

  auto c = parse(R"(
hostname = "mx.example.test"
[limits]
check_timeout = "5s"
[dkim]
verify = false
[dkim."Example.test"]
selector = "s2026"
key = "/etc/tern/dkim/example.test.s2026.pem"
[[dkim."other.test"]]
selector = "rsa2026"
key = "/k/rsa.pem"
[[dkim."other.test"]]
selector = "ed2026"
key = "/k/ed.pem"
[spf]
action_fail = "reject"
action_temperror = "defer"
[dmarc]
action_reject = "annotate"
[srs]
secret = "0123456789abcdef0123"
[arc]
domain = "example.test"
selector = "arc2026"
key = "/etc/tern/dkim/arc.pem"
)", "t.toml");
  ASSERT_TRUE(c.ok()) << c.error().text;
  EXPECT_FALSE(c->dkim.verify);
  ASSERT_EQ(c->dkim.keys.size(), 3u);
  EXPECT_EQ(c->dkim.keys[0].domain, "example.test");
  EXPECT_EQ(c->dkim.keys[0].selector, "s2026");
  EXPECT_EQ(c->dkim.keys[2].domain, "other.test");
  EXPECT_EQ(c->dkim.keys[2].key, "/k/ed.pem");
  EXPECT_EQ(c->spf.action_fail, Action::kReject);
  EXPECT_EQ(c->spf.action_temperror, Action::kDefer);
  EXPECT_EQ(c->dmarc.action_reject, Action::kAnnotate);
  EXPECT_TRUE(c->srs.enabled());
  EXPECT_EQ(c->srs.domain, "mx.example.test");
  EXPECT_TRUE(c->arc.sealing());
  EXPECT_EQ(c->limits.check_timeout, std::chrono::seconds(5));
  // A short SRS secret is accepted (tern serve warns about it).
  auto short_secret = parse("hostname = \"mx.example.test\"\n[srs]\nsecret = \"short\"\n", "t.toml");
  ASSERT_TRUE(short_secret.ok()) << short_secret.error().text;
  EXPECT_TRUE(short_secret->srs.enabled());

  expect_error("[spf]\naction_fail = \"drop\"\n", "'spf.action_fail' must be \"annotate\" or \"reject\"");
  expect_error("[dmarc]\naction_reject = \"defer\"\n", "'dmarc.action_reject' must be \"reject\" or \"annotate\"");
  expect_error("[dkim.\"a.test\"]\nselector = \"s1\"\n", "'dkim.a.test' needs both selector and key");
  expect_error("[dkim.\"a.test\"]\nselector = \"s 1\"\nkey = \"/k\"\n", "'dkim.a.test.selector' must be a DNS label");
  expect_error("[dkim.\"a.test\"]\nselector = \"s1\"\nkey = \"/k\"\nalgorithm = \"rsa\"\n", "unknown key 'dkim.a.test.algorithm'");
  expect_error("[dkim.\"bad domain\"]\nselector = \"s1\"\nkey = \"/k\"\n", "'dkim.bad domain': not a domain name");
  expect_error("[arc]\ndomain = \"a.test\"\n", "'arc.domain' needs 'arc.selector' and 'arc.key'");
  expect_error("[spf]\nverify = \"yes\"\n", "'spf.verify' must be true or false");
}

}  // namespace
}  // namespace tern::config
