#!/usr/bin/python3
"""t-06-limits: every input limit has a config key and a reply.

Proves: a command line over max_command_line_length (512 incl CRLF) gets
500 5.5.2 and the session continues (512 exactly is fine); a DATA text line
over max_line_length (1000 incl CRLF) gets 554 5.6.0 after the data and is not
delivered (1000 exactly is fine); max_errors = 3 gives three error replies,
then 421 4.7.0 and a close; max_connections_per_ip = 2 refuses the third
connection from 127.0.0.1 with 421 4.7.0 (while ::1 still gets in) and
max_connections = 3 refuses a fourth from anywhere; command_timeout and
data_timeout ("2s") each end an idle session with 421 4.4.2 and a close;
max_received_headers = 5 refuses a message with 6 Received headers with
554 5.4.6 (5 are fine).
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from ternlib import Tern, check, session, Dialog, send_data, ConnectionClosed  # noqa: E402


class Limits(ternlib.SharedTern):
    """max_command_line_length, max_line_length, max_errors, max_received_headers."""

    tern_options = dict(users=["alice"], domains=["example.test"],
                        limits={"max_errors": 3, "max_received_headers": 5,
                                "max_command_line_length": 512, "max_line_length": 1000})

    def test_command_line_length(self):
        d = self.connect()
        line512 = "NOOP " + "x" * (512 - 2 - 5)  # 512 octets with CRLF
        self.assertEqual(len(line512) + 2, 512)
        check(d.cmd(line512), 250, "2.0.0", "512-octet command line")
        check(d.cmd(line512 + "y"), 500, "5.5.2", "513-octet command line")
        check(d.cmd("NOOP"), 250, "2.0.0", "session goes on")
        check(d.cmd("NOOP " + "z" * 20000), 500, "5.5.2", "20000-octet command line")
        check(d.cmd("NOOP"), 250, "2.0.0", "session goes on after a very long line")
        # MAIL and RCPT may exceed 512 by their ESMTP parameters (SIZE +26,
        # RFC 1870; RET/ENVID +100 and NOTIFY/ORCPT +500, RFC 3461 4): tern
        # allows 1024 more octets for those two verbs.
        d = self.connect()
        envid = "e" * 100
        orcpt = "rfc822;" + "o+2Bx" * 12 + "@" + ("d" * 55 + ".") * 7 + "example"
        check(d.cmd(f"MAIL FROM:<s@example.org> SIZE=1000 RET=HDRS ENVID={envid}"), 250, "2.1.0")
        long_rcpt = f"RCPT TO:<alice@example.test> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT={orcpt}"
        self.assertGreater(len(long_rcpt) + 2, 512)
        check(d.cmd(long_rcpt), 250, "2.1.5", f"{len(long_rcpt) + 2}-octet RCPT with ORCPT")
        check(d.cmd("RSET"), 250)
        # A MAIL line over that is a too-long line, not a syntax error nor a
        # command.
        check(d.cmd("MAIL FROM:<" + "a" * 1600 + "@example.org>"), 500, "5.5.2")
        check(d.cmd("RCPT TO:<alice@example.test>"), 503, "5.5.1", "the long MAIL opened no transaction")

    def test_data_line_length(self):
        d = self.connect()
        check(d.cmd("MAIL FROM:<s@example.org>"), 250)
        check(d.cmd("RCPT TO:<alice@example.test>"), 250)
        ok = b"Subject: line 1000\r\nX-T06: ok\r\n\r\n" + b"a" * 998 + b"\r\nend\r\n"
        check(send_data(d, ok), 250, "2.0.0", "998 octets + CRLF")
        check(d.cmd("MAIL FROM:<s@example.org>"), 250)
        check(d.cmd("RCPT TO:<alice@example.test>"), 250)
        bad = b"Subject: line 1001\r\nX-T06: long\r\n\r\n" + b"b" * 999 + b"\r\nend\r\n"
        check(send_data(d, bad), 554, "5.6.0", "999 octets + CRLF")
        self.tern.wait_queue_empty()
        files = [f.read_bytes() for f in self.tern.maildir("alice")]
        self.assertEqual(sum(b"X-T06: ok" in f for f in files), 1)
        self.assertEqual(sum(b"X-T06: long" in f for f in files), 0)

    def test_max_errors(self):
        d = self.connect()
        for i in range(3):
            check(d.cmd(f"FOO{i}"), 500, "5.5.2", f"error {i + 1} of 3")
        # The 421 may come at once after the third error or as the reply to
        # the next command; either way it is the next reply, then the close.
        if d.pending(0.5) == b"":
            try:
                d.line("FOO3")
            except OSError:
                pass
        try:
            r = d.read_reply()
        except ConnectionClosed:
            self.fail("closed without a 421 reply")
        check(r, 421, "4.7.0", "after max_errors")
        d.expect_closed()

    def test_errors_are_per_session(self):
        # two errors in each of two sessions: no 421
        for _ in range(2):
            d = self.connect()
            check(d.cmd("FOO"), 500, "5.5.2")
            check(d.cmd("BAR"), 500, "5.5.2")
            check(d.cmd("NOOP"), 250, "2.0.0")
            check(d.cmd("QUIT"), 221)

    def test_received_headers(self):
        def msg(n, tag):
            hops = b"".join(b"Received: from h%d.example by h%d.example; Tue, 1 Jan 2030 00:00:00 +0000\r\n"
                            % (i, i + 1) for i in range(n))
            return hops + b"Subject: hops\r\nX-T06-hops: " + tag + b"\r\n\r\nloop?\r\n"
        d = self.connect()
        check(d.cmd("MAIL FROM:<s@example.org>"), 250)
        check(d.cmd("RCPT TO:<alice@example.test>"), 250)
        check(send_data(d, msg(5, b"five")), 250, "2.0.0", "5 Received headers")
        check(d.cmd("MAIL FROM:<s@example.org>"), 250)
        check(d.cmd("RCPT TO:<alice@example.test>"), 250)
        check(send_data(d, msg(6, b"six")), 554, "5.4.6", "6 Received headers")
        self.tern.wait_queue_empty()
        files = [f.read_bytes() for f in self.tern.maildir("alice")]
        self.assertEqual(sum(b"X-T06-hops: five" in f for f in files), 1)
        self.assertEqual(sum(b"X-T06-hops: six" in f for f in files), 0)


class Connections(unittest.TestCase):
    """max_connections_per_ip = 2, max_connections = 3; listeners on
    127.0.0.1 and (when the machine has it) ::1, a second client address."""

    def test_connection_limits(self):
        v6 = ternlib.ipv6_available()
        hosts = ["127.0.0.1", "::1"] if v6 else ["127.0.0.1"]
        with Tern(users=["alice"], listeners=hosts,
                  limits={"max_connections_per_ip": 2, "max_connections": 3}) as t:
            p4 = t.ports["127.0.0.1"]
            open_ = []
            try:
                for i in range(2):
                    d = Dialog(p4)
                    open_.append(d)
                    check(d.greeting, 220, what=f"connection {i + 1} from 127.0.0.1")
                d = Dialog(p4)
                open_.append(d)
                check(d.greeting, 421, "4.7.0", "third connection from 127.0.0.1")
                d.expect_closed()
                if v6:
                    p6 = t.ports["::1"]
                    d = Dialog(p6, host="::1")
                    open_.append(d)
                    check(d.greeting, 220, what="first connection from ::1 (3 in all)")
                    d = Dialog(p6, host="::1")
                    open_.append(d)
                    check(d.greeting, 421, "4.7.0", "fourth connection in all (max_connections=3)")
                    d.expect_closed()
                # a slot frees up when a client leaves
                check(open_[0].cmd("QUIT"), 221)
                open_[0].expect_closed()

                def try_again():
                    d = Dialog(p4)
                    open_.append(d)
                    if d.greeting.code == 220:
                        return d
                    check(d.greeting, 421, "4.7.0")
                    d.close()
                    return None
                d = ternlib.wait_for(try_again, 20, 0.2, "a free connection slot after QUIT")
                check(d.cmd("NOOP"), 250)
            finally:
                for d in open_:
                    d.close()


class Timeouts(unittest.TestCase):
    """command_timeout and data_timeout, each on its own server so that each
    key is shown to do its own job."""

    def wait_421(self, d):
        d.sock.settimeout(60)
        try:
            r = d.read_reply()
        except ConnectionClosed:
            self.fail("closed without a 421 reply")
        check(r, 421, "4.4.2", "idle timeout")
        d.expect_closed()

    def test_command_timeout(self):
        with Tern(users=["alice"], limits={"command_timeout": "2s", "data_timeout": "1h"}) as t:
            d = Dialog(t.port)
            self.addCleanup(d.close)
            check(d.greeting, 220)
            self.wait_421(d)  # idle right after the greeting

            d = session(t.port)
            self.addCleanup(d.close)
            check(d.cmd("MAIL FROM:<s@example.org>"), 250)
            self.wait_421(d)  # idle inside a transaction

            d = session(t.port)
            self.addCleanup(d.close)
            d.send("NOOP")  # half a command line
            self.wait_421(d)

    def test_data_timeout(self):
        with Tern(users=["alice"], limits={"command_timeout": "1h", "data_timeout": "2s"}) as t:
            d = session(t.port)
            self.addCleanup(d.close)
            check(d.cmd("MAIL FROM:<s@example.org>"), 250)
            check(d.cmd("RCPT TO:<alice@example.test>"), 250)
            check(d.cmd("DATA"), 354)
            d.send(b"Subject: never finished\r\n\r\npartial line")
            self.wait_421(d)

            d = session(t.port)
            self.addCleanup(d.close)
            check(d.cmd("MAIL FROM:<s@example.org>"), 250)
            check(d.cmd("RCPT TO:<alice@example.test>"), 250)
            d.send(b"BDAT 100 LAST\r\nSubject: short chunk\r\n")
            self.wait_421(d)

            time.sleep(0.5)
            self.assertEqual(t.queue_files("active"), [])
            self.assertEqual(t.all_delivered(), [])


if __name__ == "__main__":
    ternlib.run_tests()
