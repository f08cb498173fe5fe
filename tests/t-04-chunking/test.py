#!/usr/bin/python3
"""t-04-chunking: BDAT (RFC 3030 CHUNKING and BINARYMIME).

Proves: a message sent as BDAT 10 + BDAT n LAST, or as chunks + BDAT 0 LAST,
is delivered intact (no dot-unstuffing in BDAT; text stored in the store's
line ends, see ternlib.as_stored); a BODY=BINARYMIME message holding NUL,
bare CR/LF, 0xFF, "\\r\\n.\\r\\n" and a long unbroken run is delivered byte
for byte (CRLFs kept); BODY=BINARYMIME with DATA is refused with 503 5.5.1;
BDAT outside a transaction, DATA after BDAT, a bad BDAT size and an oversized
chunk are refused, and the session stays in step.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from ternlib import check  # noqa: E402

MAX_SIZE = 100000


def bdat(data, last=False):
    return b"BDAT %d%s\r\n" % (len(data), b" LAST" if last else b"") + data


class Chunking(ternlib.SharedTern):
    tern_options = dict(users=["alice", "bob"], domains=["example.test"], limits={"max_message_size": MAX_SIZE})
    delivered = 0  # messages expected in alice's new/

    def stored(self, marker):
        """Waits for the delivery and returns the stored message (after the
        trace headers tern prepends) of the one file holding marker."""
        Chunking.delivered += 1
        files = self.tern.wait_maildir_count("alice", Chunking.delivered)
        mine = [f for f in files if marker in f.read_bytes()]
        self.assertEqual(len(mine), 1, f"files holding {marker!r}")
        return ternlib.split_trace(mine[0].read_bytes())[1]

    def test_1_two_chunks(self):
        msg = (b"Subject: t04 two chunks\r\nX-Marker: m1\r\n\r\n"
               b"line one\r\n.leading dot, not stuffed in BDAT\r\n..two\r\nend\r\n")
        d = self.connect()
        check(d.cmd("MAIL FROM:<s@example.org>"), 250)
        check(d.cmd("RCPT TO:<alice@example.test>"), 250)
        d.send(bdat(msg[:10]))
        check(d.read_reply(), 250, "2.0.0", "BDAT 10")
        d.send(bdat(msg[10:], last=True))
        r = check(d.read_reply(), 250, "2.0.0", "BDAT LAST")
        ternlib.queue_id(r)
        check(d.cmd("QUIT"), 221)
        self.assertEqual(self.stored(b"X-Marker: m1"), ternlib.as_stored(msg))

    def test_2_bdat_zero_last(self):
        msg = b"Subject: t04 zero last\r\nX-Marker: m2\r\n\r\nbody\r\n"
        d = self.connect()
        check(d.cmd("MAIL FROM:<s@example.org>"), 250)
        check(d.cmd("RCPT TO:<alice@example.test>"), 250)
        d.send(bdat(msg[:20]))
        check(d.read_reply(), 250, "2.0.0", "BDAT 20")
        d.send(bdat(msg[20:]))
        check(d.read_reply(), 250, "2.0.0", "BDAT rest")
        d.send(b"BDAT 0 LAST\r\n")
        r = check(d.read_reply(), 250, "2.0.0", "BDAT 0 LAST")
        ternlib.queue_id(r)
        self.assertEqual(self.stored(b"X-Marker: m2"), ternlib.as_stored(msg))

    def test_3_binarymime_pipelined(self):
        body = (bytes(range(256)) + b"\r\n.\r\n" + b"bare LF\nbare CR\r" + b"\x00" * 8
                + b"\r\n..\r\n" + bytes(range(255, -1, -1)) * 8 + b"\xab" * 1500 + b"\xff\xfe")
        msg = (b"Subject: t04 binary\r\nX-Marker: m3\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
               b"\r\n" + body)
        d = self.connect()
        # RFC 3030: everything after EHLO may be pipelined, chunks included.
        d.send(b"MAIL FROM:<s@example.org> BODY=BINARYMIME\r\n"
               b"RCPT TO:<alice@example.test>\r\n"
               + bdat(msg[:100]) + bdat(msg[100:1000]) + bdat(msg[1000:], last=True))
        r = d.read_replies(5)
        check(r[0], 250, what="MAIL BODY=BINARYMIME")
        check(r[1], 250, what="RCPT")
        check(r[2], 250, "2.0.0", "BDAT 1")
        check(r[3], 250, "2.0.0", "BDAT 2")
        check(r[4], 250, "2.0.0", "BDAT LAST")
        ternlib.queue_id(r[4])
        stored = self.stored(b"X-Marker: m3")
        # BINARYMIME content is data: stored byte for byte, CRLFs included
        # (no conversion to the store's line ends, which could not be undone).
        self.assertEqual(stored, msg, "BINARYMIME message not stored byte for byte")

    def test_4_binarymime_then_data(self):
        d = self.connect()
        check(d.cmd("MAIL FROM:<s@example.org> BODY=BINARYMIME"), 250)
        check(d.cmd("RCPT TO:<alice@example.test>"), 250)
        check(d.cmd("DATA"), 503, "5.5.1")
        # the transaction still stands and BDAT works
        d.send(bdat(b"Subject: t04 after refused DATA\r\nX-Marker: m4\r\n\r\nx\r\n", last=True))
        check(d.read_reply(), 250, "2.0.0", "BDAT LAST")
        self.stored(b"X-Marker: m4")

    def test_5_bdat_without_transaction(self):
        d = self.connect()
        # The server must still read the 5 octets of the chunk: the NOOP
        # after them is a command.
        d.send(b"BDAT 5\r\nhelloNOOP\r\n")
        check(d.read_reply(), 503, "5.5.1", "BDAT without MAIL")
        check(d.read_reply(), 250, "2.0.0", "NOOP after the skipped chunk")

    def test_6_data_after_bdat(self):
        d = self.connect()
        check(d.cmd("MAIL FROM:<s@example.org>"), 250)
        check(d.cmd("RCPT TO:<alice@example.test>"), 250)
        d.send(bdat(b"Subject: x\r\n"))
        check(d.read_reply(), 250, "2.0.0", "BDAT")
        check(d.cmd("DATA"), 503, "5.5.1")

    def test_7_bdat_bad_size(self):
        d = self.connect()
        check(d.cmd("MAIL FROM:<s@example.org>"), 250)
        check(d.cmd("RCPT TO:<alice@example.test>"), 250)
        check(d.cmd("BDAT abc"), 501, "5.5.4")
        check(d.cmd("BDAT"), 501, "5.5.4")

    def test_8_bdat_too_large(self):
        d = self.connect()
        check(d.cmd("MAIL FROM:<s@example.org>"), 250)
        check(d.cmd("RCPT TO:<alice@example.test>"), 250)
        data = b"Subject: too big\r\nX-Marker: m8\r\n\r\n" + (b"y" * 78 + b"\r\n") * (MAX_SIZE // 80 + 100)
        d.send(bdat(data, last=True))
        check(d.read_reply(), 552, "5.3.4", "oversized BDAT LAST")
        self.tern.wait_queue_empty()
        self.assertFalse(any(b"X-Marker: m8" in f.read_bytes() for f in self.tern.maildir("alice")))


if __name__ == "__main__":
    ternlib.run_tests()
