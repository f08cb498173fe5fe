#!/usr/bin/python3
"""t-19-hostile_clients: clients that misbehave on purpose, and signals.

Proves, through the real binary on loopback:
- recipients over [limits] max_recipients (100) get 452 4.5.3 and cost no
  error: smtplib sending to 120 recipients with max_errors = 3 gets its
  message accepted and delivered to the first 100; past
  max_recipient_overshoot more refused recipients do count (overshoot 5,
  max_errors 3: the 8th extra RCPT gets 452 then 421 4.7.0 and a close);
- the error count is per transaction: errors are forgotten when a message
  is accepted (two transactions with two 550s each, max_errors = 3);
- junk commands (NOOP, RSET, VRFY, HELP) are free up to
  max_junk_commands, then each is still answered but costs an error: with
  5 and max_errors 3 the 8th NOOP gets 250 then 421 4.7.0; with the
  defaults (100, 20) 1000 pipelined NOOPs get exactly 120 replies of 250,
  then 421 4.7.0 and a close; the junk count restarts after a message;
- a client that never reads its replies (small receive buffer, a flood of
  pipelined EHLOs) is disconnected once tern's writes stall for
  command_timeout: its connection slot frees (max_connections_per_ip = 2,
  a third client gets 220 again) and event=timeout during=write is logged;
- EHLO/HELO arguments with control bytes (bare CR, NUL, 0x01, DEL, TAB)
  get 501 5.5.4 and change nothing (RFC 5321 4.1.4: the state stays), so
  tern's Received header never carries them; address literals are fine;
- a recipient given several times (case of the domain, NOTIFY, ORCPT) is
  accepted each time and delivered once;
- obsolete header syntax "Received :" (RFC 5322 4.5.3) counts toward
  max_received_headers;
- SIGHUP does not stop tern (event=sighup, open sessions go on);
- SIGTERM tells open sessions, idle or in the middle of DATA, 421 4.3.2
  before closing them, exits 0, and the half-sent message is not delivered.
"""
import os
import signal
import smtplib
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from ternlib import ConnectionClosed, Dialog, Tern, check, send_data, session  # noqa: E402

MESSAGE = "Subject: t-19\r\n\r\nhello\r\n"


def open_session(test, port, ehlo="client.example"):
    d = session(port, ehlo=ehlo)
    test.addCleanup(d.close)
    return d


def expect_421_then_close(test, d, enhanced, what):
    """The next reply is 421 <enhanced>, then the server closes."""
    try:
        r = d.read_reply()
    except ConnectionClosed:
        test.fail(f"{what}: closed without a 421 reply")
    check(r, 421, enhanced, what)
    d.expect_closed(timeout=10)


def still_open(d):
    """True when the server sent nothing more and did not close."""
    return d.pending(0.3) == b""


class Recipients(unittest.TestCase):
    def test_over_max_recipients_is_not_an_error(self):
        rcpts = [f"r{i:03d}@example.test" for i in range(120)]
        with Tern(accept_any_user=True, limits={"max_errors": 3}) as t:
            with smtplib.SMTP("127.0.0.1", t.port, timeout=20) as s:
                refused = s.sendmail("sender@example.org", rcpts,
                                     "Subject: 120 recipients\r\nX-T19: many\r\n\r\nhello\r\n")
                self.assertEqual(sorted(refused), rcpts[100:], refused)
                for rcpt, (code, text) in refused.items():
                    self.assertEqual(code, 452, (rcpt, text))
                    self.assertTrue(text.startswith(b"4.5.3"), (rcpt, text))
                self.assertEqual(s.noop()[0], 250)
            t.wait_queue_empty(30)
            delivered = sorted(p.parent.parent.name for p in t.all_delivered())
            self.assertEqual(delivered, [r.split("@")[0] for r in rcpts[:100]])

    def test_overshoot_counts_past_the_allowance(self):
        limits = {"max_errors": 3, "max_recipient_overshoot": 5}
        with Tern(accept_any_user=True, limits=limits) as t:
            d = open_session(self, t.port)
            check(d.cmd("MAIL FROM:<sender@example.org>"), 250)
            for i in range(100):
                check(d.cmd(f"RCPT TO:<r{i:03d}@example.test>"), 250, "2.1.5", f"recipient {i + 1}")
            for i in range(7):
                check(d.cmd(f"RCPT TO:<extra{i}@example.test>"), 452, "4.5.3", f"extra recipient {i + 1}")
            self.assertTrue(still_open(d), "the session must go on after 7 extra recipients "
                            "(5 free, then errors 1 and 2 of 3)")
            check(d.cmd("RCPT TO:<extra7@example.test>"), 452, "4.5.3", "extra recipient 8")
            expect_421_then_close(self, d, "4.7.0", "third counted extra recipient (max_errors = 3)")


class ErrorsPerTransaction(unittest.TestCase):
    def test_errors_reset_when_a_message_is_accepted(self):
        with Tern(users=["alice"], limits={"max_errors": 3}) as t:
            d = open_session(self, t.port)
            for n in range(2):
                check(d.cmd("MAIL FROM:<sender@example.org>"), 250)
                check(d.cmd(f"RCPT TO:<nobody{n}a@example.test>"), 550, "5.1.1")
                check(d.cmd(f"RCPT TO:<nobody{n}b@example.test>"), 550, "5.1.1")
                check(d.cmd("RCPT TO:<alice@example.test>"), 250, "2.1.5",
                      f"transaction {n + 1}: the good recipient (errors so far: {2 * n + 2})")
                check(send_data(d, f"Subject: t-19 transaction {n}\r\n\r\nhello\r\n"), 250, "2.0.0",
                      f"transaction {n + 1}")
            check(d.cmd("NOOP"), 250)
            check(d.cmd("QUIT"), 221)
            t.wait_maildir_count("alice", 2)


class JunkCommands(unittest.TestCase):
    def test_junk_past_the_limit_costs_errors(self):
        with Tern(users=["alice"], limits={"max_errors": 3, "max_junk_commands": 5}) as t:
            d = open_session(self, t.port)
            for i in range(7):
                check(d.cmd("NOOP"), 250, "2.0.0", f"NOOP {i + 1}")
            self.assertTrue(still_open(d), "7 NOOPs: 5 free, then errors 1 and 2 of 3")
            check(d.cmd("NOOP"), 250, "2.0.0", "NOOP 8 is answered")
            expect_421_then_close(self, d, "4.7.0", "after NOOP 8 (error 3 of 3)")

            # Each of RSET, VRFY, HELP is junk too.
            d = open_session(self, t.port)
            check(d.cmd("RSET"), 250)
            check(d.cmd("VRFY alice"), 252)
            check(d.cmd("HELP"), 214)
            check(d.cmd("NOOP"), 250)
            check(d.cmd("RSET"), 250)
            check(d.cmd("HELP"), 214, what="junk 6: error 1")
            check(d.cmd("VRFY alice"), 252, what="junk 7: error 2")
            self.assertTrue(still_open(d))
            check(d.cmd("RSET"), 250, what="junk 8: error 3")
            expect_421_then_close(self, d, "4.7.0", "after 8 junk commands")

            # The junk count starts again when a message is accepted.
            d = open_session(self, t.port)
            for i in range(5):
                check(d.cmd("NOOP"), 250)
            check(ternlib.transaction(d, "sender@example.org", ["alice@example.test"], MESSAGE), 250, "2.0.0")
            for i in range(7):
                check(d.cmd("NOOP"), 250, "2.0.0", f"NOOP {i + 1} after the message")
            self.assertTrue(still_open(d), "7 NOOPs after an accepted message")
            check(d.cmd("QUIT"), 221)

    def test_noop_flood_with_the_defaults(self):
        with Tern(users=["alice"]) as t:
            d = open_session(self, t.port, ehlo=None)
            try:
                d.send(b"NOOP\r\n" * 1000)
            except OSError:
                pass  # the server may close while the flood is still being sent
            replies = []
            d.sock.settimeout(10)
            try:
                for _ in range(1001):
                    replies.append(d.read_reply())
                    if replies[-1].code != 250:
                        break
            except ConnectionClosed:
                pass
            except socket.timeout:
                self.fail(f"no close after {len(replies)} replies")
            codes = [r.code for r in replies]
            self.assertEqual(codes.count(250), 120, f"{len(replies)} replies, last {replies[-1:]}")
            self.assertEqual(codes[:120], [250] * 120)
            self.assertEqual(len(replies), 121, replies[120:125])
            check(replies[120], 421, "4.7.0", "after 100 free + 20 counted NOOPs")
            d.expect_closed(timeout=10)


class NeverReads(unittest.TestCase):
    """Clients that send and never read: tern's replies pile up until its
    writes stall; then command_timeout must end the connections."""

    @staticmethod
    def connect_small_buffer(port):
        """A connection with a small receive buffer (set before connect, so
        that the window is small), past the greeting, which is returned."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect(("127.0.0.1", port))
        greeting = b""
        while not greeting.endswith(b"\r\n") and len(greeting) < 1000:
            chunk = s.recv(1)  # only the greeting: nothing after it is read
            if not chunk:
                break
            greeting += chunk
        s.setblocking(False)
        return s, greeting

    @staticmethod
    def flood(socks, limit=16 * 1024 * 1024, timeout=12.0):
        """Sends pipelined EHLOs on every socket, without reading, until
        sending has blocked on all of them for 1 s (or `limit` octets went
        out on each, or `timeout`). Returns the octets sent per socket."""
        chunk = b"EHLO x.example\r\n" * 4096
        sent = [0] * len(socks)
        blocked_since = [None] * len(socks)
        done = [False] * len(socks)
        deadline = time.monotonic() + timeout
        while not all(done) and time.monotonic() < deadline:
            progress = False
            for i, s in enumerate(socks):
                if done[i]:
                    continue
                try:
                    sent[i] += s.send(chunk)
                    blocked_since[i] = None
                    progress = True
                    done[i] = sent[i] >= limit
                except BlockingIOError:
                    now = time.monotonic()
                    blocked_since[i] = blocked_since[i] or now
                    done[i] = now - blocked_since[i] > 1.0
                except OSError:
                    done[i] = True  # the server closed it already
            if not progress:
                time.sleep(0.01)
        return sent

    def test_stalled_writes_time_out(self):
        limits = {"command_timeout": "2s", "max_connections_per_ip": 2}
        with Tern(users=["alice"], limits=limits) as t:
            socks = []
            try:
                for i in range(2):
                    s, greeting = self.connect_small_buffer(t.port)
                    socks.append(s)
                    self.assertTrue(greeting.startswith(b"220 "), greeting)
                # Both slots are taken: a third client is refused.
                d = Dialog(t.port, timeout=5)
                check(d.greeting, 421, "4.7.0", "a third connection while two are open")
                d.close()
                sent = self.flood(socks)
                stalled_at = time.monotonic()

                def third_client_gets_220():
                    d = Dialog(t.port, timeout=5)
                    try:
                        if d.greeting.code == 220:
                            check(d.cmd("QUIT"), 221)
                            return True
                        check(d.greeting, 421, "4.7.0", "while both slots are taken")
                        return False
                    finally:
                        d.close()
                ternlib.wait_for(third_client_gets_220, 15, 0.25,
                                 f"a third connection to get 220 (the two clients that do not read, "
                                 f"{sent} octets sent, cut off)")
                self.assertLess(time.monotonic() - stalled_at, 16)
                sessions = {e.get("port"): e.get("session") for e in t.log_events("connect")}
                for s in socks:
                    sid = sessions.get(str(s.getsockname()[1]))
                    self.assertIsNotNone(sid, f"no event=connect for port {s.getsockname()[1]}")
                    t.wait_log_events("timeout", 1, timeout=10, session=sid, during="write")
            finally:
                for s in socks:
                    s.close()


class HeloArgument(unittest.TestCase):
    BAD = [b"EHLO foo\rbar", b"EHLO foo\x00bar", b"HELO a\x01b", b"EHLO a\x7fb", b"EHLO foo\tbar"]

    def test_control_bytes_refused(self):
        with Tern(users=["alice"]) as t:
            d = open_session(self, t.port, ehlo=None)
            for line in self.BAD:
                d.send(line + b"\r\n")
                check(d.read_reply(), 501, "5.5.4", repr(line))
            # None of them was taken: still no EHLO/HELO (RFC 5321 4.1.4).
            check(d.cmd("MAIL FROM:<sender@example.org>"), 503, "5.5.1", "MAIL after refused EHLOs only")
            for name in ("[127.0.0.1]", "client.example", "[IPv6:::1]"):
                check(d.cmd(f"EHLO {name}"), 250, what=f"EHLO {name}")
            check(d.cmd("EHLO client.example"), 250)
            # A refused EHLO leaves the state as it was: client.example stays.
            for line in self.BAD:
                d.send(line + b"\r\n")
                check(d.read_reply(), 501, "5.5.4", repr(line) + " after a good EHLO")
            body = "Subject: helo check\r\nX-T19: helo\r\n\r\nhello\r\n"
            check(ternlib.transaction(d, "sender@example.org", ["alice@example.test"], body), 250, "2.0.0")
            files = t.wait_maildir_count("alice", 1)
            content = files[0].read_bytes()
            trace, rest = ternlib.split_trace(content)
            received = trace[2]
            self.assertTrue(received.startswith("Received: from client.example ("), received)
            for bad in ("\r", "\x00", "\x01", "\x7f"):
                self.assertNotIn(bad, received)
            # Only LF + TAB folds inside the field; it ends with one LF.
            self.assertEqual(received.count("\n"), received.count("\n\t") + 1, received)
            self.assertEqual(rest, ternlib.as_stored(body.encode()))


class DuplicateRecipients(unittest.TestCase):
    def test_same_recipient_delivered_once(self):
        with Tern(users=["alice", "bob"]) as t:
            d = open_session(self, t.port)
            check(d.cmd("MAIL FROM:<sender@example.org>"), 250)
            for rcpt in ("<alice@example.test>", "<alice@EXAMPLE.test>",
                         "<alice@example.test> NOTIFY=NEVER",
                         "<alice@example.TEST> ORCPT=rfc822;alice@example.test"):
                check(d.cmd(f"RCPT TO:{rcpt}"), 250, "2.1.5", rcpt)
            check(d.cmd("RCPT TO:<bob@example.test>"), 250)
            check(send_data(d, "Subject: duplicates\r\n\r\nonce\r\n"), 250, "2.0.0")
            t.wait_maildir_count("bob", 1)
            t.wait_queue_empty()
            self.assertEqual(len(t.maildir("alice")), 1, [p.name for p in t.maildir("alice")])

    def test_one_mailbox_written_differently_delivered_once(self):
        """Local parts of local users are case-insensitive (one mailbox), and
        a quoted "alice" is alice: the mailbox gets one copy (as Postfix's
        local(8)), though the session keeps them as recipients (RFC 5321 2.4:
        the local part is the receiving host's to interpret)."""
        with Tern(users=["alice", "bob"]) as t:
            d = open_session(self, t.port)
            check(d.cmd("MAIL FROM:<sender@example.org>"), 250)
            for rcpt in ("<alice@example.test>", "<Alice@example.test>", "<ALICE@EXAMPLE.TEST>",
                         '<"alice"@example.test>'):
                check(d.cmd(f"RCPT TO:{rcpt}"), 250, "2.1.5", rcpt)
            check(d.cmd("RCPT TO:<bob@example.test>"), 250)
            check(send_data(d, "Subject: one mailbox\r\n\r\nonce\r\n"), 250, "2.0.0")
            t.wait_maildir_count("bob", 1)
            t.wait_queue_empty()
            self.assertEqual(len(t.maildir("alice")), 1, [p.name for p in t.maildir("alice")])


class ObsoleteHeaderSyntax(unittest.TestCase):
    def test_received_with_space_before_colon(self):
        def msg(n, tag):
            hops = b"Received : from x by y; Mon, 1 Jan 2024 00:00:00 +0000\r\n" * n
            return hops + b"Subject: obs\r\nX-T19-obs: " + tag + b"\r\n\r\nloop?\r\n"
        with Tern(users=["alice"], limits={"max_received_headers": 5}) as t:
            d = open_session(self, t.port)
            check(ternlib.transaction(d, "s@example.org", ["alice@example.test"], msg(6, b"six")),
                  554, "5.4.6", "6 'Received :' fields")
            check(ternlib.transaction(d, "s@example.org", ["alice@example.test"], msg(5, b"five")),
                  250, "2.0.0", "5 'Received :' fields")
            files = t.wait_maildir_count("alice", 1)
            self.assertIn(b"X-T19-obs: five", files[0].read_bytes())


class Signals(unittest.TestCase):
    def test_sighup_does_not_stop(self):
        with Tern(users=["alice"]) as t:
            d = open_session(self, t.port)
            check(d.cmd("NOOP"), 250)
            os.kill(t.proc.pid, signal.SIGHUP)
            time.sleep(1.0)
            self.assertTrue(t.running(), f"tern exited on SIGHUP: {t.proc.returncode}")
            check(d.cmd("NOOP"), 250, "2.0.0", "the open session after SIGHUP")
            t.wait_log_events("sighup", 1)
            check(ternlib.transaction(d, "s@example.org", ["alice@example.test"], MESSAGE), 250, "2.0.0")
            t.wait_maildir_count("alice", 1)

    def test_sigterm_tells_open_sessions(self):
        t = Tern(users=["alice"]).start()
        try:
            idle = open_session(self, t.port)
            busy = open_session(self, t.port)
            check(busy.cmd("MAIL FROM:<sender@example.org>"), 250)
            check(busy.cmd("RCPT TO:<alice@example.test>"), 250)
            check(busy.cmd("DATA"), 354)
            busy.send(b"Subject: half sent\r\nX-T19: half\r\n\r\nline 1\r\nline 2\r\n")
            time.sleep(0.3)
            t.proc.send_signal(signal.SIGTERM)
            for name, d in (("idle session", idle), ("session in DATA", busy)):
                d.sock.settimeout(10)
                expect_421_then_close(self, d, "4.3.2", name)
            status = t.proc.wait(timeout=20)
            self.assertEqual(status, 0, t.log_tail())
            self.assertEqual(t.all_delivered(), [])
            self.assertEqual(t.queue_files("active"), [])
        finally:
            t.stop()


if __name__ == "__main__":
    ternlib.run_tests()
