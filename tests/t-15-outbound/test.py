#!/usr/bin/python3
"""t-15-outbound: success DSNs and outbound connection handling.

Proves, through the real binary with real peers on loopback (a scripted
aiosmtpd server and Postfix's smtp-sink as smarthosts):
- RCPT ... NOTIFY=SUCCESS (RFC 3461) for a local recipient: the recipient
  gets the message and the sender gets an RFC 3464 report with
  Action: delivered, Status: 2.0.0, the Final-Recipient and Return-Path: <>;
  the log says event=dsn kind=success; a message without NOTIFY gets none;
- NOTIFY=SUCCESS relayed to a server that does not offer DSN (aiosmtpd,
  which would refuse a NOTIFY parameter with 555): the message arrives and
  the sender gets a report with Action: relayed and the Remote-MTA;
- NOTIFY=SUCCESS and ORCPT relayed to a server that offers DSN (smtp-sink):
  both are passed on in the RCPT command, and tern sends no report itself;
- [outbound] max_connections_per_destination = 1: eight messages go over one
  connection, and its close is logged with messages=8;
- max_connections_per_destination = 2 with a slow server: all six messages
  arrive, never more than two connections are open at once, and two are;
- [outbound] command_timeout: a smarthost that never greets is given up,
  the message deferred with 451 4.4.2;
- SIGTERM while a remote server holds its reply to the data: tern exits 0,
  and the message, if not delivered, stays queued and is delivered after
  the restart.
"""
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from scripted import Scripted  # noqa: E402
from ternlib import Tern, check  # noqa: E402

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


def wait_for(predicate, what, timeout=30):
    return ternlib.wait_for(predicate, timeout, 0.05, what)


def wait_listening(port, what):
    wait_for(lambda: port in ternlib._listening_ports(), f"{what} to listen on {port}", 10)


def ehlo_keywords(port):
    """The EHLO keywords a server offers (lower case)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        code, _ = s.ehlo("probe.example")
        if code != 250:
            raise AssertionError(f"EHLO to port {port}: {code}")
        return set(s.esmtp_features)


class Sink:
    """Postfix smtp-sink, dumping each message (with X-Rcpt-Args lines) into
    a directory."""

    def __init__(self):
        self.dump = ternlib.make_tempdir("tern-sink-")
        self.port = ternlib.free_port()
        args = [SMTP_SINK, "-d", f"{self.dump}/%M.", f"127.0.0.1:{self.port}", "100"]
        if os.geteuid() == 0:
            os.chmod(self.dump, 0o777)  # smtp-sink writes as nobody
            args[1:1] = ["-u", "nobody"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=ternlib._die_with_parent)
        try:
            wait_listening(self.port, "smtp-sink")
        except AssertionError:
            self.stop()
            raise

    def messages(self):
        return [p.read_bytes() for p in sorted(self.dump.iterdir()) if p.is_file()]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def send(port, sender, rcpt, params="", subject="outbound test"):
    """One transaction; `params` follows the RCPT address (e.g. NOTIFY=...)."""
    d = ternlib.session(port)
    try:
        check(d.cmd(f"MAIL FROM:<{sender}>"), 250, what="MAIL")
        check(d.cmd(f"RCPT TO:<{rcpt}>{' ' + params if params else ''}"), 250, what="RCPT")
        reply = ternlib.send_data(d, f"Subject: {subject}\r\n\r\nhello\r\n")
        check(reply, 250, "2.0.0", what="DATA")
        check(d.cmd("QUIT"), 221)
        return reply
    finally:
        d.close()


def send_many(port, sender, rcpt, n):
    """n transactions on one session."""
    d = ternlib.session(port)
    try:
        for i in range(n):
            check(ternlib.transaction(d, sender, [rcpt], f"Subject: message {i}\r\n\r\nbody {i}\r\n"),
                  250, "2.0.0", what=f"message {i}")
        check(d.cmd("QUIT"), 221)
    finally:
        d.close()


class SuccessDsn(unittest.TestCase):
    def test_local_notify_success(self):
        with Tern(users=["alice", "bob"]) as t:
            d = ternlib.session(t.port)
            ehlo = d.cmd("EHLO client.example")
            d.close()
            self.assertIn("DSN", [l.split(" ")[0].upper() for l in ehlo.lines])

            send(t.port, "alice@example.test", "bob@example.test", "NOTIFY=SUCCESS",
                 subject="wants a receipt")
            wait_for(lambda: len(t.reports()) >= 1, "a success DSN in alice's Maildir")
            self.assertEqual(len(t.maildir("bob")), 1)
            self.assertIn(b"Subject: wants a receipt", t.maildir("bob")[0].read_bytes())
            r = t.reports()[0]
            self.assertTrue(r.startswith("Return-Path: <>\n"), r[:200])
            self.assertIn("report-type=delivery-status", r)
            self.assertIn("Action: delivered", r)
            self.assertIn("Status: 2.0.0", r)
            self.assertIn("Final-Recipient: rfc822;bob@example.test", r)
            self.assertNotIn("Action: failed", r)
            events = t.wait_log_events("dsn", 1, kind="success")
            self.assertEqual(events[0]["to"], "<alice@example.test>")

            # Without NOTIFY: delivered, and no report.
            send(t.port, "alice@example.test", "bob@example.test", subject="no receipt")
            t.wait_maildir_count("bob", 2)
            t.wait_queue_empty()
            self.assertEqual(len(t.reports()), 1, t.reports())
            self.assertEqual(len(t.maildir("alice")), 1)
            self.assertEqual(len(t.log_events("dsn")), 1, t.log_events("dsn"))

    def test_relayed_to_server_without_dsn(self):
        server = Scripted()
        try:
            # aiosmtpd offers no DSN, and answers 555 to a NOTIFY parameter.
            self.assertNotIn("dsn", ehlo_keywords(server.port))
            extra = f'[relay]\nsmarthost = "127.0.0.1:{server.port}"'
            with Tern(users=["alice"], extra_toml=extra) as t:
                send(t.port, "alice@example.test", "ok@remote.test", "NOTIFY=SUCCESS")
                wait_for(lambda: len(server.messages()) >= 1, "the relayed message")
                wait_for(lambda: len(t.reports()) >= 1, "a relayed DSN in alice's Maildir")
                t.wait_queue_empty()
                env = server.envelopes()
                self.assertEqual(len(env), 1, env)
                self.assertEqual(env[0]["rcpt"], ["ok@remote.test"])
                self.assertEqual(env[0]["from"], ["alice@example.test"])
                rs = t.reports()
                self.assertEqual(len(rs), 1, rs)
                r = rs[0]
                self.assertTrue(r.startswith("Return-Path: <>\n"), r[:200])
                self.assertIn("Action: relayed", r)
                self.assertIn("Final-Recipient: rfc822;ok@remote.test", r)
                self.assertIn("Remote-MTA: dns; [127.0.0.1]", r)
                t.wait_log_events("dsn", 1, kind="success")
                self.assertEqual(t.log_events("failed"), [])
        finally:
            server.stop()

    def test_relayed_to_server_with_dsn(self):
        sink = Sink()
        try:
            self.assertIn("dsn", ehlo_keywords(sink.port))
            extra = f'[relay]\nsmarthost = "127.0.0.1:{sink.port}"'
            with Tern(users=["alice"], extra_toml=extra) as t:
                send(t.port, "alice@example.test", "ok@remote.test",
                     "NOTIFY=SUCCESS ORCPT=rfc822;ok@remote.test", subject="passed on")
                wait_for(lambda: any(b"Subject: passed on" in m and m.rstrip().endswith(b"hello")
                                     for m in sink.messages()), "the message at smtp-sink")
                t.wait_log_events("delivered", 1, rcpt="ok@remote.test")
                t.wait_queue_empty()
                msgs = sink.messages()
                self.assertEqual(len(msgs), 1)
                rcpt_args = [l for l in msgs[0].decode("utf-8", "replace").splitlines()
                             if l.startswith("X-Rcpt-Args:")]
                self.assertEqual(len(rcpt_args), 1, msgs[0][:500])
                args = rcpt_args[0].split()
                self.assertEqual(args[1], "<ok@remote.test>", rcpt_args)
                self.assertIn("NOTIFY=SUCCESS", args, rcpt_args)
                self.assertIn("ORCPT=rfc822;ok@remote.test", args, rcpt_args)
                # The remote server took the request on: no report from tern.
                # (A report would be queued before the message left the
                # queue, and delivered before the queue was empty.)
                self.assertEqual(t.reports(), [])
                self.assertEqual(t.maildir("alice"), [])
                self.assertEqual(t.log_events("dsn"), [])
        finally:
            sink.stop()


class Connections(unittest.TestCase):
    def test_one_connection_carries_all(self):
        server = Scripted()
        try:
            extra = (f'[relay]\nsmarthost = "127.0.0.1:{server.port}"\n'
                     '[outbound]\nmax_connections_per_destination = 1')
            with Tern(users=["alice"], extra_toml=extra) as t:
                send_many(t.port, "alice@example.test", "ok@remote.test", 8)
                wait_for(lambda: len(server.messages()) >= 8, "eight relayed messages")
                t.wait_queue_empty()
                env = server.envelopes()
                self.assertEqual(len(env), 8)
                connections = {e["connection"][0] for e in env}
                self.assertEqual(len(connections), 1, connections)
                self.assertTrue(all(e["concurrent"] == ["1"] for e in env), env)
                # The idle connection closes about 2 s after the last message.
                closed = t.wait_log_events("connection_closed", 1, timeout=20)
                self.assertEqual([e["messages"] for e in closed], ["8"], closed)
        finally:
            server.stop()

    def test_per_destination_limit(self):
        # Each DATA takes the server 1 s: the second message is queued while
        # the first connection is still busy with the first (even on a
        # loaded machine), so a second connection opens, and no third.
        server = Scripted("--delay", "1.0")
        try:
            extra = (f'[relay]\nsmarthost = "127.0.0.1:{server.port}"\n'
                     '[outbound]\nmax_connections_per_destination = 2')
            with Tern(users=["alice"], extra_toml=extra) as t:
                send_many(t.port, "alice@example.test", "ok@remote.test", 6)
                wait_for(lambda: len(server.messages()) >= 6, "six relayed messages")
                t.wait_queue_empty()
                env = server.envelopes()
                self.assertEqual(len(env), 6)
                concurrent = [int(e["concurrent"][0]) for e in env]
                self.assertLessEqual(max(concurrent), 2, concurrent)
                self.assertIn(2, concurrent)
                # The log lags behind the effects it reports: wait, not read.
                t.wait_log_events("delivered", 6)
                self.assertEqual(len(t.log_events("delivered")), 6)
        finally:
            server.stop()


class Timeouts(unittest.TestCase):
    def test_silent_server_is_given_up(self):
        # A smarthost that takes the connection (the kernel's backlog) and
        # never sends its greeting: [outbound] command_timeout = "1s" gives
        # it up, and the message is deferred.
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        try:
            port = listener.getsockname()[1]
            extra = (f'[relay]\nsmarthost = "127.0.0.1:{port}"\n'
                     '[outbound]\ncommand_timeout = "1s"\n'
                     '[queue]\nretry_interval = "1h"\nmax_retry_interval = "1h"')
            with Tern(users=["alice"], extra_toml=extra) as t:
                send_many(t.port, "alice@example.test", "ok@remote.test", 1)
                e = t.wait_log_events("deferred", 1, timeout=30)[0]
                self.assertEqual(e["reply"], "451", e)
                self.assertEqual(e["status"], "4.4.2", e)
                self.assertIn("Timed out", e["detail"], e)
                self.assertEqual(len(t.queue_files("active")), 1)
        finally:
            listener.close()


class StopDuringDelivery(unittest.TestCase):
    def test_sigterm_mid_transaction_keeps_the_message(self):
        # The server holds its reply to the data for 6 s; tern is stopped
        # during that wait. It gives the transaction a short grace, then
        # exits cleanly; the message is either recorded as delivered or
        # still queued (the server's 250 never came), and after a restart
        # it is delivered if it was not.
        server = Scripted("--delay", "6")
        try:
            extra = (f'[relay]\nsmarthost = "127.0.0.1:{server.port}"\n'
                     '[queue]\nretry_interval = "1s"\nmax_retry_interval = "1s"')
            t = Tern(users=["alice"], extra_toml=extra)
            with t:
                send_many(t.port, "alice@example.test", "ok@remote.test", 1)
                time.sleep(1.0)  # inside the server's 6 s delay
                self.assertEqual(t.stop(), 0, t.log_tail())
                if not t.log_events("delivered"):
                    self.assertEqual(len(t.queue_files("active")), 1)
                t.restart()
                t.wait_log_events("delivered", 1, timeout=30, rcpt="ok@remote.test")
                t.wait_queue_empty(30)
                self.assertGreaterEqual(len(server.messages()), 1)
        finally:
            server.stop()


if __name__ == "__main__":
    ternlib.run_tests()
