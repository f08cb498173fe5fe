#!/usr/bin/python3
"""t-03-pipelining: commands written in one go (RFC 2920) get their replies
in order, one per command, and the message after the 354 is read only after
the pipelined commands before it.

Proves: EHLO+MAIL+RCPT+RCPT+RCPT+DATA in one write gives EHLO 250, MAIL 250,
RCPT 250 / 550 5.1.1 / 250, DATA 354; the end of data followed by
MAIL+RCPT+DATA in the same write gives 250 (queued) 250 250 354; then
end-of-data + QUIT gives 250 221 and a close. Also RSET/NOOP in a batch, and a
batch whose only recipient fails ends with a 5xx to DATA and no 354.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from ternlib import check, Dialog, session  # noqa: E402


class Pipelining(ternlib.SharedTern):
    tern_options = dict(users=["alice", "bob"], domains=["example.test"])

    def test_1_pipelined_transactions(self):
        d = Dialog(self.tern.port)
        self.addCleanup(d.close)
        check(d.greeting, 220)
        d.send(b"EHLO client.example\r\n"
               b"MAIL FROM:<s@example.org>\r\n"
               b"RCPT TO:<alice@example.test>\r\n"
               b"RCPT TO:<nobody@example.test>\r\n"
               b"RCPT TO:<bob@example.test>\r\n"
               b"DATA\r\n")
        r = d.read_replies(6)
        check(r[0], 250, what="EHLO")
        self.assertIn("PIPELINING", [l.split()[0].upper() for l in r[0].lines[1:]])
        check(r[1], 250, "2.1.0", "MAIL")
        check(r[2], 250, "2.1.5", "RCPT alice")
        check(r[3], 550, "5.1.1", "RCPT nobody")
        check(r[4], 250, "2.1.5", "RCPT bob")
        check(r[5], 354, what="DATA")

        d.send(b"Subject: first\r\nX-T03: 1\r\n\r\nfirst body\r\n.\r\n"
               b"MAIL FROM:<s@example.org>\r\n"
               b"RCPT TO:<alice@example.test>\r\n"
               b"DATA\r\n")
        r = d.read_replies(4)
        check(r[0], 250, "2.0.0", "end of first message")
        q1 = ternlib.queue_id(r[0])
        check(r[1], 250, "2.1.0", "MAIL")
        check(r[2], 250, "2.1.5", "RCPT")
        check(r[3], 354, what="DATA")

        d.send(b"Subject: second\r\nX-T03: 2\r\n\r\nsecond body\r\n.\r\nQUIT\r\n")
        r = d.read_replies(2)
        check(r[0], 250, "2.0.0", "end of second message")
        q2 = ternlib.queue_id(r[0])
        self.assertNotEqual(q1, q2)
        check(r[1], 221, "2.0.0", "QUIT")
        d.expect_closed()

        alice = self.tern.wait_maildir_count("alice", 2)
        bob = self.tern.wait_maildir_count("bob", 1)
        bodies = sorted(ternlib.message_body(f.read_bytes()) for f in alice)
        self.assertEqual(bodies, [ternlib.as_stored(b"first body\r\n"),
                                  ternlib.as_stored(b"second body\r\n")])
        self.assertIn(b"X-T03: 1", bob[0].read_bytes())

    def test_2_rset_noop_in_batch(self):
        d = session(self.tern.port)
        self.addCleanup(d.close)
        d.send(b"MAIL FROM:<s@example.org>\r\n"
               b"RCPT TO:<alice@example.test>\r\n"
               b"RSET\r\n"
               b"NOOP\r\n"
               b"RCPT TO:<alice@example.test>\r\n"
               b"HELP\r\n"
               b"QUIT\r\n")
        r = d.read_replies(7)
        check(r[0], 250, "2.1.0", "MAIL")
        check(r[1], 250, "2.1.5", "RCPT")
        check(r[2], 250, "2.0.0", "RSET")
        check(r[3], 250, "2.0.0", "NOOP")
        check(r[4], 503, "5.5.1", "RCPT after RSET")
        check(r[5], 214, "2.0.0", "HELP")
        check(r[6], 221, "2.0.0", "QUIT")
        d.expect_closed()

    def test_3_no_valid_recipient(self):
        d = session(self.tern.port)
        self.addCleanup(d.close)
        d.send(b"MAIL FROM:<s@example.org>\r\n"
               b"RCPT TO:<nobody@example.test>\r\n"
               b"DATA\r\n"
               b"NOOP\r\n")
        r = d.read_replies(4)
        check(r[0], 250, what="MAIL")
        check(r[1], 550, "5.1.1", "RCPT nobody")
        # RFC 2920 3.1: DATA with no valid recipient fails (554 "no valid
        # recipients", or 503 bad sequence); the server must not send 354.
        check(r[2], "5", what="DATA without valid recipients")
        self.assertIn(r[2].code, (503, 554), str(r[2]))
        check(r[3], 250, "2.0.0", "NOOP after the failed DATA is a command")

    def test_4_many_commands_one_write(self):
        # 40 NOOPs in one write: 40 replies, in order, nothing lost.
        d = session(self.tern.port)
        self.addCleanup(d.close)
        d.send(b"".join(b"NOOP %d\r\n" % i for i in range(40)) + b"QUIT\r\n")
        for i in range(40):
            check(d.read_reply(), 250, "2.0.0", f"NOOP {i}")
        check(d.read_reply(), 221, "2.0.0", "QUIT")
        d.expect_closed()


if __name__ == "__main__":
    ternlib.run_tests()
