#!/usr/bin/python3
"""t-13-relay: relay control, outbound delivery, retries and bounces.

Proves, with real peers on loopback (a scripted aiosmtpd server, Postfix's
smtp-sink and smtp-source, dnsmasq for MX records):
- tern is not an open relay: a client outside [relay] networks gets
  554 5.7.1 for another domain, and local mail still works;
- from a relay network, mail for other domains goes to the smarthost, one
  transaction per domain, with the right recipients and intact content;
- a 5xx from the remote server bounces to the (local) sender: an RFC 3464
  report in the sender's Maildir with Action: failed, Status: 5.1.1,
  Remote-MTA and Diagnostic-Code;
- a 4xx is retried, and after [queue] max_lifetime it bounces with 4.4.7;
- MX routing through DNS ([dns] servers, [outbound] port) reaches the MX host;
- smtp-source -> tern -> smtp-sink: every accepted message arrives.
"""
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from scripted import Scripted  # noqa: E402
from ternlib import Tern, check  # noqa: E402

SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


def send(port, sender, rcpts, body="Subject: relay test\r\n\r\nhello\r\n..dot\r\n"):
    d = ternlib.session(port)
    try:
        reply = ternlib.transaction(d, sender, rcpts, body)
        check(d.cmd("QUIT"), 221)
        return reply
    finally:
        d.close()


def wait_for(predicate, what, timeout=30):
    ternlib.wait_for(predicate, timeout, 0.1, what)


class Relay(unittest.TestCase):
    def test_not_an_open_relay(self):
        with Tern(users=["alice"], extra_toml='[relay]\nnetworks = ["192.0.2.0/24"]') as t:
            d = ternlib.session(t.port)
            check(d.cmd("MAIL FROM:<spammer@example.org>"), 250)
            check(d.cmd("RCPT TO:<victim@elsewhere.example>"), 554, "5.7.1")
            check(d.cmd("RCPT TO:<victim@[192.0.2.1]>"), 554, "5.7.1")
            check(d.cmd("RCPT TO:<alice@example.test>"), 250)
            d.close()

    def test_smarthost_delivery_and_bounces(self):
        server = Scripted()
        try:
            extra = (f'[relay]\nsmarthost = "127.0.0.1:{server.port}"\n'
                     '[queue]\nretry_interval = "1s"\nmax_retry_interval = "1s"\n'
                     'max_lifetime = "4s"\ndelay_warning = "0"')
            with Tern(users=["alice"], extra_toml=extra) as t:
                reply = send(t.port, "alice@example.test",
                             ["ok1@remote.test", "ok2@remote.test", "perm@remote.test",
                              "temp@remote.test", "ok@other.test"])
                check(reply, 250, "2.0.0")
                # Two domains: two transactions; ok1+ok2 together.
                wait_for(lambda: len(server.messages()) >= 2, "two relayed transactions")
                msgs = server.messages()
                rcpts = sorted(line for m in msgs for line in m.split(b"\n\n")[0].split(b"\n")
                               if line.startswith(b"rcpt "))
                self.assertEqual(rcpts, [b"rcpt ok1@remote.test", b"rcpt ok2@remote.test",
                                         b"rcpt ok@other.test"])
                for m in msgs:
                    self.assertIn(b"from alice@example.test", m)
                    self.assertIn(b"\r\n.dot\r\n", m)          # dot-stuffing undone end to end
                    self.assertIn(b"Received: from client.example", m)
                # perm@ bounces at once; temp@ after max_lifetime (4.4.7).
                wait_for(lambda: len(t.reports()) >= 2, "two bounces in alice's Maildir", 40)
                reports = t.reports()
                failed = [r for r in reports if "Status: 5.1.1" in r]
                expired = [r for r in reports if "Status: 4.4.7" in r]
                self.assertEqual(len(failed), 1, reports)
                self.assertEqual(len(expired), 1, reports)
                r = failed[0]
                self.assertIn("Final-Recipient: rfc822;perm@remote.test", r)
                self.assertIn("Action: failed", r)
                self.assertIn("Remote-MTA: dns; [127.0.0.1]", r)
                self.assertIn("Diagnostic-Code: smtp; 550 5.1.1", r)
                self.assertIn("Return-Path: <>", r)
                self.assertNotIn("ok1@remote.test", r)
                self.assertIn("Final-Recipient: rfc822;temp@remote.test", expired[0])
                t.wait_queue_empty(30)
                self.assertGreaterEqual(len(t.log_events("deferred")), 1)
        finally:
            server.stop()

    def test_mx_routing_through_dnsmasq(self):
        server = Scripted()
        dns_port = ternlib.free_port()
        dns = subprocess.Popen(
            ["dnsmasq", "--no-daemon", f"--port={dns_port}", "--listen-address=127.0.0.1",
             "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
             "--local=/test/", "--log-facility=/dev/null",
             "--mx-host=mx.test,mail.mx.test,10", "--host-record=mail.mx.test,127.0.0.1",
             "--dns-rr=null.test,15,000000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.3)
            extra = (f'[outbound]\nport = {server.port}\n[dns]\nservers = ["127.0.0.1:{dns_port}"]\n'
                     '[queue]\nretry_interval = "1s"\nmax_retry_interval = "1s"')
            with Tern(users=["alice"], extra_toml=extra) as t:
                check(send(t.port, "alice@example.test", ["ok@mx.test", "x@null.test"]), 250)
                wait_for(lambda: len(server.messages()) >= 1, "delivery to the MX host")
                self.assertIn(b"rcpt ok@mx.test", server.messages()[0])
                # RFC 7505 null MX: a bounce with 5.1.10, no connection tried.
                wait_for(lambda: len(t.reports()) >= 1, "null MX bounce")
                self.assertIn("Status: 5.1.10", t.reports()[0])
                t.wait_queue_empty(30)
        finally:
            dns.terminate()
            dns.wait(timeout=10)
            server.stop()

    def test_smtp_source_through_tern_to_smtp_sink(self):
        port = ternlib.free_port()
        args = [SMTP_SINK, f"127.0.0.1:{port}", "100"]
        if os.geteuid() == 0:
            args[1:1] = ["-u", "nobody"]
        sink = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.3)
            with Tern(users=["alice"], log_level="warn",
                      extra_toml=f'[relay]\nsmarthost = "127.0.0.1:{port}"') as t:
                n = 300
                p = subprocess.run([SMTP_SOURCE, "-s", "10", "-m", str(n), "-l", "2048",
                                    "-f", "bench@example.test", "-t", "sink@remote.test",
                                    f"127.0.0.1:{t.port}"], capture_output=True, timeout=100)
                self.assertEqual(p.returncode, 0, p.stderr.decode()[-2000:])
                t.wait_queue_empty(60)
                self.assertEqual(t.partial_queue_files(), [])
        finally:
            sink.terminate()
            sink.communicate(timeout=10)
        # smtp-sink without -c prints nothing; the queue drained with no
        # bounce (a bounce to bench@example.test would be in its Maildir).
        self.assertEqual(t.reports("bench"), [])


if __name__ == "__main__":
    ternlib.run_tests()
