#!/usr/bin/python3
"""t-01-simple_local: Python smtplib delivers to a local Maildir.

Proves: a message sent with smtplib to alice@example.test lands in
data_dir/mail/example.test/alice/new/ with Return-Path, Delivered-To and a
Received header (naming our hostname, `with ESMTP`), the body intact (smtplib
dot-stuffs a line starting with '.', tern must store it with one dot); local
parts are case-insensitive; postmaster always exists; an unknown user gets
550 5.1.1; the reply after DATA says `queued as <QUEUEID>`; the log follows the
message by queue id; SIGTERM and SIGINT exit 0.
"""
import os
import re
import signal
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from ternlib import Tern  # noqa: E402

SENDER = "sender@example.org"

MESSAGE = (
    b"From: Sender <sender@example.org>\r\n"
    b"To: Alice <alice@example.test>\r\n"
    b"Subject: t-01 hello\r\n"
    b"Message-ID: <t01-1@example.org>\r\n"
    b"\r\n"
    b"first line\r\n"
    b".a line that starts with a dot\r\n"
    b"..two dots\r\n"
    b".\r\n"
    b"last line\r\n"
)


class SimpleLocal(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tern = Tern(users=["alice", "bob"], domains=["example.test"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.exit_status = cls.tern.stop()

    def smtp(self):
        s = smtplib.SMTP("127.0.0.1", self.tern.port, local_hostname="client.example", timeout=30)
        self.addCleanup(s.close)
        return s

    def test_1_deliver_to_alice(self):
        s = self.smtp()
        code, _ = s.ehlo()
        self.assertEqual(code, 250)
        code, msg = s.mail(SENDER)
        self.assertEqual(code, 250, msg)
        code, msg = s.rcpt("alice@example.test")
        self.assertEqual(code, 250, msg)
        code, msg = s.data(MESSAGE)  # smtplib dot-stuffs and appends CRLF.CRLF
        text = msg.decode()
        self.assertEqual(code, 250, text)
        m = re.match(r"^2\.0\.0 .*queued as ([0-9A-Z]{15})$", text)
        self.assertTrue(m, f"reply after DATA: {code} {text!r}")
        qid = m.group(1)
        s.quit()

        files = self.tern.wait_maildir_count("alice", 1)
        content = files[0].read_bytes()
        trace, rest = ternlib.split_trace(content)
        self.assertEqual(ternlib.unfold(trace[0]), f"Return-Path: <{SENDER}>")
        self.assertRegex(ternlib.unfold(trace[1]), r"(?i)^Delivered-To: <?alice@example\.test>?$")
        received = ternlib.unfold(trace[2])
        self.assertIn("mx.example.test", received)
        self.assertRegex(received, r"\bwith ESMTP")
        self.assertRegex(received, r"\bby mx\.example\.test\b")
        # The message as sent, with the dot-stuffing removed again (and the
        # store's line ends).
        self.assertEqual(rest, ternlib.as_stored(MESSAGE))
        # Nothing left in tmp/ of the Maildir, nothing left in the queue.
        self.assertEqual(self.tern.maildir("alice", sub="tmp"), [])
        self.assertEqual(self.tern.queue_files("active"), [])
        # The log follows the message by queue id.
        queued = self.tern.wait_log_events("queued", queue_id=qid)
        self.assertEqual(len(queued), 1, f"event=queued queue_id={qid} in log")
        delivered = self.tern.wait_log_events("delivered", queue_id=qid)
        self.assertEqual(len(delivered), 1, f"event=delivered queue_id={qid} in log")
        # contract: delivered (queue_id=, rcpt=, path=)
        self.assertEqual(delivered[0].get("rcpt"), "alice@example.test", str(delivered[0]))
        self.assertIn("path", delivered[0], f"event=delivered has no path=: {delivered[0]}")
        self.assertEqual(os.path.basename(delivered[0]["path"]), files[0].name, str(delivered[0]))

    def test_2_case_insensitive_local_part(self):
        before = len(self.tern.maildir("alice"))
        s = self.smtp()
        refused = s.sendmail(SENDER, ["ALICE@example.test"],
                             b"Subject: upper\r\nMessage-ID: <t01-2@example.org>\r\n\r\nhi\r\n")
        self.assertEqual(refused, {})
        s.quit()
        files = self.tern.wait_maildir_count("alice", before + 1)
        self.assertTrue(any(b"<t01-2@example.org>" in f.read_bytes() for f in files))
        self.assertFalse((self.tern.data_dir / "mail" / "example.test" / "ALICE").exists())

    def test_3_postmaster(self):
        s = self.smtp()
        refused = s.sendmail(SENDER, ["postmaster@example.test"],
                             b"Subject: pm\r\nMessage-ID: <t01-3@example.org>\r\n\r\nhi\r\n")
        self.assertEqual(refused, {})
        s.quit()
        files = self.tern.wait_maildir_count("postmaster", 1)
        self.assertIn(b"<t01-3@example.org>", files[0].read_bytes())

    def test_4_unknown_user(self):
        s = self.smtp()
        s.ehlo()
        self.assertEqual(s.mail(SENDER)[0], 250)
        code, msg = s.rcpt("nobody@example.test")
        self.assertEqual(code, 550, msg)
        self.assertTrue(msg.decode().startswith("5.1.1"), msg)
        # smtplib.sendmail reports it as refused recipients.
        s.rset()
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
            s.sendmail(SENDER, ["nobody@example.test"], b"Subject: x\r\n\r\nx\r\n")
        code, msg = cm.exception.recipients["nobody@example.test"]
        self.assertEqual(code, 550)
        self.assertTrue(msg.decode().startswith("5.1.1"), msg)
        self.assertFalse((self.tern.data_dir / "mail" / "example.test" / "nobody").exists())

    def test_5_two_recipients(self):
        a_before = len(self.tern.maildir("alice"))
        s = self.smtp()
        refused = s.sendmail(SENDER, ["alice@example.test", "bob@example.test"],
                             b"Subject: both\r\nMessage-ID: <t01-5@example.org>\r\n\r\nhi\r\n")
        self.assertEqual(refused, {})
        s.quit()
        self.tern.wait_maildir_count("alice", a_before + 1)
        bob = self.tern.wait_maildir_count("bob", 1)
        trace, rest = ternlib.split_trace(bob[0].read_bytes())
        self.assertRegex(ternlib.unfold(trace[1]), r"(?i)^Delivered-To: <?bob@example\.test>?$")
        self.assertIn(b"<t01-5@example.org>", rest)


class ZZ_Signals(unittest.TestCase):
    # Contract: SIGTERM/SIGINT stop accepting, finish, exit 0.
    def test_sigterm_exits_0(self):
        t = Tern().start()
        listen = t.log_events("listen")
        self.assertEqual([e.get("address") for e in listen], [f"127.0.0.1:{t.port}"])
        status = t.stop()
        self.assertEqual(status, 0, "exit status of tern serve after SIGTERM\n" + t.log_tail())

    def test_sigint_exits_0(self):
        t = Tern().start()
        t.proc.send_signal(signal.SIGINT)
        try:
            t.proc.wait(timeout=20)
        except Exception:
            pass  # t.stop() below then uses SIGTERM/SIGKILL, and the status shows it
        status = t.stop()
        self.assertEqual(status, 0, "exit status of tern serve after SIGINT\n" + t.log_tail())


if __name__ == "__main__":
    ternlib.run_tests()
