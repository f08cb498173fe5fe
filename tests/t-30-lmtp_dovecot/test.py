#!/usr/bin/python3
"""t-30-lmtp_dovecot: a local domain whose mailboxes live in a real Dovecot
2.3, reached over LMTP (issue 16; the Maildir half, aliases and loops are
t-29-domains_lmtp).

A private Dovecot (tests/lib/private_dovecot.py) holds carol, dave and frank
of example.org (frank with a 20 KB quota); tern serves example.test in its
own Maildirs (alice, bob: the senders, who receive the bounces) and
example.org through `delivery = "lmtp:unix:SOCKET"` or
`"lmtp:127.0.0.1:PORT"`.

Proves, for both kinds of store address:
- a message to two Dovecot users is stored once in each mailbox, with
  Return-Path: <sender>; with one recipient it carries Delivered-To:;
  carol+x@example.org lands in carol's INBOX with Delivered-To: carol+x@;
and, with the socket:
- a message too big for frank's quota bounces to the sender with 5.2.2,
  while dave, another recipient of the same message, gets it;
- with Dovecot stopped, tern still takes the message (250), defers it
  (event=deferred, still in queue/active), and once Dovecot is back
  delivers it exactly once;
- verify_recipients = "lmtp": RCPT asks Dovecot: an unknown user gets
  550 5.1.1, a known one 250, and 451 4.4.3 while Dovecot is down.
"""
import os
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from private_dovecot import PrivateDovecot  # noqa: E402
from ternlib import Tern, toml_value  # noqa: E402

QUEUE = '[queue]\nretry_interval = "1s"\nmax_retry_interval = "2s"'
QUOTA = 20_000


def client(port):
    s = smtplib.SMTP("127.0.0.1", port, timeout=20)
    s.ehlo("client.example")
    return s


def rcpt_reply(port, rcpt, sender="alice@example.test"):
    """(code, text) of RCPT TO:<rcpt> in a transaction that is then reset."""
    with client(port) as s:
        s.mail(sender)
        code, text = s.rcpt(rcpt)
        s.rset()
    return code, text.decode("utf-8", "replace")


def send(port, rcpts, tag, sender="alice@example.test", body="hello\r\n"):
    """One message tagged `X-Check: tag`; every RCPT and the data must get 250."""
    with client(port) as s:
        code, text = s.mail(sender)
        assert code == 250, f"MAIL FROM:<{sender}>: {code} {text!r}"
        for r in rcpts:
            code, text = s.rcpt(r)
            assert code == 250, f"RCPT TO:<{r}>: {code} {text!r}"
        code, text = s.data(f"Subject: {tag}\r\nX-Check: {tag}\r\n\r\n{body}")
        assert code == 250, f"DATA: {code} {text!r}"


def in_dovecot(dovecot, user, tag):
    return [m for m in dovecot.messages(user) if f"X-Check: {tag}\n".encode() in m]


def reports(t, tag):
    """The reports (DSNs) in alice's Maildir about the message tagged `tag`."""
    return [r for r in t.reports("alice") if f"X-Check: {tag}" in r]


def header_section(message):
    return message.split(b"\n\n", 1)[0].decode("utf-8", "replace").splitlines()


def lmtp_tern(delivery, users=("carol", "dave", "frank"), domain_extra=""):
    """A tern serving example.test in Maildirs and example.org in Dovecot."""
    domain = (f'[domain."example.org"]\nusers = {toml_value(list(users))}\n'
              f'delivery = {toml_value(delivery)}\n{domain_extra}')
    return Tern(users=["alice", "bob"], extra_toml=f"{QUEUE}\n{domain}").start()


class DovecotStore(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dovecot = PrivateDovecot(users={"carol": "pw", "dave": "pw", "frank": "pw"},
                                     domain="example.org", lmtp_port=0,
                                     quota_bytes=QUOTA, quota_users=["frank"]).start()
        cls.terns = {}
        try:
            cls.terns["unix"] = lmtp_tern(f"lmtp:unix:{cls.dovecot.socket_path}")
            cls.terns["tcp"] = lmtp_tern(f"lmtp:127.0.0.1:{cls.dovecot.lmtp_port}")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for t in cls.terns.values():
            t.stop()
        cls.dovecot.stop()

    def setUp(self):
        self.dovecot.start()  # a check that failed with it stopped

    def wait_stored(self, t, expected, tag, timeout=20):
        """Waits until each user has `expected[user]` messages tagged `tag`
        and tern's queue is empty; then checks the counts are exact."""
        ternlib.wait_for(lambda: all(len(in_dovecot(self.dovecot, u, tag)) >= n for u, n in expected.items()),
                         timeout, 0.05, f"{tag} in Dovecot: {expected}")
        t.wait_queue_empty(timeout)
        found = {u: len(in_dovecot(self.dovecot, u, tag)) for u in ("carol", "dave", "frank")}
        self.assertEqual(found, {u: expected.get(u, 0) for u in found}, f"copies of {tag}")
        return {u: in_dovecot(self.dovecot, u, tag) for u in expected}

    # -- 5. delivery into Dovecot ---------------------------------------------
    def two_recipients(self, kind):
        t = self.terns[kind]
        tag = f"two {kind}"
        send(t.port, ["carol@example.org", "dave@example.org"], tag)
        stored = self.wait_stored(t, {"carol": 1, "dave": 1}, tag)
        for user, (message,) in stored.items():
            self.assertEqual(header_section(message)[0], "Return-Path: <alice@example.test>", message[:300])
        # (No Delivered-To here: Dovecot adds it only to a transaction with
        # exactly one recipient, and tern sends one transaction per store.)
        self.assertEqual(reports(t, tag), [], "a bounce")

    def one_recipient(self, kind, rcpt, user):
        t = self.terns[kind]
        tag = f"one {kind} {rcpt}"
        send(t.port, [rcpt], tag)
        (message,) = self.wait_stored(t, {user: 1}, tag)[user]
        head = header_section(message)
        self.assertEqual(head[0], "Return-Path: <alice@example.test>", message[:300])
        # Dovecot writes Delivered-To: RCPT-address-as-given when the
        # transaction has one recipient; the +detail is kept.
        self.assertIn(f"Delivered-To: {rcpt}", head, message[:400])

    def test_unix_two_recipients(self):
        self.two_recipients("unix")

    def test_tcp_two_recipients(self):
        self.two_recipients("tcp")

    def test_unix_one_recipient(self):
        self.one_recipient("unix", "carol@example.org", "carol")

    def test_tcp_one_recipient(self):
        self.one_recipient("tcp", "dave@example.org", "dave")

    def test_unix_subaddress(self):
        self.one_recipient("unix", "carol+x@example.org", "carol")

    def test_tcp_subaddress(self):
        self.one_recipient("tcp", "dave+y@example.org", "dave")

    # -- 6. mailbox full --------------------------------------------------------
    def test_quota_bounces_one_recipient(self):
        t = self.terns["unix"]
        tag = "too big"
        body = ("x" * 76 + "\r\n") * (2 * QUOTA // 78)  # about twice frank's quota
        send(t.port, ["frank@example.org", "dave@example.org"], tag, body=body)
        self.wait_stored(t, {"dave": 1}, tag)
        ternlib.wait_for(lambda: reports(t, tag), 20, 0.05, "the bounce of the message for frank")
        t.wait_queue_empty(20)
        (report,) = reports(t, tag)
        self.assertIn("Final-Recipient: rfc822;frank@example.org", report)
        self.assertIn("Status: 5.2.2", report)
        self.assertIn("Quota exceeded", report)  # Dovecot's words
        self.assertNotIn("dave@example.org", report, "dave reported as failed")
        self.assertEqual(in_dovecot(self.dovecot, "frank", tag), [])

    # -- 7. Dovecot stopped ---------------------------------------------------------
    def test_store_down_deferred_then_delivered_once(self):
        t = self.terns["unix"]
        tag = "store down"
        self.dovecot.stop()
        try:
            send(t.port, ["carol@example.org"], tag)
            deferred = t.wait_log_events("deferred", 1, timeout=20, rcpt="carol@example.org")
            self.assertEqual(deferred[0]["reply"][0], "4", deferred[0])
            self.assertEqual(len(t.queue_files("active")), 1, "the message left the queue")
        finally:
            self.dovecot.start()
        queue_id = deferred[0]["queue_id"]
        self.wait_stored(t, {"carol": 1}, tag)
        delivered = t.wait_log_events("delivered", 1, queue_id=queue_id)
        self.assertEqual(len(delivered), 1, delivered)
        self.assertEqual(reports(t, tag), [], "a bounce or a delay warning")

    # -- 9. verify_recipients = "lmtp" ---------------------------------------------
    def test_verify_recipients(self):
        t = lmtp_tern(f"lmtp:unix:{self.dovecot.socket_path}", users=[],
                      domain_extra='verify_recipients = "lmtp"')
        self.addCleanup(t.stop)
        code, text = rcpt_reply(t.port, "nobody@example.org")
        if code == 250:
            self.skipTest(f"verify_recipients = \"lmtp\" is not implemented: RCPT TO:<nobody@example.org> "
                          f"got {code} {text}, expected 550 5.1.1")
        self.assertEqual((code, text[:5]), (550, "5.1.1"), text)
        code, text = rcpt_reply(t.port, "carol@example.org")
        self.assertEqual(code, 250, text)
        code, text = rcpt_reply(t.port, "carol+x@example.org")
        self.assertEqual(code, 250, text)
        send(t.port, ["dave@example.org"], "verified")
        self.wait_stored(t, {"dave": 1}, "verified")
        # Store down: frank has not been asked before (tern keeps answers
        # for a while, so carol or dave could be answered from memory).
        self.dovecot.stop()
        try:
            code, text = rcpt_reply(t.port, "frank@example.org")
            self.assertEqual((code, text[:5]), (451, "4.4.3"), text)
        finally:
            self.dovecot.start()


if __name__ == "__main__":
    ternlib.run_tests()
