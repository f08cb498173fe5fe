#!/usr/bin/python3
"""t-05-smuggling: SMTP smuggling (end-of-data) sessions from
../shared/conformance/smuggling/end-of-data.json, used as its README's
"How a test should use it" step 2 says.

For every session: EHLO, MAIL, RCPT, DATA, then the session's `bytes` in one
write (split-terminator: cut at its write_splits with a short pause), then
QUIT. All replies up to the close are collected, so a command smuggled inside
the data that the server executed shows up as an extra reply. Checked against
the session's `expected`: never a second accepted message, and the text
`MAIL FROM:<ceo@victim.example>` is either refused with the message or is
content of the one stored message.

Extra (same data, step 1's input sent to the real server): for each of the 19
sequences, "Subject: t\\r\\n\\r\\nbody" + bytes + "more\\r\\n.\\r\\n" gives exactly one
reply to the data when the sequence is not an RFC 5321 terminator, and the
data ends at the sequence when it is one.
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from ternlib import Tern, check, session, ConnectionClosed  # noqa: E402

DATA = ternlib.load_json("conformance/smuggling/end-of-data.json")
SESSIONS = {s["id"]: s for s in DATA["sessions"]}
SMUGGLED = b"MAIL FROM:<ceo@victim.example>"


def raw(s):
    # JSON strings with \r, \n, \u0000 escapes: one code point per octet.
    b = s["bytes"].encode("latin-1")
    assert b.hex() == s["hex"], s["id"]
    return b


class Smuggling(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # The sessions write to bob@example.net; smuggled RCPT is bob@example.net too.
        cls.tern = Tern(users=["bob"], domains=["example.net"]).start()
        cls.bob = 0  # messages expected in bob's new/
        cls.seen = set()  # names of bob's files already looked at

    @classmethod
    def tearDownClass(cls):
        cls.tern.stop()

    def open_data(self):
        d = session(self.tern.port)
        self.addCleanup(d.close)
        check(d.cmd("MAIL FROM:<alice@example.com>"), 250)
        check(d.cmd("RCPT TO:<bob@example.net>"), 250)
        check(d.cmd("DATA"), 354)
        return d

    def finish(self, d):
        """QUIT and every reply until the server closes (bounded)."""
        try:
            d.line("QUIT")
        except OSError:
            pass
        try:
            return d.read_until_closed()
        except ConnectionClosed:
            return []

    def new_messages(self, accepted):
        """Waits until the queue is empty and bob has `accepted` new files
        more than before; returns the new files' contents."""
        before = Smuggling.bob
        Smuggling.bob += accepted
        files = self.tern.wait_maildir_count("bob", Smuggling.bob, domain="example.net")
        new = [f for f in files if f.name not in Smuggling.seen]
        Smuggling.seen |= {f.name for f in files}
        self.assertEqual(len(new), Smuggling.bob - before)
        return [f.read_bytes() for f in new]

    def check_smuggle(self, sid):
        s = SESSIONS[sid]
        exp = s["expected"]
        self.assertEqual(exp["transactions_completed_max"], 1)
        d = self.open_data()
        d.send(raw(s))
        first = d.read_reply()
        rest = self.finish(d)
        # one reply for the whole stream, then 221 to QUIT (or a close after a 5xx)
        if first.code == 250:
            self.assertEqual(len(rest), 1, f"{sid}: replies after the data: {rest}")
            check(rest[0], 221, what=f"{sid}: after the one 250 only QUIT's 221 may follow")
            stored = self.new_messages(1)
            self.assertEqual(len(stored), 1)
            trace, msg = ternlib.split_trace(stored[0])
            self.assertIn(SMUGGLED, msg, f"{sid}: accepted, so the smuggled text must be content")
            self.assertIn(b"Subject: smuggled", msg)
            self.assertTrue(ternlib.clean_line_ends(msg),
                            f"{sid}: stored with bare CR/LF (must be normalised): {msg!r}")
        else:
            check(first, "5", what=f"{sid}: the one reply to the stream")
            self.assertLessEqual(len(rest), 1, f"{sid}: replies after the 5xx: {rest}")
            if rest:
                check(rest[0], 221, what=f"{sid}: after the 5xx only QUIT's 221 may follow")
            self.assertEqual(self.new_messages(0), [])
        return first

    def test_smuggle_lf_dot_lf(self):
        self.check_smuggle("smuggle-lf-dot-lf")

    def test_smuggle_lf_dot_crlf(self):
        self.check_smuggle("smuggle-lf-dot-crlf")

    def test_smuggle_crlf_dot_lf(self):
        self.check_smuggle("smuggle-crlf-dot-lf")

    def test_smuggle_cr_dot_cr(self):
        self.check_smuggle("smuggle-cr-dot-cr")

    def test_smuggle_crlf_nul_dot_crlf(self):
        self.check_smuggle("smuggle-crlf-nul-dot-crlf")

    def test_smuggle_crlf_dot_cr(self):
        self.check_smuggle("smuggle-crlf-dot-cr")

    def test_all_sessions_covered(self):
        covered = {"smuggle-lf-dot-lf", "smuggle-lf-dot-crlf", "smuggle-crlf-dot-lf",
                   "smuggle-cr-dot-cr", "smuggle-crlf-nul-dot-crlf", "smuggle-crlf-dot-cr",
                   "clean-two-messages-pipelined", "empty-message", "dot-stuffing",
                   "split-terminator"}
        self.assertEqual(set(SESSIONS), covered, "end-of-data.json has sessions this test does not run")

    def test_clean_two_messages_pipelined(self):
        s = SESSIONS["clean-two-messages-pipelined"]
        d = self.open_data()
        d.send(raw(s))
        r = d.read_replies(4)
        check(r[0], 250, "2.0.0", "first message")
        check(r[1], 250, what="pipelined MAIL")
        check(r[2], 250, what="pipelined RCPT")
        check(r[3], 354, what="pipelined DATA")
        d.send(b"From: alice@example.com\r\nSubject: second\r\n\r\nsecond\r\n.\r\n")
        check(d.read_reply(), 250, "2.0.0", "second message")
        rest = self.finish(d)
        self.assertEqual([x.code for x in rest], [221])
        stored = self.new_messages(2)
        subjects = sorted(b"Subject: first" in m for m in stored)
        self.assertEqual(subjects, [False, True])

    def test_empty_message(self):
        s = SESSIONS["empty-message"]
        d = self.open_data()
        d.send(raw(s))
        try:
            first = d.read_reply()  # a timeout here = the server waits for more data
        except OSError as e:
            self.fail(f"empty-message: no reply to '.' straight after 354 ({e!r})")
        rest = self.finish(d)
        if first.code == 250:
            stored = self.new_messages(1)
            trace, msg = ternlib.split_trace(stored[0])
            self.assertEqual(msg, b"")
        else:
            check(first, "5", what="empty message: 250 or 5xx")
            self.new_messages(0)
        self.assertEqual([x.code for x in rest], [221])

    def test_dot_stuffing(self):
        s = SESSIONS["dot-stuffing"]
        d = self.open_data()
        d.send(raw(s))
        check(d.read_reply(), 250, "2.0.0", "dot-stuffing")
        self.assertEqual([x.code for x in self.finish(d)], [221])
        stored = self.new_messages(1)
        trace, msg = ternlib.split_trace(stored[0])
        self.assertEqual(ternlib.message_body(msg),
                         ternlib.as_stored(s["expected"]["stored_body"].encode("latin-1")))

    def test_split_terminator(self):
        s = SESSIONS["split-terminator"]
        b = raw(s)
        cuts = [0] + s["expected"]["write_splits"] + [len(b)]
        d = self.open_data()
        for a, z in zip(cuts, cuts[1:]):
            if a < z:
                d.send(b[a:z])
                time.sleep(0.1)
        check(d.read_reply(), 250, "2.0.0", "split terminator")
        self.assertEqual([x.code for x in self.finish(d)], [221])
        self.new_messages(1)

    def test_sequences_in_data(self):
        """Every end-of-data candidate inside a real message. Contract: bare
        CR or LF in the data -> 554 5.6.0 after the real terminator (the
        connection may then be closed); otherwise 250. NUL alone: 250 or 5xx."""
        for seq in DATA["sequences"]:
            with self.subTest(seq=seq["id"]):
                b = seq["bytes"].encode("latin-1")
                self.assertEqual(b.hex(), seq["hex"])
                bare_crlf = bool({"CR", "LF"} & set(seq["contains_bare"]))
                d = self.open_data()
                d.send(b"Subject: t\r\n\r\nbody" + b + b"more\r\n.\r\n")
                first = d.read_reply()
                if bare_crlf:
                    check(first, 554, "5.6.0", f"{seq['id']}: bare {seq['contains_bare']} in the data")
                elif "NUL" in seq["contains_bare"]:
                    self.assertTrue(first.code == 250 or first.code >= 500, f"{seq['id']}: {first}")
                else:
                    check(first, 250, "2.0.0", seq["id"])
                accepted = 1 if first.code == 250 else 0
                if seq["strict_end_of_data"]:
                    # The data ended at the sequence: "more" and "." are commands.
                    try:
                        r = d.read_replies(2)
                    except ConnectionClosed:
                        r = None
                        self.assertGreaterEqual(first.code, 500, f"{seq['id']}: closed after {first}")
                    if r is not None:
                        check(r[0], 500, "5.5.2", f"{seq['id']}: 'more' after the end of data")
                        check(r[1], 500, "5.5.2", f"{seq['id']}: '.' after the end of data")
                rest = self.finish(d)
                if first.code >= 500 and rest == []:
                    pass  # closed after the refusal: allowed
                else:
                    self.assertEqual([x.code for x in rest], [221], f"{seq['id']}: after the data")
                stored = self.new_messages(accepted)
                if accepted:
                    trace, msg = ternlib.split_trace(stored[0])
                    if seq["strict_end_of_data"]:
                        self.assertNotIn(b"more", msg)
                    else:
                        # one leading dot removed from a line starting with "." (RFC 5321 4.5.2)
                        self.assertIn(ternlib.as_stored((b + b"more").replace(b"\r\n.", b"\r\n")), msg)
                d.close()


if __name__ == "__main__":
    ternlib.run_tests()
