#!/usr/bin/python3
"""t-22-mail_loop: tern does not relay mail to itself.

Proves, through the real binary on loopback:
- with [relay] smarthost pointing at tern's own listener, a message for
  another domain is not passed to itself again and again until the
  Received limit: it bounces at once with status 5.4.6, the report saying
  the mail "loops back to myself", after at most one connection to itself
  (at most 2 event=queued lines and 2 event=connect lines: the client's
  and that one);
- the same for an address literal, bob@[127.0.0.1], with [outbound] port
  set to tern's own port and no smarthost;
- not a loop: tern A relaying through tern B (another hostname, another
  port, same 127.0.0.1) delivers into B's Maildir, with no bounce;
- but a server that greets with tern's own hostname (in any case) is
  tern itself for this purpose: a B named like A gets nothing, and the
  sender gets a 5.4.6 bounce.
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from ternlib import Tern, check  # noqa: E402

QUEUE = '[queue]\nretry_interval = "1s"\nmax_retry_interval = "2s"'


def send(port, rcpt, subject):
    d = ternlib.session(port)
    try:
        check(ternlib.transaction(d, "alice@example.test", [rcpt],
                                  f"Subject: {subject}\r\nX-T22: {subject}\r\n\r\nhello\r\n"),
              250, "2.0.0", f"message to {rcpt}")
        check(d.cmd("QUIT"), 221)
    finally:
        d.close()


def wait_for(predicate, what, timeout=30):
    return ternlib.wait_for(predicate, timeout, 0.1, what)


class MailLoop(unittest.TestCase):
    def own_port_tern(self, extra):
        """A tern whose config names its own port: the port is picked
        before the config is written."""
        t = Tern(users=["alice"], hostname="mx.loop.test")
        port = t.pick_ports()
        t.extra_toml = extra(port)
        t.start(new_ports=False)
        self.addCleanup(t.stop)
        return t

    def check_bounced_as_loop(self, t, rcpt):
        wait_for(lambda: t.reports(), "a bounce in alice's Maildir", 15)
        t.wait_queue_empty(30)
        reports = t.reports()
        self.assertEqual(len(reports), 1, reports)
        r = reports[0]
        # (the report quotes the original's header section: show only the start)
        for needle in ("Status: 5.4.6", "loops back to myself", f"Final-Recipient: rfc822;{rcpt}"):
            self.assertTrue(needle in r, f"{needle!r} not in the bounce:\n{r[:2500]}")
        # tern's verdict, not a reply of the server it talked to
        self.assertNotIn("said: Mail loops", r)
        self.assertNotIn("smtp; 554 5.4.6", r)
        queued = t.log_events("queued")
        self.assertLessEqual(len(queued), 2, f"{len(queued)} event=queued lines: relayed to itself")
        connects = t.log_events("connect")
        self.assertLessEqual(len(connects), 2, f"{len(connects)} connections: relayed to itself")
        self.assertEqual(t.all_delivered(), t.maildir("alice"))

    def test_smarthost_is_myself(self):
        t = self.own_port_tern(lambda port: f'[relay]\nsmarthost = "127.0.0.1:{port}"\n{QUEUE}')
        send(t.port, "bob@remote.test", "smarthost loop")
        self.check_bounced_as_loop(t, "bob@remote.test")

    def test_address_literal_is_myself(self):
        t = self.own_port_tern(lambda port: f'[outbound]\nport = {port}\n{QUEUE}')
        send(t.port, "bob@[127.0.0.1]", "literal loop")
        self.check_bounced_as_loop(t, "bob@[127.0.0.1]")

    def test_another_tern_is_not_a_loop(self):
        b = Tern(users=["bob"], domains=["remote.test"], hostname="mx-b.loop.test").start()
        self.addCleanup(b.stop)
        a = Tern(users=["alice"], hostname="mx-a.loop.test",
                 extra_toml=f'[relay]\nsmarthost = "127.0.0.1:{b.port}"\n{QUEUE}').start()
        self.addCleanup(a.stop)
        send(a.port, "bob@remote.test", "two terns")
        files = b.wait_maildir_count("bob", 1, domain="remote.test")
        a.wait_queue_empty(30)
        content = files[0].read_bytes()
        self.assertIn(b"X-T22: two terns", content)
        self.assertIn(b"by mx-b.loop.test (tern)", content)
        self.assertIn(b"by mx-a.loop.test (tern)", content)
        self.assertEqual(a.reports(), [])
        self.assertEqual(a.log_events("failed"), [])

    def test_server_with_my_name_is_a_loop(self):
        b = Tern(users=["bob"], domains=["remote.test"], hostname="mx.loop.test").start()
        self.addCleanup(b.stop)
        a = Tern(users=["alice"], hostname="MX.Loop.Test",
                 extra_toml=f'[relay]\nsmarthost = "127.0.0.1:{b.port}"\n{QUEUE}').start()
        self.addCleanup(a.stop)
        send(a.port, "bob@remote.test", "same name")
        self.check_bounced_as_loop(a, "bob@remote.test")
        self.assertEqual(b.all_delivered(), [])
        self.assertEqual(b.log_events("queued"), [])


if __name__ == "__main__":
    ternlib.run_tests()
