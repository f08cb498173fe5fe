#!/usr/bin/python3
"""t-02-dialog: the SMTP command dialog, one line at a time over a raw socket.

Proves the reply codes and enhanced status codes of the contract for the
greeting, EHLO keywords, HELO, bad command sequences, syntax errors, unknown
commands and parameters, VRFY/HELP/NOOP/RSET/QUIT, the recipient and size
limits, relay refusal, the null sender, DSN and SMTPUTF8 parameters.
Limits for this scenario: max_recipients = 3, max_message_size = 10000.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from ternlib import check, Dialog, send_data  # noqa: E402

MAX_SIZE = 10000
EXPECTED_KEYWORDS = {"PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "CHUNKING",
                     "BINARYMIME", "ENHANCEDSTATUSCODES", "DSN"}


class DialogTest(ternlib.SharedTern):
    tern_options = dict(users=["alice", "bob", "carol"], domains=["example.test"],
                        limits={"max_recipients": 3, "max_message_size": MAX_SIZE, "max_errors": 100},
                        # No relay networks: 127.0.0.1 is an outside client here
                        # (t-13 covers relaying).
                        extra_toml="[relay]\nnetworks = []")

    # -- greeting, EHLO, HELO ------------------------------------------------
    def test_greeting(self):
        d = Dialog(self.tern.port)
        self.addCleanup(d.close)
        check(d.greeting, 220)
        self.assertEqual(len(d.greeting.lines), 1, str(d.greeting))
        self.assertRegex(d.greeting.text, r"^mx\.example\.test ESMTP tern\b")

    def test_ehlo_keywords(self):
        d = self.connect(ehlo=None)
        r = check(d.cmd("EHLO client.example"), 250)
        self.assertTrue(r.lines[0].startswith("mx.example.test"), str(r))
        keywords = {}
        for l in r.lines[1:]:
            parts = l.split()
            keywords[parts[0].upper()] = parts[1:]
        missing = EXPECTED_KEYWORDS - set(keywords)
        self.assertFalse(missing, f"EHLO lacks {missing}: {r}")
        self.assertEqual(keywords["SIZE"], [str(MAX_SIZE)], str(r))
        # A second EHLO is allowed and resets the session.
        check(d.cmd("EHLO client2.example"), 250)

    def test_helo(self):
        d = self.connect(ehlo=None)
        r = check(d.cmd("HELO client.example"), 250)
        self.assertTrue(r.lines[0].startswith("mx.example.test"), str(r))
        self.assertEqual(len(r.lines), 1, f"HELO reply must be one line: {r}")
        check(d.cmd("MAIL FROM:<s@example.org>"), 250, "2.1.0")
        check(d.cmd("RCPT TO:<alice@example.test>"), 250, "2.1.5")

    def test_every_reply_has_enhanced_code(self):
        d = self.connect()
        for line in ("NOOP", "RSET", "HELP", "VRFY alice", "MAIL FROM:<s@example.org>",
                     "RCPT TO:<alice@example.test>", "RSET", "FOO"):
            r = d.cmd(line)
            self.assertIsNotNone(r.enhanced, f"{line} -> {r}")

    # -- sequence errors ----------------------------------------------------
    def test_mail_before_ehlo(self):
        d = self.connect(ehlo=None)
        check(d.cmd("MAIL FROM:<s@example.org>"), 503, "5.5.1")

    def test_rcpt_before_mail(self):
        d = self.connect()
        check(d.cmd("RCPT TO:<alice@example.test>"), 503, "5.5.1")

    def test_data_before_mail(self):
        d = self.connect()
        check(d.cmd("DATA"), 503, "5.5.1")

    def test_data_before_rcpt(self):
        d = self.connect()
        check(d.cmd("MAIL FROM:<s@example.org>"), 250)
        check(d.cmd("DATA"), 503, "5.5.1")
        # the transaction is still open: RCPT then DATA work
        check(d.cmd("RCPT TO:<alice@example.test>"), 250)
        check(d.cmd("DATA"), 354)

    def test_nested_mail(self):
        d = self.connect()
        check(d.cmd("MAIL FROM:<s@example.org>"), 250)
        check(d.cmd("MAIL FROM:<t@example.org>"), 503, "5.5.1")

    # -- syntax -------------------------------------------------------------
    def test_unknown_command(self):
        d = self.connect()
        check(d.cmd("FOOBAR baz"), 500, "5.5.2")
        check(d.cmd("NOOP"), 250, "2.0.0")

    def test_mail_syntax_error(self):
        d = self.connect()
        # RFC 3463: X.1.7 is a bad sender address (X.1.3 a bad recipient)
        check(d.cmd("MAIL FROM:<bad"), 501, "5.1.7")
        check(d.cmd("MAIL TO:<s@example.org>"), 501, "5.5.4")
        # the failed MAIL opened no transaction
        check(d.cmd("RCPT TO:<alice@example.test>"), 503, "5.5.1")
        check(d.cmd("MAIL FROM:<s@example.org>"), 250, "2.1.0")
        check(d.cmd("RCPT TO:<bad"), 501, "5.1.3")

    def test_unknown_parameter(self):
        d = self.connect()
        check(d.cmd("MAIL FROM:<s@example.org> FOO=BAR"), 555, "5.5.4")
        check(d.cmd("MAIL FROM:<s@example.org>"), 250)
        check(d.cmd("RCPT TO:<alice@example.test> FOO=BAR"), 555, "5.5.4")

    # -- simple commands ----------------------------------------------------
    def test_vrfy_help_noop_rset_quit(self):
        d = self.connect()
        check(d.cmd("VRFY alice"), 252, "2.0.0")
        check(d.cmd("HELP"), 214, "2.0.0")
        check(d.cmd("NOOP"), 250, "2.0.0")
        check(d.cmd("MAIL FROM:<s@example.org>"), 250)
        check(d.cmd("RSET"), 250, "2.0.0")
        check(d.cmd("RCPT TO:<alice@example.test>"), 503, "5.5.1")  # RSET ended the transaction
        check(d.cmd("QUIT"), 221, "2.0.0")
        d.expect_closed()

    # -- limits -------------------------------------------------------------
    def test_too_many_recipients(self):
        before = {u: len(self.tern.maildir(u)) for u in ("alice", "bob", "carol")}
        d = self.connect()
        check(d.cmd("MAIL FROM:<s@example.org>"), 250)
        for u in ("alice", "bob", "carol"):
            check(d.cmd(f"RCPT TO:<{u}@example.test>"), 250, "2.1.5")
        check(d.cmd("RCPT TO:<postmaster@example.test>"), 452, "4.5.3")
        r = send_data(d, "Subject: three\r\n\r\nthree recipients\r\n")
        check(r, 250, "2.0.0")
        ternlib.queue_id(r)
        for u in ("alice", "bob", "carol"):
            self.tern.wait_maildir_count(u, before[u] + 1)
        self.assertEqual(self.tern.maildir("postmaster"), [])

    def test_size_param_too_large(self):
        d = self.connect()
        check(d.cmd(f"MAIL FROM:<s@example.org> SIZE={MAX_SIZE + 1}"), 552, "5.3.4")
        check(d.cmd("MAIL FROM:<s@example.org> SIZE=99999999999999999999"), 552, "5.3.4")
        check(d.cmd(f"MAIL FROM:<s@example.org> SIZE={MAX_SIZE}"), 250)

    def test_message_too_large(self):
        before = len(self.tern.maildir("bob"))
        d = self.connect()
        check(d.cmd("MAIL FROM:<s@example.org>"), 250)
        check(d.cmd("RCPT TO:<bob@example.test>"), 250)
        big = b"Subject: big\r\n\r\n" + (b"x" * 98 + b"\r\n") * (MAX_SIZE // 100 + 20)
        check(send_data(d, big), 552, "5.3.4")
        # the session goes on; a small message after it is delivered, the big one never
        check(d.cmd("MAIL FROM:<s@example.org>"), 250)
        check(d.cmd("RCPT TO:<bob@example.test>"), 250)
        check(send_data(d, "Subject: small\r\n\r\nsmall\r\n"), 250)
        files = self.tern.wait_maildir_count("bob", before + 1)
        self.assertFalse(any(b"Subject: big" in f.read_bytes() for f in files))

    # -- addresses and parameters ----------------------------------------------
    def test_non_local_domain(self):
        d = self.connect()
        check(d.cmd("MAIL FROM:<s@example.org>"), 250)
        check(d.cmd("RCPT TO:<someone@elsewhere.example>"), 554, "5.7.1")

    def test_unknown_user(self):
        d = self.connect()
        check(d.cmd("MAIL FROM:<s@example.org>"), 250)
        check(d.cmd("RCPT TO:<nobody@example.test>"), 550, "5.1.1")

    def test_postmaster_without_domain(self):
        d = self.connect()
        check(d.cmd("MAIL FROM:<s@example.org>"), 250)
        check(d.cmd("RCPT TO:<postmaster>"), 250)
        check(d.cmd("RCPT TO:<PostMaster@Example.Test>"), 250)

    def test_null_sender(self):
        d = self.connect()
        check(d.cmd("MAIL FROM:<>"), 250, "2.1.0")
        check(d.cmd("RCPT TO:<carol@example.test>"), 250)
        before = len(self.tern.maildir("carol"))
        r = check(send_data(d, "Subject: bounce\r\nX-T02: null-sender\r\n\r\nbounce\r\n"), 250)
        ternlib.queue_id(r)
        files = self.tern.wait_maildir_count("carol", before + 1)
        mine = [f for f in files if b"X-T02: null-sender" in f.read_bytes()]
        self.assertEqual(len(mine), 1)
        trace, _ = ternlib.split_trace(mine[0].read_bytes())
        self.assertEqual(ternlib.unfold(trace[0]), "Return-Path: <>")

    def test_dsn_parameters(self):
        d = self.connect()
        check(d.cmd("MAIL FROM:<s@example.org> RET=HDRS ENVID=abc"), 250)
        check(d.cmd("RCPT TO:<alice@example.test> NOTIFY=SUCCESS,FAILURE "
                    "ORCPT=rfc822;alice@example.test"), 250)
        check(d.cmd("RCPT TO:<bob@example.test> NOTIFY=NEVER"), 250)
        check(d.cmd("RCPT TO:<carol@example.test> NOTIFY=NEVER,SUCCESS"), 501, "5.5.4")
        check(d.cmd("RSET"), 250)
        check(d.cmd("MAIL FROM:<s@example.org> RET=BOGUS"), 501, "5.5.4")
        check(d.cmd("MAIL FROM:<s@example.org> RET=FULL ENVID=x+2By"), 250)

    def test_smtputf8(self):
        d = self.connect()
        # RFC 6531 3.4 suggests 553 5.6.7 (or 501); any 5xx is accepted here
        check(d.cmd("MAIL FROM:<用户@example.org>"), "5", what="UTF-8 address without SMTPUTF8")
        check(d.cmd("MAIL FROM:<用户@example.org> SMTPUTF8"), 250)
        check(d.cmd("RCPT TO:<alice@example.test>"), 250)

    def test_body_parameter(self):
        d = self.connect()
        check(d.cmd("MAIL FROM:<s@example.org> BODY=8BITMIME"), 250)
        check(d.cmd("RSET"), 250)
        check(d.cmd("MAIL FROM:<s@example.org> BODY=7BIT"), 250)
        check(d.cmd("RSET"), 250)
        check(d.cmd("MAIL FROM:<s@example.org> BODY=9BIT"), 501, "5.5.4")


if __name__ == "__main__":
    ternlib.run_tests()
