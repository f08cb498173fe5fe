#!/usr/bin/python3
"""t-32-etrn: ETRN (RFC 1985) through the real binary.

Proves:
- a message for remote.test deferred (its smarthost is down) with an hour
  to wait is sent at once after `ETRN remote.test` (250 2.0.0) once the
  smarthost is up; `ETRN @test` (subdomains) flushes too, `ETRN other.test`
  answers 251 (nothing waiting) and leaves the queue alone;
- EHLO offers ETRN; a client outside [relay] networks gets 459; a local
  domain gets 459; `ETRN #queue` 458; a bad domain 501; inside a mail
  transaction 503.
"""
import os
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from scripted import Scripted  # noqa: E402
from ternlib import Tern  # noqa: E402

QUEUE = '[queue]\nretry_interval = "1h"\nmax_retry_interval = "1h"'


def client(port):
    s = smtplib.SMTP("127.0.0.1", port, timeout=20)
    s.ehlo("client.example")
    return s


def send(port, rcpt, tag):
    with client(port) as s:
        s.sendmail("alice@example.test", [rcpt], f"Subject: {tag}\r\nX-Check: {tag}\r\n\r\nhi\r\n")


class Etrn(unittest.TestCase):
    def setUp(self):
        self.remote_port = ternlib.free_port()
        self.tern = Tern(users=["alice"], extra_toml=f'[relay]\nsmarthost = "127.0.0.1:{self.remote_port}"\n{QUEUE}')
        self.tern.start()
        self.addCleanup(self.tern.stop)

    def deferred_message(self, rcpt, tag):
        send(self.tern.port, rcpt, tag)
        ternlib.wait_for(lambda: any(e.get("rcpt") == rcpt for e in self.tern.log_events("deferred")), 10, 0.05,
                         f"{rcpt} deferred")

    def start_remote(self):
        remote = Scripted("--port", str(self.remote_port))
        self.addCleanup(remote.stop)
        return remote

    def test_etrn_flushes_the_domain_now(self):
        self.deferred_message("bob@remote.test", "one")
        self.deferred_message("carol@sub.other.test", "two")
        remote = self.start_remote()
        with client(self.tern.port) as s:
            self.assertIn(b"ETRN", s.ehlo_resp)
            code, text = s.docmd("ETRN", "nothing.test")
            self.assertEqual(code, 251, text)
            code, text = s.docmd("ETRN", "remote.test")
            self.assertEqual((code, text[:5]), (250, b"2.0.0"), text)
        ternlib.wait_for(lambda: len(remote.messages()) == 1, 10, 0.05, "remote.test flushed")
        self.assertIn(b"X-Check: one", remote.messages()[0])
        with client(self.tern.port) as s:
            code, text = s.docmd("ETRN", "@other.test")  # subdomains
            self.assertEqual(code, 250, text)
        ternlib.wait_for(lambda: len(remote.messages()) == 2, 10, 0.05, "sub.other.test flushed")
        self.tern.wait_queue_empty(10)

    def test_refusals(self):
        with client(self.tern.port) as s:
            self.assertEqual(s.docmd("ETRN", "example.test")[0], 459)  # a local domain
            self.assertEqual(s.docmd("ETRN", "#queue")[0], 458)
            self.assertEqual(s.docmd("ETRN", "bad..domain")[0], 501)
            self.assertEqual(s.docmd("ETRN")[0], 501)
            s.mail("alice@example.test")
            self.assertEqual(s.docmd("ETRN", "remote.test")[0], 503)

    def test_not_in_relay_networks(self):
        t = Tern(users=["alice"], extra_toml='[relay]\nnetworks = []')
        t.start()
        self.addCleanup(t.stop)
        with client(t.port) as s:
            code, text = s.docmd("ETRN", "remote.test")
            self.assertEqual(code, 459, text)


if __name__ == "__main__":
    ternlib.run_tests()
