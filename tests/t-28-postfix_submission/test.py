#!/usr/bin/python3
"""t-28-postfix_submission: a real Postfix 3.7 relays through tern's
submission port, with STARTTLS and SMTP AUTH, as a host's MTA relays
through its provider's mail server.

A private Postfix (postfix -c DIR, the recipe of t-18: its own main.cf and
master.cf, queue and log file in a temp dir, chroot off, smtpd on a free
loopback port) has relayhost = [127.0.0.1]:<tern's submission port>,
smtp_tls_security_level = encrypt with the test's private CA as
smtp_tls_CAfile, and SASL (smtp_sasl_auth_enable, smtp_sasl_password_maps =
texthash:FILE, smtp_sasl_security_options = noanonymous; Cyrus SASL's
PLAIN/LOGIN client from libsasl2-modules). tern has the account
relay@example.test, allowed by [auth.senders] to send as @app.example.test.
Through the real binaries:
- a message handed to Postfix's smtpd (smtplib) for alice@example.test, a
  tern local user, arrives in tern's Maildir with "with ESMTPSA" and the TLS
  cipher in tern's Received field, after Postfix's own Received; Postfix
  logs a Trusted TLS connection (the chain tern serves verifies against the
  CA) and status=sent; tern logs event=auth for relay@example.test; the
  message had no Date/Message-ID (Postfix adds none for SMTP clients here):
  tern adds one of each;
- a message from Postfix's sendmail command (sendmail -C DIR -t) arrives the
  same way, with Postfix's Date and Message-ID kept, not doubled;
- a sender the login does not own: tern's 553 5.7.1 at MAIL, Postfix
  bounces the message (log: status=bounced, "553 5.7.1", "in reply to MAIL
  FROM command"); nothing reaches the Maildir;
- a transport with a wrong password (master.cf -o
  smtp_sasl_password_maps=static:...): Postfix logs "SASL authentication
  failed; server ... said: 535 5.7.8" and defers; tern logs auth_failed;
- a transport without TLS (-o smtp_tls_security_level=none): tern offers no
  AUTH in plaintext, so Postfix sends without it and gets 530 5.7.0 at
  MAIL; nothing arrives, and tern has no AUTH event from that session;
- the password is nowhere in tern's config dir, data_dir or log.
Skips (exit 77) when Postfix or the SASL client modules are not installed,
or Postfix cannot start as this user.
"""
import atexit
import base64
import os
import re
import shutil
import smtplib
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
import testca  # noqa: E402
import tlstern  # noqa: E402
from private_postfix import PrivatePostfix  # noqa: E402

SERVER_NAME = "mx.example.test"
LOGIN = "relay@example.test"
PASSWORD = "pfx-Relay-pw-3Jq8"  # found nowhere else: grepped for at the end


def wait_for(predicate, what, timeout=30):
    return ternlib.wait_for(predicate, timeout, 0.1, what)


def sasl_modules_installed():
    """Cyrus SASL's PLAIN and LOGIN client plugins (libsasl2-modules)."""
    for d in ("/usr/lib/x86_64-linux-gnu/sasl2", "/usr/lib/aarch64-linux-gnu/sasl2", "/usr/lib/sasl2"):
        p = Path(d)
        if p.is_dir() and list(p.glob("libplain.so*")) and list(p.glob("liblogin.so*")):
            return True
    return subprocess.run(["dpkg", "-s", "libsasl2-modules"], capture_output=True).returncode == 0


class Postfix(PrivatePostfix):
    """A private Postfix that relays everything to tern's submission port."""

    def __init__(self, relay_port, ca_file):
        super().__init__()
        self.relay_port = relay_port
        self.ca_file = ca_file

    def check_requirements(self):
        if not sasl_modules_installed():
            raise unittest.SkipTest("libsasl2-modules (Postfix's SASL client PLAIN/LOGIN) is not installed")

    def relay(self):
        return f"[127.0.0.1]:{self.relay_port}"

    def prepare(self):
        relay = self.relay()
        (self.etc / "sasl_passwd").write_text(f"{relay} {LOGIN}:{PASSWORD}\n", encoding="utf-8")
        os.chmod(self.etc / "sasl_passwd", 0o600)
        # wrongpw.test: the same relay with a wrong password; plain.test: without TLS;
        # bounces.test: where this Postfix's own bounces go (nowhere).
        (self.etc / "transport").write_text(
            f"wrongpw.test badauth:{relay}\nplain.test plainrelay:{relay}\nbounces.test discard:\n",
            encoding="utf-8")

    def main_cf(self):
        return f"""\
# SMTP clients get no Date/Message-ID from this Postfix (tern adds them).
local_header_rewrite_clients =
relayhost = {self.relay()}
transport_maps = texthash:{self.etc}/transport
smtp_tls_security_level = encrypt
smtp_tls_CAfile = {self.ca_file}
smtp_tls_loglevel = 1
smtp_sasl_auth_enable = yes
smtp_sasl_password_maps = texthash:{self.etc}/sasl_passwd
smtp_sasl_security_options = noanonymous
# Deferred mail is not retried during the test.
minimal_backoff_time = 300s
maximal_backoff_time = 600s
"""

    def master_cf(self):
        return (f"badauth unix - - n - - smtp\n"
                f"  -o smtp_sasl_password_maps=static:{LOGIN}:not-the-password\n"
                "plainrelay unix - - n - - smtp\n  -o smtp_tls_security_level=none\n")

    def wait_log(self, pattern, what, timeout=30):
        try:
            return wait_for(lambda: re.search(pattern, self.log_text(), re.M), what, timeout)
        except AssertionError as e:
            raise AssertionError(f"{e}\n--- Postfix log ---\n{self.log_text()[-4000:]}")

    def queue_id(self, smtpd_reply):
        """Postfix's queue ID from its 250 reply to DATA ('queued as ID')."""
        m = re.search(r"queued as ([0-9A-Za-z]+)", smtpd_reply)
        if not m:
            raise AssertionError(f"no queue ID in Postfix's reply {smtpd_reply!r}")
        return m.group(1)

    def inject(self, sender, rcpt, message):
        """Hands a message to Postfix's smtpd; returns Postfix's queue ID."""
        with smtplib.SMTP("127.0.0.1", self.port, local_hostname="app.example.test", timeout=20) as s:
            s.ehlo()
            s.mail(sender)
            code, text = s.rcpt(rcpt)
            if code != 250:
                raise AssertionError(f"Postfix refused RCPT {rcpt}: {code} {text!r}")
            code, text = s.data(message)
            if code != 250:
                raise AssertionError(f"Postfix refused DATA: {code} {text!r}")
            return self.queue_id(text.decode("utf-8", "replace"))

    def sendmail(self, message, *args):
        """Postfix's sendmail(1) with this config dir."""
        return subprocess.run(["/usr/sbin/sendmail", "-C", str(self.etc), *args], input=message,
                              capture_output=True, timeout=60)


def header_fields(msg):
    head, _ = ternlib.split_body(msg)
    text = head.decode("utf-8", "replace").replace("\r\n", "\n")
    fields = {}
    for f in re.split(r"\n(?![ \t])", text.strip("\n")):
        name, _, value = f.partition(":")
        fields.setdefault(name.strip().lower(), []).append(ternlib.unfold(value).strip())
    return fields


class PostfixSubmission(unittest.TestCase):
    skipped = None  # why Postfix could not run (then the script exits 77)

    @classmethod
    def setUpClass(cls):
        try:
            if not shutil.which("openssl"):
                raise unittest.SkipTest("openssl is not installed")
            ca = testca.TestCA(ternlib.make_tempdir("tern-ca-"))
            leaf = ca.issue("server", SERVER_NAME)
            cls.tern = tlstern.TlsTern(
                leaf.chain, leaf.key, {LOGIN: PASSWORD}, roles=("submission",), users=("alice",),
                auth='[auth]\nfailure_delay = "0"\n[auth.senders]\n"relay@example.test" = ["@app.example.test"]')
            cls.tern.pick_ports()
            cls.postfix = Postfix(cls.tern.ports["submission"], ca.root)
            atexit.register(cls.postfix.stop)
            cls.postfix.start()
        except unittest.SkipTest as e:
            PostfixSubmission.skipped = str(e)
            raise
        try:
            cls.tern.start()
        except BaseException:
            cls.postfix.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.tern.stop()
        cls.postfix.stop()

    def delivered(self, postfix_id, count):
        """Waits for Postfix's status=sent line of the message and for the
        Maildir to hold `count` messages; returns the newest file's bytes."""
        line = self.postfix.wait_log(rf"^.*\b{postfix_id}: to=<alice@example\.test>.*status=sent.*$",
                                     f"Postfix's status=sent for {postfix_id}")
        self.assertIn(f"relay=127.0.0.1[127.0.0.1]:{self.tern.ports['submission']}", line.group(0))
        files = self.tern.wait_maildir_count("alice", count)
        newest = max(files, key=lambda p: p.stat().st_mtime_ns)
        return newest.read_bytes()

    def check_trace(self, content, postfix_id):
        trace, rest = ternlib.split_trace(content)
        self.assertEqual(trace[0].strip(), "Return-Path: <cron@app.example.test>")
        received = ternlib.unfold(trace[2])
        m = re.match(r"Received: from postfix\.peer\.example\.test \(\[127\.0\.0\.1\]\) "
                     r"\(using (TLSv1\.[23]) with cipher (\S+) \((\d+)/\3 bits\)\) "
                     r"by mx\.example\.test \(tern\) with ESMTPSA id [0-9A-Z]{15} "
                     r"for <alice@example\.test>; ", received)
        self.assertTrue(m, received)
        self.assertNotIn("relay@example.test", received)  # show_login is off
        # Postfix's own Received follows, naming its queue ID.
        fields = header_fields(rest)
        # (smtpd: "(Postfix) with ESMTP id ..."; pickup: "(Postfix, from userid 0) id ...")
        self.assertRegex(fields["received"][0], r"by postfix\.peer\.example\.test "
                                                r"\(Postfix(, from userid \d+)?\)( with E?SMTP)? "
                                                rf"id {postfix_id}\b")
        # Postfix logged the same TLS session, the chain verified against the CA.
        self.assertRegex(self.postfix.log_text(),
                         rf"Trusted TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:"
                         rf"{self.tern.ports['submission']}: {re.escape(m.group(1))} with cipher "
                         rf"{re.escape(m.group(2))}")
        return fields, rest

    def test_1_relayed_through_submission(self):
        message = (b"From: Cron Daemon <cron@app.example.test>\r\nTo: alice@example.test\r\n"
                   b"Subject: nightly report\r\n\r\nall jobs ran\r\n")
        postfix_id = self.postfix.inject("cron@app.example.test", "alice@example.test", message)
        content = self.delivered(postfix_id, 1)
        fields, rest = self.check_trace(content, postfix_id)
        # Neither the client nor Postfix wrote Date or Message-ID: tern did.
        self.assertEqual(len(fields.get("date", [])), 1, fields)
        self.assertEqual(len(fields.get("message-id", [])), 1, fields)
        self.assertRegex(fields["message-id"][0], r"^<[^<>@\s]+@[^<>@\s]+>$")
        self.assertEqual(fields["subject"], ["nightly report"])
        self.assertTrue(rest.endswith(b"\n\nall jobs ran\n"), rest)
        auth = self.tern.wait_log_events("auth", 1, login=LOGIN)
        self.assertIn(auth[0]["mechanism"], ("PLAIN", "LOGIN"))
        queued = self.tern.wait_log_events("queued", 1, login=LOGIN)
        self.assertEqual(queued[0]["from"], "<cron@app.example.test>")

    def test_2_sendmail_command(self):
        message = (b"From: cron@app.example.test\nTo: alice@example.test\nSubject: from sendmail\n"
                   b"Date: Tue, 25 Nov 2025 12:00:00 +0000\nMessage-ID: <sendmail.1@app.example.test>\n"
                   b"\nvia postdrop\n")
        p = self.postfix.sendmail(message, "-f", "cron@app.example.test", "-t")
        self.assertEqual(p.returncode, 0, p.stderr.decode("utf-8", "replace"))
        m = self.postfix.wait_log(r"postfix/pickup\[\d+\]: ([0-9A-Za-z]+): uid=0 from=<cron@app\.example\.test>",
                                  "Postfix's pickup of the sendmail message")
        content = self.delivered(m.group(1), 2)
        fields, rest = self.check_trace(content, m.group(1))
        self.assertEqual(fields["message-id"], ["<sendmail.1@app.example.test>"])
        self.assertEqual(fields["date"], ["Tue, 25 Nov 2025 12:00:00 +0000"])
        self.assertTrue(rest.endswith(b"\n\nvia postdrop\n"), rest)

    def test_3_sender_not_owned_bounces(self):
        before = len(self.tern.maildir("alice"))
        postfix_id = self.postfix.inject("someone@bounces.test", "alice@example.test",
                                         b"Subject: not mine\r\n\r\nforged\r\n")
        line = self.postfix.wait_log(rf"^.*\b{postfix_id}: to=<alice@example\.test>.*status=bounced.*$",
                                     "Postfix's status=bounced").group(0)
        self.assertIn("said: 553 5.7.1", line)
        self.assertIn("in reply to MAIL FROM command", line)
        self.tern.wait_log_events("command", 1, verb="MAIL", reply="553")
        self.assertEqual(len(self.tern.maildir("alice")), before)

    def test_4_wrong_password_defers(self):
        failed_before = len(self.tern.log_events("auth_failed"))
        postfix_id = self.postfix.inject("cron@app.example.test", "bob@wrongpw.test",
                                         b"Subject: wrong password\r\n\r\nx\r\n")
        line = self.postfix.wait_log(rf"^.*\b{postfix_id}: to=<bob@wrongpw\.test>.*status=deferred.*$",
                                     "Postfix's status=deferred").group(0)
        self.assertIn("SASL authentication failed", line)
        self.assertIn("535 5.7.8", line)
        self.tern.wait_log_events("auth_failed", failed_before + 1)
        self.assertNotIn("bob@wrongpw.test", self.tern.log_text())  # never got as far as RCPT

    def test_5_no_auth_without_tls(self):
        auth_before = len(self.tern.log_events("auth")) + len(self.tern.log_events("auth_failed"))
        postfix_id = self.postfix.inject("someone@bounces.test", "carol@plain.test",
                                         b"Subject: plaintext\r\n\r\nx\r\n")
        line = self.postfix.wait_log(rf"^.*\b{postfix_id}: to=<carol@plain\.test>.*status=(bounced|deferred).*$",
                                     "Postfix's verdict on the plaintext relay").group(0)
        self.assertIn("530 5.7.0", line)
        self.assertIn("in reply to MAIL FROM command", line)
        self.assertEqual(len(self.tern.log_events("auth")) + len(self.tern.log_events("auth_failed")),
                         auth_before)
        self.assertNotIn("carol@plain.test", self.tern.log_text())

    def test_9_password_nowhere_in_tern(self):
        secrets = [PASSWORD.encode(), base64.b64encode(PASSWORD.encode())]
        found = []
        for root, _dirs, files in os.walk(self.tern.dir):
            for name in files:
                path = os.path.join(root, name)
                try:
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                found += [(path, s) for s in secrets if s in data]
        self.assertEqual(found, [])


if __name__ == "__main__":
    try:
        ternlib.run_tests()
    except SystemExit as e:
        # A SkipTest from setUpClass runs no test at all, which run_tests
        # reports as success: make it ctest's SKIP_RETURN_CODE.
        if e.code == 0 and PostfixSubmission.skipped:
            sys.stderr.write(f"skipped: {PostfixSubmission.skipped}\n")
            sys.exit(77)
        raise
