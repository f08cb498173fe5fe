#!/usr/bin/python3
"""t-29-domains_lmtp: local domains, subaddressing, aliases and forwarding
loops (issue 16), through the real binary with a real aiosmtpd remote
(tests/lib/scripted_smtp.py as [relay] smarthost). The LMTP half of issue 16
(a private Dovecot as the mail store) is t-30-lmtp_dovecot.

Proves:
- RCPT to an unknown user of a local domain gets 550 5.1.1 at once; the
  users of [local] users and of the users file (`tern user add`, while tern
  runs) are accepted and delivered; postmaster@ and abuse@ of every local
  domain (and <Postmaster>) go to [local] postmaster;
- alice+tag@ is filed in alice's Maildir with Delivered-To: alice+tag@;
  with recipient_delimiter = "" it is an unknown user (550 5.1.1);
- aliases: a local part to two users, an address, nested aliases, a
  catch-all for a domain that is not in [local] domains, a catch-all of a
  local domain that leaves its real mailboxes alone, duplicates after
  expansion delivered once, a remote target relayed with the original
  MAIL FROM and Delivered-To: <alias>; check-config names file:line of a
  loop and of a bad target; SIGHUP and (separately) an mtime change load a
  new file without a restart; an invalid new file is refused
  (event=aliases_rejected) and the old aliases keep working;
- forwarding loops: a message that already carries Delivered-To: <alias>
  is not forwarded again, and one carrying Delivered-To: alice@ is not
  filed for alice again: both bounce 5.4.6 to the sender, nothing else is
  delivered or relayed; an alias whose smarthost is tern's own listener, or
  whose domain's MX (dnsmasq) is tern itself, bounces 5.4.6 after at most
  one connection to itself (no storm).
"""
import os
import re
import signal
import smtplib
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from scripted import Scripted  # noqa: E402
from ternlib import Tern, toml_value  # noqa: E402

QUEUE = '[queue]\nretry_interval = "1s"\nmax_retry_interval = "2s"'

ALIASES = """\
# t-29 aliases
sales              alice, bob               # a local part: in every local domain
help@example.test  bob                      # one address
all                staff                    # nested: all -> staff -> sales
staff:             sales, alice             # (alice again: delivered once)
@catchall.test     bob@example.test         # a domain that is not in [local] domains
@example.net       bob@example.test         # a local domain: its real mailboxes win
fwd@example.test   friend@remote.test       # a remote target
team@example.test  mate@remote.test
ghosts             alice, nobody-here       # a target that is no user
# hup1  bob
"""


class LocalTern(Tern):
    """A Tern with extra [local] lines (aliases, recipient_delimiter, ...):
    ternlib's local_extra, kept as a name for this test's readers."""


def client(port):
    s = smtplib.SMTP("127.0.0.1", port, timeout=20)
    s.ehlo("client.example")
    return s


def rcpt_reply(port, rcpt, sender="bob@example.test"):
    """(code, text) of RCPT TO:<rcpt> in a transaction that is then reset."""
    with client(port) as s:
        s.mail(sender)
        code, text = s.rcpt(rcpt)
        s.rset()
    return code, text.decode("utf-8", "replace")


def send(port, sender, rcpts, tag, headers=""):
    """One message tagged `X-Check: tag`; every RCPT and the data must get 250."""
    with client(port) as s:
        code, text = s.mail(sender)
        assert code == 250, f"MAIL FROM:<{sender}>: {code} {text!r}"
        for r in rcpts:
            code, text = s.rcpt(r)
            assert code == 250, f"RCPT TO:<{r}>: {code} {text!r}"
        code, text = s.data(f"{headers}Subject: {tag}\r\nX-Check: {tag}\r\n\r\nhello\r\n")
        assert code == 250, f"DATA: {code} {text!r}"


def tagged(t, user, domain, tag):
    """The delivered files (not reports) of user@domain tagged `tag`."""
    needle = f"X-Check: {tag}\n".encode()
    return [c for c in (p.read_bytes() for p in t.maildir(user, domain))
            if needle in c and b"multipart/report" not in c]


def expect_copies(test, t, tag, expected, timeout=20):
    """Waits until each (user, domain) in `expected` holds its count of
    messages tagged `tag`, and the queue is empty; then no Maildir holds
    more (or any other copy), and no bounce of it was sent. Returns
    {(user, domain): [contents]}."""
    ternlib.wait_for(lambda: all(len(tagged(t, u, d, tag)) >= n for (u, d), n in expected.items()),
                     timeout, 0.05, f"copies of {tag}: {expected}")
    t.wait_queue_empty(timeout)
    found = {}
    for path in t.all_delivered():
        domain, user = path.parts[-4], path.parts[-3]
        n = len(tagged(t, user, domain, tag))
        if n:
            found[(user, domain)] = n
    test.assertEqual(found, {k: v for k, v in expected.items() if v}, f"copies of {tag}")
    bounces = [p for p in t.all_delivered()
               if f"X-Check: {tag}\n".encode() in p.read_bytes() and b"multipart/report" in p.read_bytes()]
    test.assertEqual(bounces, [], f"a bounce of {tag}")
    return {k: tagged(t, *k, tag) for k in expected}


def bounce_for(t, tag, user="bob", domain="example.test", timeout=20):
    """The one report in user's Maildir about the message tagged `tag`."""
    ternlib.wait_for(lambda: [r for r in t.reports(user, domain) if f"X-Check: {tag}" in r],
                     timeout, 0.05, f"a bounce of {tag} in {user}@{domain}")
    t.wait_queue_empty(timeout)
    found = [r for r in t.reports(user, domain) if f"X-Check: {tag}" in r]
    assert len(found) == 1, f"{len(found)} bounces of {tag}"
    return found[0]


def remote_copies(remote, tag):
    return [(e, m) for e, m in zip(remote.envelopes(), remote.messages())
            if f"X-Check: {tag}".encode() in m]


class LocalDomains(unittest.TestCase):
    """One tern for example.test, example.net (with a catch-all) and
    example.com (Maildir), with the aliases above and the aiosmtpd remote
    as smarthost."""

    @classmethod
    def setUpClass(cls):
        cls.remote = Scripted()
        cls.tern = LocalTern(users=["alice", "bob"], domains=["example.test", "example.net", "example.com"])
        aliases = cls.tern.dir / "aliases"
        aliases.write_text(ALIASES, encoding="utf-8")
        cls.tern.local_extra = (f"aliases = {toml_value(str(aliases))}\n"
                                'recipient_delimiter = "+"\npostmaster = "root@example.test"')
        cls.tern.extra_toml = f'[relay]\nsmarthost = "127.0.0.1:{cls.remote.port}"\n{QUEUE}'
        cls.tern.start()

    @classmethod
    def tearDownClass(cls):
        cls.tern.stop()
        cls.remote.stop()

    # -- 1. who exists --------------------------------------------------------
    def test_unknown_user_550_at_rcpt(self):
        for rcpt in ("nobody@example.test", "carol@example.test", "alice.x@example.test"):
            code, text = rcpt_reply(self.tern.port, rcpt)
            self.assertEqual(code, 550, f"RCPT TO:<{rcpt}>: {text}")
            self.assertTrue(text.startswith("5.1.1"), f"RCPT TO:<{rcpt}>: {text}")

    def test_known_users_accepted(self):
        send(self.tern.port, "bob@example.test",
             ["alice@example.test", "bob@example.test", "Alice@Example.NET"], "known")
        expect_copies(self, self.tern, "known", {("alice", "example.test"): 1, ("bob", "example.test"): 1,
                                                 ("alice", "example.net"): 1})

    def test_user_added_with_tern_user_add(self):
        t = self.tern
        self.assertEqual(rcpt_reply(t.port, "dave@example.test")[0], 550)
        p = subprocess.run([ternlib.tern_bin(), "user", "add", "dave@example.test", "-c", str(t.config_path)],
                           input=b"dave-password\n", capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        ternlib.wait_for(lambda: rcpt_reply(t.port, "dave@example.test")[0] == 250, 10, 0.2,
                         "RCPT dave@example.test to get 250 after `tern user add`")
        send(t.port, "bob@example.test", ["dave@example.test"], "added user")
        expect_copies(self, t, "added user", {("dave", "example.test"): 1})
        # only in its own domain
        self.assertEqual(rcpt_reply(t.port, "dave@example.com")[0], 550)

    def test_postmaster_and_abuse_go_to_postmaster(self):
        rcpts = ["postmaster@example.test", "abuse@example.test", "postmaster@example.net",
                 "abuse@example.net", "Postmaster"]
        send(self.tern.port, "bob@example.test", rcpts, "role addresses")
        # one final recipient (root@example.test) for the five: one copy
        expect_copies(self, self.tern, "role addresses", {("root", "example.test"): 1})

    # -- 2. subaddressing -----------------------------------------------------
    def test_subaddress_into_alice(self):
        send(self.tern.port, "bob@example.test", ["alice+tag@example.test"], "subaddress")
        copy = expect_copies(self, self.tern, "subaddress", {("alice", "example.test"): 1})
        content = copy[("alice", "example.test")][0]
        self.assertIn(b"\nDelivered-To: alice+tag@example.test\n", b"\n" + content[:500])

    # -- 3. aliases -----------------------------------------------------------
    def test_local_part_alias_to_two_users(self):
        send(self.tern.port, "bob@example.test", ["sales@example.test"], "sales")
        expect_copies(self, self.tern, "sales", {("alice", "example.test"): 1, ("bob", "example.test"): 1})

    def test_address_alias(self):
        send(self.tern.port, "alice@example.test", ["help@example.test"], "help")
        expect_copies(self, self.tern, "help", {("bob", "example.test"): 1})
        # an address key is that address only
        self.assertEqual(rcpt_reply(self.tern.port, "help@example.com")[0], 550)

    def test_nested_aliases(self):
        send(self.tern.port, "bob@example.test", ["all@example.net"], "nested")
        # all@example.net -> staff -> sales, alice -> alice, bob (of example.net)
        expect_copies(self, self.tern, "nested", {("alice", "example.net"): 1, ("bob", "example.net"): 1})

    def test_catch_all_of_other_domain(self):
        send(self.tern.port, "alice@example.test", ["anyone@catchall.test", "else@CatchAll.test"], "catch-all")
        expect_copies(self, self.tern, "catch-all", {("bob", "example.test"): 1})

    def test_catch_all_leaves_real_mailbox(self):
        send(self.tern.port, "bob@example.test", ["alice@example.net"], "mailbox wins")
        expect_copies(self, self.tern, "mailbox wins", {("alice", "example.net"): 1})
        send(self.tern.port, "alice@example.test", ["stranger@example.net"], "caught")
        expect_copies(self, self.tern, "caught", {("bob", "example.test"): 1})

    def test_duplicates_after_expansion_once(self):
        send(self.tern.port, "bob@example.test", ["sales@example.test", "alice@example.test"], "dup")
        expect_copies(self, self.tern, "dup", {("alice", "example.test"): 1, ("bob", "example.test"): 1})

    def test_alias_target_that_is_no_user_bounces(self):
        # RCPT ghosts@ is taken (the alias exists); its target nobody-here
        # is no user: a 5.1.1 bounce, no Maildir made for it, alice served.
        send(self.tern.port, "bob@example.test", ["ghosts@example.test"], "ghost")
        report = bounce_for(self.tern, "ghost")
        self.assertIn("Status: 5.1.1", report)
        self.assertIn("Final-Recipient: rfc822;nobody-here@example.test", report)
        self.assertEqual(len(tagged(self.tern, "alice", "example.test", "ghost")), 1)
        self.assertFalse((self.tern.data_dir / "mail" / "example.test" / "nobody-here").exists())

    def test_remote_target_keeps_sender(self):
        before = len(self.remote.messages())
        send(self.tern.port, "bob@example.test", ["fwd@example.test"], "forwarded")
        ternlib.wait_for(lambda: remote_copies(self.remote, "forwarded"), 20, 0.05, "the forwarded copy")
        self.tern.wait_queue_empty(20)
        copies = remote_copies(self.remote, "forwarded")
        self.assertEqual(len(copies), 1, copies)
        self.assertEqual(len(self.remote.messages()), before + 1)
        envelope, content = copies[0]
        self.assertEqual(envelope["from"], ["bob@example.test"], "MAIL FROM of the forwarded copy")
        self.assertEqual(envelope["rcpt"], ["friend@remote.test"])
        body = content.split(b"\n\n", 1)[1]
        self.assertTrue(body.startswith(b"Delivered-To: fwd@example.test\r\n"), body[:300])
        self.assertEqual([p for p in self.tern.all_delivered() if b"X-Check: forwarded" in p.read_bytes()], [])

    # -- 4. loops seen in the message ------------------------------------------
    def test_forward_loop_bounces(self):
        send(self.tern.port, "bob@example.test", ["team@example.test"], "team loop",
             headers="Delivered-To: team@example.test\r\n")
        report = bounce_for(self.tern, "team loop")
        self.assertIn("Status: 5.4.6", report)
        self.assertIn("Action: failed", report)
        self.assertIn("Original-Recipient: rfc822;team@example.test", report)
        self.assertEqual(remote_copies(self.remote, "team loop"), [], "forwarded despite Delivered-To")
        # the control: without that header, team@ is forwarded
        send(self.tern.port, "bob@example.test", ["team@example.test"], "team ok")
        ternlib.wait_for(lambda: remote_copies(self.remote, "team ok"), 20, 0.05, "team@'s forwarded copy")
        self.assertEqual([e["rcpt"] for e, _ in remote_copies(self.remote, "team ok")], [["mate@remote.test"]])

    def test_maildir_loop_bounces(self):
        send(self.tern.port, "bob@example.test", ["alice@example.test"], "alice loop",
             headers="Delivered-To: Alice@example.test\r\n")
        report = bounce_for(self.tern, "alice loop")
        self.assertIn("Status: 5.4.6", report)
        self.assertIn("Final-Recipient: rfc822;alice@example.test", report)
        self.assertEqual(tagged(self.tern, "alice", "example.test", "alice loop"), [])


class NoSubaddressing(unittest.TestCase):
    def test_delimiter_off(self):
        with LocalTern(users=["alice"], local_extra='recipient_delimiter = ""') as t:
            code, text = rcpt_reply(t.port, "alice+tag@example.test", sender="alice@example.test")
            self.assertEqual((code, text[:5]), (550, "5.1.1"), text)
            self.assertEqual(rcpt_reply(t.port, "alice@example.test", sender="alice@example.test")[0], 250)


class AliasesFileChanges(unittest.TestCase):
    def setUp(self):
        self.tern = LocalTern(users=["alice", "bob"])
        self.aliases = self.tern.dir / "aliases"
        self.aliases.write_text(ALIASES, encoding="utf-8")
        self.tern.local_extra = f"aliases = {toml_value(str(self.aliases))}"
        self.tern.start()
        self.addCleanup(self.tern.stop)

    def rewrite_in_place(self, old, new, mtime_ns):
        """Same inode, same size, mtime set to mtime_ns: only the content
        (and, if asked, the mtime) tells the versions apart."""
        text = self.aliases.read_text(encoding="utf-8")
        self.assertEqual(len(old), len(new))
        with open(self.aliases, "r+", encoding="utf-8") as f:
            f.write(text.replace(old, new, 1))
        os.utime(self.aliases, ns=(mtime_ns, mtime_ns))

    def test_sighup_reloads(self):
        t = self.tern
        self.assertEqual(rcpt_reply(t.port, "hup1@example.test")[0], 550)
        mtime = self.aliases.stat().st_mtime_ns
        self.rewrite_in_place("# hup1  bob", "hup1    bob", mtime)
        time.sleep(1.2)  # past the once-a-second look: tern cannot see this edit by itself
        self.assertEqual(rcpt_reply(t.port, "hup1@example.test")[0], 550, "picked up without SIGHUP")
        loaded = len(t.log_events("aliases_loaded"))
        t.proc.send_signal(signal.SIGHUP)
        t.wait_log_events("aliases_loaded", loaded + 1)
        self.assertEqual(rcpt_reply(t.port, "hup1@example.test")[0], 250)
        send(t.port, "alice@example.test", ["hup1@example.test"], "after sighup")
        expect_copies(self, t, "after sighup", {("bob", "example.test"): 1})

    def test_mtime_change_reloads(self):
        t = self.tern
        self.assertEqual(rcpt_reply(t.port, "hup1@example.test")[0], 550)
        mtime = self.aliases.stat().st_mtime_ns
        self.rewrite_in_place("# hup1  bob", "hup1    bob", mtime + 5_000_000_000)
        ternlib.wait_for(lambda: rcpt_reply(t.port, "hup1@example.test")[0] == 250, 10, 0.2,
                         "hup1@ to be accepted after the file's mtime changed")
        self.assertEqual(t.log_events("sighup"), [])
        send(t.port, "alice@example.test", ["hup1@example.test"], "after mtime")
        expect_copies(self, t, "after mtime", {("bob", "example.test"): 1})

    def test_invalid_file_refused(self):
        t = self.tern
        bad = ALIASES + "new1  alice\nloop1  loop2\nloop2  loop1\n"
        tmp = self.aliases.with_name("aliases.new")
        tmp.write_text(bad, encoding="utf-8")
        os.rename(tmp, self.aliases)
        t.proc.send_signal(signal.SIGHUP)
        rejected = t.wait_log_events("aliases_rejected", 1)
        self.assertIn(str(self.aliases), rejected[0].get("detail", ""), rejected[0])
        self.assertEqual(rcpt_reply(t.port, "new1@example.test")[0], 550, "the refused file took effect")
        send(t.port, "alice@example.test", ["sales@example.test"], "old aliases")
        expect_copies(self, t, "old aliases", {("alice", "example.test"): 1, ("bob", "example.test"): 1})


class CheckConfig(unittest.TestCase):
    def check_config(self, aliases_text):
        d = ternlib.make_tempdir()
        aliases = d / "aliases"
        aliases.write_text(aliases_text, encoding="utf-8")
        config = d / "tern.toml"
        config.write_text(f'hostname = "mx.example.test"\ndata_dir = {toml_value(str(d / "data"))}\n'
                          f'[local]\ndomains = ["example.test"]\nusers = ["alice"]\n'
                          f'aliases = {toml_value(str(aliases))}\n', encoding="utf-8")
        p = subprocess.run([ternlib.tern_bin(), "check-config", "-c", str(config)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace"), str(aliases)

    def test_good_file_passes(self):
        code, out, _ = self.check_config(ALIASES)
        self.assertEqual(code, 0, out)

    def test_loop_names_file_and_line(self):
        code, out, path = self.check_config("# loop\na:  b\nb:  a\n")
        self.assertEqual(code, 1, out)
        self.assertRegex(out, re.escape(path) + r":[23]\b")
        self.assertIn("loop", out)

    def test_bad_target_names_file_and_line(self):
        code, out, path = self.check_config("# bad\nsales  alice\n\nbad  alice@, bob\n")
        self.assertEqual(code, 1, out)
        self.assertIn(f"{path}:4", out)


class ForwardToMyself(unittest.TestCase):
    def test_smarthost_is_myself(self):
        # As t-22: the smarthost is tern's own listener, so the forwarded
        # copy would come straight back. It must bounce at once.
        t = LocalTern(users=["alice", "bob"], hostname="mx.loop.test")
        port = t.pick_ports()
        aliases = t.dir / "aliases"
        aliases.write_text("fwd  friend@remote.test\n", encoding="utf-8")
        t.local_extra = f"aliases = {toml_value(str(aliases))}"
        t.extra_toml = f'[relay]\nsmarthost = "127.0.0.1:{port}"\n{QUEUE}'
        t.start(new_ports=False)
        self.addCleanup(t.stop)
        send(t.port, "bob@example.test", ["fwd@example.test"], "self loop")
        report = bounce_for(t, "self loop")
        self.assertIn("Status: 5.4.6", report)
        self.assertIn("Final-Recipient: rfc822;friend@remote.test", report)
        self.assertLessEqual(len(t.log_events("queued")), 2, "relayed to itself")
        self.assertLessEqual(len(t.log_events("connect")), 2, "relayed to itself")
        self.assertEqual(t.all_delivered(), t.maildir("bob"))

    def test_mx_is_myself(self):
        # The forward's domain has an MX record (dnsmasq) naming this host,
        # and [outbound] port is tern's own: the copy must not go round.
        t = LocalTern(users=["alice", "bob"], hostname="mx.loop.test")
        port = t.pick_ports()
        dns_port = ternlib.free_port()
        dns = subprocess.Popen(
            ["dnsmasq", "--no-daemon", f"--port={dns_port}", "--listen-address=127.0.0.1",
             "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
             "--local=/test/", "--log-facility=/dev/null",
             "--mx-host=looped.test,mx.looped.test,10", "--host-record=mx.looped.test,127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (dns.terminate(), dns.wait(timeout=10)))
        aliases = t.dir / "aliases"
        aliases.write_text("fwd  friend@looped.test\n", encoding="utf-8")
        t.local_extra = f"aliases = {toml_value(str(aliases))}"
        t.extra_toml = f'[outbound]\nport = {port}\n[dns]\nservers = ["127.0.0.1:{dns_port}"]\n{QUEUE}'
        t.start(new_ports=False)
        self.addCleanup(t.stop)
        send(t.port, "bob@example.test", ["fwd@example.test"], "mx loop")
        report = bounce_for(t, "mx loop")
        self.assertIn("Status: 5.4.6", report)
        self.assertIn("Final-Recipient: rfc822;friend@looped.test", report)
        self.assertIn("Original-Recipient: rfc822;fwd@example.test", report)
        self.assertLessEqual(len(t.log_events("queued")), 2, "relayed to itself")


if __name__ == "__main__":
    ternlib.run_tests()
