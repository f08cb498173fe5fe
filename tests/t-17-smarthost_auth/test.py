#!/usr/bin/python3
"""t-17-smarthost_auth: TLS and SMTP AUTH to the smarthost ([relay]
smarthost_tls, smarthost_username, smarthost_password).

Proves, through the real binary with a scripted aiosmtpd smarthost on
loopback (tests/lib/scripted_smtp.py, a self-signed certificate made with
openssl for the test):
- STARTTLS then AUTH (RFC 4954): the smarthost receives the message over
  TLS, authenticated as the configured user; with PLAIN and LOGIN offered
  tern uses PLAIN, and LOGIN when it is the only one offered;
- a wrong password: the message is deferred (event=deferred reply=454,
  "Authentication failed" with the server's 535), retried, never bounced
  nor delivered, and stays in queue/active; the password is not in the log;
  once the password is fixed and tern restarted, it is delivered;
- AUTH configured, but the smarthost offers no STARTTLS: no AUTH in
  plaintext, the message waits (454, TLS required);
- smarthost_tls = "required" against a server without STARTTLS: deferred
  with 454 (4.7.4, "TLS is required"), nothing delivered;
- smarthost_tls = "implicit" (RFC 8314, port 465 style): TLS from the first
  byte, delivered, with and without AUTH; against a plaintext server the
  handshake fails and the mail waits;
- `tern check-config` rejects smarthost_username without smarthost, and
  smarthost_tls = "yes", with a message naming the key; a config with all
  three keys passes.
"""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from scripted import Scripted  # noqa: E402
from ternlib import Tern, check  # noqa: E402


USER = "relay-user"
PASSWORD = "s3cret"

# Quick retries, so that a waiting message is tried again within the test;
# no delay warning (it would be a DSN to alice).
QUICK_RETRY = ('[queue]\nretry_interval = "1s"\nmax_retry_interval = "1s"\n'
               'delay_warning = "0"')

# The same, with a delay warning at the second attempt (1 s after arrival).
WARN_SOON = ('[queue]\nretry_interval = "1s"\nmax_retry_interval = "1s"\n'
             'delay_warning = "1s"')

CERT = None  # (cert, key), made once in setUpModule


def setUpModule():
    global CERT
    d = ternlib.make_tempdir("tern-cert-")
    cert, key = d / "cert.pem", d / "key.pem"
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-subj", "/CN=localhost", "-days", "1",
                        "-keyout", str(key), "-out", str(cert)],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise unittest.SkipTest(f"openssl req failed: {p.stderr.decode(errors='replace')}")
    CERT = (cert, key)


def wait_for(predicate, what, timeout=30):
    return ternlib.wait_for(predicate, timeout, 0.05, what)


def relay_toml(port, tls=None, username=None, password=None, extra=""):
    lines = ["[relay]", f"smarthost = {ternlib.toml_value(f'127.0.0.1:{port}')}"]
    if tls is not None:
        lines.append(f"smarthost_tls = {ternlib.toml_value(tls)}")
    if username is not None:
        lines.append(f"smarthost_username = {ternlib.toml_value(username)}")
    if password is not None:
        lines.append(f"smarthost_password = {ternlib.toml_value(password)}")
    return "\n".join(lines) + ("\n" + extra if extra else "")


def send(port, sender="alice@example.test", rcpt="ok@remote.test", subject="smarthost test"):
    d = ternlib.session(port)
    try:
        reply = ternlib.transaction(d, sender, [rcpt], f"Subject: {subject}\r\n\r\nhello\r\n")
        check(reply, 250, "2.0.0", what="DATA")
        check(d.cmd("QUIT"), 221)
        return ternlib.queue_id(reply)
    finally:
        d.close()


def delay_warnings(t, user="alice"):
    return [r for r in t.reports(user) if "Action: delayed" in r]


class SmarthostTestCase(unittest.TestCase):
    def scripted(self, tls=False, implicit=False, auth=None, mechanism=None):
        """The scripted server as the smarthost; its dumps say "tls yes|no"
        and "auth USER|none"."""
        options = []
        if tls or implicit:
            options += ["--tls-cert", str(CERT[0]), "--tls-key", str(CERT[1])]
        if implicit:
            options += ["--implicit-tls"]
        if auth:
            options += ["--auth", auth]
        if mechanism:
            options += ["--auth-mechanism", mechanism]
        server = Scripted(*options)
        self.addCleanup(server.stop)
        return server

    def assert_delivered(self, t, server, tls="yes", auth=USER):
        wait_for(lambda: len(server.messages()) >= 1, "the message at the smarthost")
        t.wait_log_events("delivered", 1, rcpt="ok@remote.test")
        t.wait_queue_empty()
        env = server.envelopes()
        self.assertEqual(len(env), 1, env)
        self.assertEqual(env[0]["from"], ["alice@example.test"])
        self.assertEqual(env[0]["rcpt"], ["ok@remote.test"])
        self.assertEqual(env[0]["tls"], [tls], env)
        self.assertEqual(env[0]["auth"], [auth], env)
        self.assertTrue(server.messages()[0].rstrip().endswith(b"hello"), server.messages()[0])
        self.assertEqual(t.log_events("deferred"), [])
        self.assertEqual(t.log_events("failed"), [])
        self.assertEqual(t.maildir("alice"), [])  # no DSN of any kind

    def assert_waiting(self, t, server, attempts=2):
        """The message was tried `attempts` times, deferred each time with
        454, and is neither delivered nor bounced; returns the deferred
        log lines."""
        events = t.wait_log_events("deferred", attempts, timeout=20, rcpt="ok@remote.test")
        for e in events:
            self.assertEqual(e["reply"], "454", e)
        self.assertEqual(server.messages(), [])
        self.assertEqual(t.log_events("delivered"), [])
        self.assertEqual(t.log_events("failed"), [])
        self.assertEqual(t.log_events("expired"), [])
        self.assertEqual(t.log_events("dsn"), [])
        self.assertEqual(t.maildir("alice"), [])
        self.assertNotEqual(t.queue_files("active"), [])
        return events


class StartTlsAuth(SmarthostTestCase):
    def test_starttls_then_auth(self):
        server = self.scripted(tls=True, auth=f"{USER}:{PASSWORD}")
        extra = relay_toml(server.port, username=USER, password=PASSWORD)
        with Tern(users=["alice"], extra_toml=extra) as t:
            send(t.port)
            self.assert_delivered(t, server)
            self.assertTrue(t.log_events("tls"), t.log_tail())
            self.assertNotIn(PASSWORD, t.log_text())

    def test_auth_login_only(self):
        server = self.scripted(tls=True, auth=f"{USER}:{PASSWORD}", mechanism="LOGIN")
        extra = relay_toml(server.port, tls="required", username=USER, password=PASSWORD)
        with Tern(users=["alice"], extra_toml=extra) as t:
            send(t.port)
            self.assert_delivered(t, server)

    def test_wrong_password_waits(self):
        server = self.scripted(tls=True, auth=f"{USER}:{PASSWORD}")
        wrong = "not-the-password"
        extra = relay_toml(server.port, username=USER, password=wrong, extra=QUICK_RETRY)
        t = Tern(users=["alice"], extra_toml=extra)
        with t:
            queue_id = send(t.port)
            # Tried at once and again a second later: deferred both times.
            events = self.assert_waiting(t, server, attempts=2)
            for e in events:
                self.assertEqual(e["queue_id"], queue_id, e)
                self.assertIn("Authentication failed", e["detail"], e)
                self.assertIn("535", e["detail"], e)  # what the server said
                self.assertEqual(e["status"], "4.7.0", e)
            self.assertEqual([p.name for p in t.queue_files("active")], [queue_id])
            self.assertNotIn(wrong, t.log_text())
        self.assertEqual(t.proc.returncode, 0, t.log_tail())
        self.assertEqual([p.name for p in t.queue_files("active")], [queue_id])

        # The administrator fixes the password and restarts: it goes out.
        t.extra_toml = relay_toml(server.port, username=USER, password=PASSWORD, extra=QUICK_RETRY)
        deferred_before = len(t.log_events("deferred"))
        t.restart()
        try:
            wait_for(lambda: len(server.messages()) >= 1, "the message at the smarthost")
            t.wait_log_events("delivered", 1, rcpt="ok@remote.test")
            t.wait_queue_empty()
            env = server.envelopes()
            self.assertEqual(len(env), 1, env)
            self.assertEqual(env[0]["tls"], ["yes"])
            self.assertEqual(env[0]["auth"], [USER])
            self.assertEqual(len(t.log_events("deferred")), deferred_before)
            self.assertEqual(t.maildir("alice"), [])
            self.assertNotIn(PASSWORD, t.log_text())
        finally:
            t.stop()

    def test_wrong_password_status_in_delay_warning(self):
        # The enhanced status 4.7.0 shows in the delay warning too
        # (delay_warning = "1s": due at the second attempt).
        server = self.scripted(tls=True, auth=f"{USER}:{PASSWORD}")
        extra = relay_toml(server.port, username=USER, password="not-the-password",
                           extra=WARN_SOON)
        with Tern(users=["alice"], extra_toml=extra) as t:
            send(t.port)
            r = wait_for(lambda: delay_warnings(t), "a delay warning in alice's Maildir")[0]
            self.assertIn("Action: delayed", r)
            self.assertIn("Status: 4.7.0", r)
            self.assertIn("Final-Recipient: rfc822;ok@remote.test", r)
            self.assertIn("535", r)  # the server's reply, in the Diagnostic-Code
            self.assertNotIn("Action: failed", r)
            self.assertEqual(server.messages(), [])
            self.assertEqual(t.log_events("failed"), [])
            self.assertNotEqual(t.queue_files("active"), [])

    def test_auth_without_starttls_waits(self):
        # The server offers neither STARTTLS nor (without TLS) AUTH: tern
        # never sends the password in plaintext, the message waits.
        server = self.scripted(auth=f"{USER}:{PASSWORD}")
        extra = relay_toml(server.port, username=USER, password=PASSWORD, extra=QUICK_RETRY)
        with Tern(users=["alice"], extra_toml=extra) as t:
            send(t.port)
            events = self.assert_waiting(t, server, attempts=1)
            self.assertIn("TLS", events[0]["detail"], events[0])


class TlsModes(SmarthostTestCase):
    def test_required_without_starttls_waits(self):
        server = self.scripted()  # no certificate: no STARTTLS
        extra = relay_toml(server.port, tls="required", extra=QUICK_RETRY)
        with Tern(users=["alice"], extra_toml=extra) as t:
            send(t.port)
            events = self.assert_waiting(t, server, attempts=2)
            for e in events:
                self.assertIn("TLS is required", e["detail"], e)
                self.assertEqual(e["status"], "4.7.4", e)

    def test_required_status_in_delay_warning(self):
        server = self.scripted()
        extra = relay_toml(server.port, tls="required", extra=WARN_SOON)
        with Tern(users=["alice"], extra_toml=extra) as t:
            send(t.port)
            r = wait_for(lambda: delay_warnings(t), "a delay warning in alice's Maildir")[0]
            self.assertIn("Action: delayed", r)
            self.assertIn("Status: 4.7.4", r)
            self.assertIn("TLS is required", r)
            self.assertEqual(server.messages(), [])
            self.assertEqual(t.log_events("failed"), [])

    def test_required_with_starttls(self):
        server = self.scripted(tls=True)
        extra = relay_toml(server.port, tls="required")
        with Tern(users=["alice"], extra_toml=extra) as t:
            send(t.port)
            self.assert_delivered(t, server, auth="none")

    def test_implicit_tls(self):
        server = self.scripted(implicit=True)
        extra = relay_toml(server.port, tls="implicit")
        with Tern(users=["alice"], extra_toml=extra) as t:
            send(t.port)
            self.assert_delivered(t, server, auth="none")
            self.assertTrue(t.log_events("tls"), t.log_tail())

    def test_implicit_tls_against_plain_server_waits(self):
        # The server speaks plaintext SMTP: the handshake fails, nothing is
        # sent in the clear, and the mail waits.
        server = self.scripted()
        extra = relay_toml(server.port, tls="implicit", extra=QUICK_RETRY)
        with Tern(users=["alice"], extra_toml=extra) as t:
            send(t.port)
            events = t.wait_log_events("deferred", 2, timeout=20, rcpt="ok@remote.test")
            self.assertTrue(all(e["reply"].startswith("4") for e in events), events)
            self.assertTrue(t.log_events("tls_failed"), t.log_tail())
            self.assertEqual(server.messages(), [])
            self.assertEqual(t.log_events("delivered"), [])
            self.assertEqual(t.maildir("alice"), [])
            self.assertNotEqual(t.queue_files("active"), [])

    def test_implicit_tls_with_auth(self):
        server = self.scripted(implicit=True, auth=f"{USER}:{PASSWORD}")
        extra = relay_toml(server.port, tls="implicit", username=USER, password=PASSWORD)
        with Tern(users=["alice"], extra_toml=extra) as t:
            send(t.port)
            self.assert_delivered(t, server)


ERR_RE = re.compile(r"tern: config (.+?):(?:(\d+):(\d+):)? (.+)")


class CheckConfig(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = ternlib.make_tempdir()

    def check_config(self, name, relay_lines):
        text = ('hostname = "mx.example.test"\n'
                f'data_dir = "{self.dir / "data"}"\n'
                "\n" + "\n".join(relay_lines) + "\n")
        path = self.dir / name
        path.write_text(text, encoding="utf-8")
        p = subprocess.run([ternlib.tern_bin(), "check-config", "--config", str(path)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                           cwd=str(self.dir))
        return p, text

    def assert_error(self, name, relay_lines, key, line=None):
        p, text = self.check_config(name, relay_lines)
        err = p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 1, f"check-config exit status; stderr: {err}")
        self.assertNotIn("config ok", p.stdout.decode("utf-8", "replace"))
        m = ERR_RE.search(err)
        self.assertTrue(m, f"stderr has no 'tern: config FILE[:LINE:COL]: message': {err!r}")
        self.assertTrue(m.group(1).endswith(name), err)
        self.assertIn(key, m.group(4), f"message names {key}: {err!r}")
        if line is not None:
            self.assertEqual(m.group(2), str(line), f"line number in {err!r}")
        return err

    def test_all_keys_pass(self):
        p, _ = self.check_config("good.toml", [
            "[relay]", 'smarthost = "smtp.example.net:587"', 'smarthost_tls = "required"',
            'smarthost_username = "tern@example.test"', 'smarthost_password = "s3cret"'])
        self.assertEqual(p.returncode, 0, p.stderr.decode("utf-8", "replace"))
        self.assertEqual(p.stdout.decode().strip(), "config ok")
        for mode in ("may", "implicit"):
            p, _ = self.check_config(f"good-{mode}.toml", [
                "[relay]", 'smarthost = "smtp.example.net:465"', f'smarthost_tls = "{mode}"'])
            self.assertEqual(p.returncode, 0, p.stderr.decode("utf-8", "replace"))

    def test_readable_password_file_warns(self):
        lines = ["[relay]", 'smarthost = "smtp.example.net:587"', 'smarthost_username = "tern@example.test"',
                 'smarthost_password = "s3cret"']
        p, _ = self.check_config("readable.toml", lines)
        os.chmod(self.dir / "readable.toml", 0o644)
        p = subprocess.run([ternlib.tern_bin(), "check-config", "--config", str(self.dir / "readable.toml")],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30, cwd=str(self.dir))
        err = p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, err)  # a warning, not an error
        self.assertIn("warning", err)
        self.assertIn("chmod 600", err)
        self.assertNotIn("s3cret", err)
        os.chmod(self.dir / "readable.toml", 0o600)
        p = subprocess.run([ternlib.tern_bin(), "check-config", "--config", str(self.dir / "readable.toml")],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30, cwd=str(self.dir))
        self.assertEqual((p.returncode, p.stderr), (0, b""))

    def test_username_without_smarthost(self):
        err = self.assert_error("no-smarthost.toml", [
            "[relay]", 'smarthost_username = "tern@example.test"',
            'smarthost_password = "s3cret"'], "smarthost_username")
        self.assertIn("smarthost", err)
        self.assertNotIn("s3cret", err)

    def test_bad_tls_mode(self):
        lines = ["[relay]", 'smarthost = "smtp.example.net:587"', 'smarthost_tls = "yes"']
        # data_dir, hostname, an empty line, then the lines above: line 6.
        err = self.assert_error("bad-tls.toml", lines, "smarthost_tls", line=6)
        self.assertIn("may", err)


if __name__ == "__main__":
    ternlib.run_tests()
