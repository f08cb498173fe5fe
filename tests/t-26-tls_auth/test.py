#!/usr/bin/python3
"""t-26-tls_auth: inbound TLS (STARTTLS, implicit TLS) and SMTP AUTH, with
real clients.

A private CA made by the test with openssl (tests/lib/testca.py: root,
intermediate, server certificates for mx.example.test whose files hold the
chain; clients trust only the root, so every verified connection also proves
the chain is served). tern listens three times on loopback: role "mx"
(STARTTLS, AUTH inside TLS), "submission" (STARTTLS, MAIL before AUTH gets
530) and "submissions" (TLS from the first byte, RFC 8314). Its relay
networks exclude 127.0.0.1, so only an authenticated client relays; the
smarthost is the scripted aiosmtpd server (tests/lib/scripted_smtp.py).

Through the real binary:
- Python smtplib: starttls() + login() (PLAIN, and LOGIN), SMTP_SSL on the
  submissions port, each verifying the server against the private CA with
  server_hostname mx.example.test; the delivered Maildir copy says
  "with ESMTPSA", "(using TLSv1.3 with cipher ... (256/256 bits))" as the
  client saw the session, gets Date: and Message-ID: when they are missing
  (and keeps them when present), names the login only with show_login;
- swaks --tls --auth PLAIN / LOGIN, swaks --tls-on-connect, verifying;
- openssl s_client -starttls smtp: TLS 1.2 and 1.3 work (AEAD ciphers only:
  a CBC-only client fails), TLS 1.1 and 1.0 fail (the client allows them:
  the server refuses, event=tls_failed), -showcerts lists leaf + intermediate,
  a session saved with -sess_out is "Reused" with -sess_in (1.3 and 1.2),
  and tern logs resumed=yes;
- posttls-finger -l secure: a "Verified TLS connection" over STARTTLS and
  over the wrapper mode (-w); a wrong match name is not verified;
- EHLO: STARTTLS offered, AUTH not, before TLS; AUTH PLAIN LOGIN, no
  STARTTLS, inside it; STARTTLS inside TLS 503 5.5.1; MAIL before the new
  EHLO after STARTTLS 503; AUTH before TLS 538 5.7.11 (mx and submission);
  235 2.7.0, 535 5.7.8 (wrong password, unknown login, foreign authzid),
  501 5.5.2 (bad base64), 501 5.0.0 ('*'), 504 (unknown mechanism),
  503 5.5.1 (AUTH twice); max_failures 535s then 421 4.7.0 and close;
  failure_delay doubles from one address;
- relay: 554 5.7.1 without AUTH (plain and TLS), with AUTH on the mx and the
  submissions port the message reaches the smarthost; submission: 530 5.7.0
  before AUTH, local mail too;
- the envelope sender: the login's address, alice+tag@, <> and the
  [auth.senders] extras pass; another local user, a subdomain of an
  @domain extra, a stranger: 553 5.7.1;
- STARTTLS injection (CVE-2011-0411): "STARTTLS\\r\\nRSET\\r\\n" in one
  write: after the handshake the first reply is the EHLO's, never a 250 for
  the RSET; a pipelined MAIL is not executed either; event=starttls_injection;
- a failed handshake (TLS 1.1, garbage on the submissions port) is logged
  and an open TLS session carries on;
- the password is nowhere in the data_dir, the config dir or the log;
- SIGHUP: a new certificate is served to new connections while a session
  opened before keeps working and sends a message; a broken certificate file
  or a key that does not match: event=tls_reload_failed, the previous
  certificate stays;
- tern check-config fails naming 'tls.certificate' / 'tls.key' for a
  missing, unreadable, non-PEM file or a key that does not match, and
  `tern serve` refuses to start on the same.
"""
import base64
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
import testca  # noqa: E402
import tlstern  # noqa: E402
from scripted import Scripted  # noqa: E402
from ternlib import Dialog, check  # noqa: E402

SERVER_NAME = "mx.example.test"
LOGIN = "alice@example.test"
PASSWORD = "Tr0ub4dor-pw-q7Zx"  # a string found nowhere else, to grep for
BOB_PASSWORD = "b0b-Secret-Kx91"
ROLES = tlstern.ROLES

CA = None       # testca.TestCA
LEAF1 = None    # the certificate tern starts with (EC key)
LEAF2 = None    # the one SIGHUP brings in (RSA key)


def setUpModule():
    global CA, LEAF1, LEAF2
    for tool in ("openssl", "swaks", "posttls-finger"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            raise unittest.SkipTest(f"{tool} is not installed")
    CA = testca.TestCA(ternlib.make_tempdir("tern-ca-"))
    LEAF1 = CA.issue("one", SERVER_NAME)
    LEAF2 = CA.issue("two", SERVER_NAME, key_kind="rsa")


def wait_for(predicate, what, timeout=20):
    return ternlib.wait_for(predicate, timeout, 0.05, what)


def plain_blob(login, password, authzid=""):
    return base64.b64encode(f"{authzid}\0{login}\0{password}".encode()).decode()


def b64(text):
    return base64.b64encode(text.encode()).decode()


# --------------------------------------------------------------------------
# tern with three listeners (tests/lib/tlstern.py)


def TlsTern(cert=None, key=None, accounts=None, **kw):
    """tern with mx, submission and submissions listeners, certificate 1 by
    default, and alice as the one account."""
    return tlstern.TlsTern(cert or LEAF1.chain, key or LEAF1.key,
                           accounts if accounts is not None else {LOGIN: PASSWORD}, **kw)


# --------------------------------------------------------------------------
# clients


def client_context(**kw):
    """Trusts only the private root: verifying needs the intermediate that
    tern sends with its certificate."""
    ctx = ssl.create_default_context(cafile=str(CA.root))
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def starttls(d, ctx=None):
    """STARTTLS on a Dialog, then the handshake over the same socket."""
    check(d.cmd("STARTTLS"), 220, "2.0.0", what="STARTTLS")
    if d.buf:
        raise AssertionError(f"bytes after the 220 to STARTTLS: {d.buf!r}")
    d.sock = (ctx or client_context()).wrap_socket(d.sock, server_hostname=SERVER_NAME)
    return d


def tls_dialog(port, ehlo=True, implicit=False, ctx=None):
    """A Dialog inside TLS (STARTTLS, or implicit), after EHLO if asked."""
    if implicit:
        d = Dialog(port, read_greeting=False)
        d.sock = (ctx or client_context()).wrap_socket(d.sock, server_hostname=SERVER_NAME)
        d.greeting = d.read_reply()
        check(d.greeting, 220, what="greeting")
    else:
        d = ternlib.session(port)
        starttls(d, ctx)
    if ehlo:
        check(d.cmd("EHLO client.example"), 250, what="EHLO in TLS")
    return d


def auth_plain(d, login=LOGIN, password=PASSWORD):
    return d.cmd(f"AUTH PLAIN {plain_blob(login, password)}")


def expect_closed(d, timeout=10):
    """The server closed the (TLS or plain) connection with nothing more sent."""
    d.sock.settimeout(timeout)
    if d.buf:
        raise AssertionError(f"unexpected data before close: {d.buf!r}")
    try:
        chunk = d.sock.recv(65536)
    except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
        chunk = b""
    except socket.timeout:
        raise AssertionError("connection still open")
    if chunk:
        raise AssertionError(f"unexpected data instead of close: {chunk!r}")


def read_to_close(d, timeout=10, limit=65536):
    """Everything a server sends until it closes (bounded)."""
    d.sock.settimeout(timeout)
    data = d.buf
    while len(data) < limit:
        try:
            chunk = d.sock.recv(4096)
        except (ConnectionResetError, ssl.SSLError):
            break
        except socket.timeout:
            raise AssertionError(f"connection still open after {data!r}")
        if not chunk:
            break
        data += chunk
    return data


def smtp_client(port, implicit=False, ctx=None):
    """smtplib, connected (and for implicit TLS, handshaken): the certificate
    is checked for mx.example.test although the address is 127.0.0.1
    (smtplib checks against its _host, the connect() host otherwise)."""
    if implicit:
        s = smtplib.SMTP_SSL(local_hostname="client.example", timeout=20,
                             context=ctx or client_context())
    else:
        s = smtplib.SMTP(local_hostname="client.example", timeout=20)
    s._host = SERVER_NAME
    s.connect("127.0.0.1", port)
    return s


def served_fingerprint(sock):
    return testca.der_fingerprint(sock.getpeercert(binary_form=True))


def run(args, input=b"", timeout=30, env=None):
    p = subprocess.run(args, input=input, capture_output=True, timeout=timeout, env=env)
    return p.returncode, p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")


def s_client(port, *options, input=b"EHLO client.example\r\nQUIT\r\n", starttls=True):
    args = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", str(CA.root),
            "-verify_hostname", SERVER_NAME, "-verify_return_error", "-ign_eof"]
    if starttls:
        args += ["-starttls", "smtp"]
    return run(args + list(options), input=input)


def posttls_finger(workdir, port, *options, match=SERVER_NAME):
    """posttls-finger needs a Postfix config dir (MAIL_CONFIG): a minimal one."""
    conf = workdir / "posttls-finger"
    conf.mkdir(exist_ok=True)
    (conf / "main.cf").write_text("compatibility_level = 3.6\n", encoding="utf-8")
    env = dict(os.environ, MAIL_CONFIG=str(conf))
    return run(["posttls-finger", "-c", "-l", "secure", "-F", str(CA.root), *options,
                f"[127.0.0.1]:{port}", match], env=env)


def swaks(port, *options):
    return run(["swaks", "--server", f"127.0.0.1:{port}", "--ehlo", "client.example",
                "--tls-verify", "--tls-ca-path", str(CA.root), "--tls-sni", SERVER_NAME,
                "--timeout", "20", *options], timeout=60)


def header_fields(msg):
    """{lower-case name: [unfolded values]} of a message's header section."""
    head, _ = ternlib.split_body(msg)
    text = head.decode("utf-8", "replace").replace("\r\n", "\n")
    fields = {}
    for f in re.split(r"\n(?![ \t])", text.strip("\n")):
        name, _, value = f.partition(":")
        fields.setdefault(name.strip().lower(), []).append(ternlib.unfold(value).strip())
    return fields


def received_regex(proto, cipher, bits, protocol, rcpt):
    return (r"^Received: from client\.example \(\[127\.0\.0\.1\]\) "
            rf"\(using {re.escape(proto)} with cipher {re.escape(cipher)} \({bits}/{bits} bits\)\) "
            rf"by mx\.example\.test \(tern\) with {protocol} id [0-9A-Z]{{15}} "
            rf"for <{re.escape(rcpt)}>; ")


# --------------------------------------------------------------------------
# one tern for most cases


class TlsAuth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.smarthost = Scripted()
        try:
            cls.tern = TlsTern(
                auth='[auth]\nmax_failures = 3\nfailure_delay = "0"\n'
                     '[auth.senders]\n"alice@example.test" = ["sales@example.test", "@example.org"]',
                relay=f'[relay]\nnetworks = ["192.0.2.0/24"]\nsmarthost = "127.0.0.1:{cls.smarthost.port}"',
                accounts={LOGIN: PASSWORD, "bob@example.test": BOB_PASSWORD}).start()
        except BaseException:
            cls.smarthost.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.tern.stop()
        cls.smarthost.stop()

    def dialog(self, role="mx", tls=True, ehlo=True):
        if tls:
            d = tls_dialog(self.tern.ports[role], ehlo=ehlo, implicit=(role == "submissions"))
        else:
            d = ternlib.session(self.tern.ports[role], ehlo="client.example" if ehlo else None)
        self.addCleanup(d.close)
        return d

    def smtp(self, role="submission"):
        s = smtp_client(self.tern.ports[role], implicit=(role == "submissions"))
        self.addCleanup(s.close)
        return s

    def last_file(self, user, before):
        files = wait_for(lambda: [f for f in self.tern.maildir(user) if f not in before] or None,
                         f"a new message for {user}")
        self.assertEqual(len(files), 1, files)
        return files[0].read_bytes()

    # -- EHLO and the order of things -------------------------------------
    def test_ehlo_before_and_inside_tls(self):
        for role in ("mx", "submission"):
            d = self.dialog(role, tls=False)
            ehlo = d.cmd("EHLO client.example")
            check(ehlo, 250)
            self.assertIn("STARTTLS", ehlo.lines, (role, ehlo))
            self.assertFalse([l for l in ehlo.lines if l.startswith("AUTH")], (role, ehlo))
            starttls(d)
            ehlo = d.cmd("EHLO client.example")
            check(ehlo, 250)
            self.assertIn("AUTH PLAIN LOGIN", ehlo.lines, (role, ehlo))
            self.assertNotIn("STARTTLS", ehlo.lines, (role, ehlo))
            check(d.cmd("STARTTLS"), 503, "5.5.1", what=f"{role}: STARTTLS inside TLS")
            check(d.cmd("NOOP"), 250)
        d = self.dialog("submissions")
        ehlo = d.cmd("EHLO client.example")
        self.assertIn("AUTH PLAIN LOGIN", ehlo.lines, ehlo)
        self.assertNotIn("STARTTLS", ehlo.lines, ehlo)

    def test_starttls_inside_implicit_tls(self):
        # TERN BUG (reported, issue 15): STARTTLS inside TLS is 503 5.5.1 on
        # the STARTTLS ports, but 502 5.5.1 "Command not implemented" on the
        # submissions port, whose session is in TLS from the first byte
        # (Postfix in wrapper mode: "TLS already active" there too).
        d = self.dialog("submissions")
        check(d.cmd("STARTTLS"), 503, "5.5.1", what="submissions: STARTTLS inside TLS")
        check(d.cmd("NOOP"), 250)

    def test_new_ehlo_needed_after_starttls(self):
        d = self.dialog("mx", tls=False)
        starttls(d)
        check(d.cmd("MAIL FROM:<alice@example.test>"), 503, what="MAIL before the new EHLO")
        check(d.cmd(f"AUTH PLAIN {plain_blob(LOGIN, PASSWORD)}"), 503, "5.5.1", what="AUTH before EHLO")
        check(d.cmd("EHLO client.example"), 250)
        check(d.cmd("MAIL FROM:<x@remote.test>"), 250)

    def test_auth_before_tls_refused(self):
        for role in ("mx", "submission"):
            d = self.dialog(role, tls=False)
            check(auth_plain(d), 538, "5.7.11", what=f"{role}: AUTH PLAIN before TLS")
            check(d.cmd("AUTH LOGIN"), 538, "5.7.11", what=f"{role}: AUTH LOGIN before TLS")
            # The session goes on, in plaintext, unauthenticated.
            check(d.cmd("NOOP"), 250)
        self.assertNotIn(plain_blob(LOGIN, PASSWORD), self.tern.log_text())

    def test_submission_needs_auth(self):
        d = self.dialog("submission", tls=False)
        check(d.cmd("MAIL FROM:<alice@example.test>"), 530, "5.7.0", what="MAIL before TLS")
        starttls(d)
        check(d.cmd("EHLO client.example"), 250)
        check(d.cmd("MAIL FROM:<alice@example.test>"), 530, "5.7.0", what="MAIL before AUTH")
        check(auth_plain(d), 235, "2.7.0")
        check(d.cmd("MAIL FROM:<alice@example.test>"), 250)
        check(d.cmd("RCPT TO:<bob@example.test>"), 250)
        d = self.dialog("submissions")
        check(d.cmd("MAIL FROM:<alice@example.test>"), 530, "5.7.0", what="submissions: MAIL before AUTH")

    # -- AUTH replies -------------------------------------------------------
    def test_auth_replies(self):
        d = self.dialog("submission")
        check(d.cmd("AUTH PLAIN !!!not-base64!!!"), 501, "5.5.2", what="bad base64")
        r = check(d.cmd("AUTH LOGIN"), 334)
        self.assertEqual(base64.b64decode(r.text), b"Username:")
        check(d.cmd("*"), 501, "5.0.0", what="'*' cancels")
        check(d.cmd("AUTH CRAM-MD5"), 504, "5.5.4", what="unknown mechanism")
        check(auth_plain(d, password="wrong"), 535, "5.7.8", what="wrong password")
        check(auth_plain(d, login="nobody@example.test"), 535, "5.7.8", what="unknown login")
        # PLAIN without an initial response: an empty 334, then the blob.
        r = check(d.cmd("AUTH PLAIN"), 334)
        self.assertEqual(r.text, "")
        check(d.cmd(plain_blob(LOGIN, PASSWORD)), 235, "2.7.0")
        check(auth_plain(d), 503, "5.5.1", what="AUTH twice")
        events = self.tern.wait_log_events("auth", 1, login=LOGIN, mechanism="PLAIN")
        self.assertTrue(events)

    def test_foreign_authzid_refused(self):
        # RFC 4616: acting for another user (authzid) is not offered.
        d = self.dialog("submission")
        r = d.cmd(f"AUTH PLAIN {plain_blob(LOGIN, PASSWORD, authzid='bob@example.test')}")
        check(r, 535, "5.7.8", what="authzid of another user")
        check(d.cmd(f"AUTH PLAIN {plain_blob(LOGIN, PASSWORD, authzid=LOGIN)}"), 235, "2.7.0",
              what="authzid = login")

    def test_auth_login_raw(self):
        d = self.dialog("mx")  # AUTH is offered on mx, inside TLS
        r = check(d.cmd("AUTH LOGIN"), 334)
        self.assertEqual(base64.b64decode(r.text), b"Username:")
        r = check(d.cmd(b64(LOGIN)), 334)
        self.assertEqual(base64.b64decode(r.text), b"Password:")
        check(d.cmd(b64(PASSWORD)), 235, "2.7.0")

    def test_max_failures_then_421(self):
        d = self.dialog("submission")
        check(auth_plain(d, password="wrong-1"), 535, "5.7.8")
        check(auth_plain(d, password="wrong-2"), 535, "5.7.8")
        check(auth_plain(d, password="wrong-3"), 535, "5.7.8", what="third failure")
        check(d.read_reply(), 421, "4.7.0", what="after max_failures = 3")
        expect_closed(d)
        # Another session may log in.
        d = self.dialog("submission")
        check(auth_plain(d), 235, "2.7.0")

    # -- real clients -------------------------------------------------------
    def test_smtplib_starttls_login_plain_delivers(self):
        before = self.tern.maildir("bob")
        s = self.smtp("submission")
        s.ehlo()
        self.assertTrue(s.has_extn("starttls"))
        self.assertFalse(s.has_extn("auth"))
        s.starttls(context=client_context())
        proto, cipher = s.sock.version(), s.sock.cipher()
        self.assertEqual(served_fingerprint(s.sock), LEAF1.fingerprint)
        s.ehlo()
        self.assertEqual(s.esmtp_features.get("auth", "").split(), ["PLAIN", "LOGIN"])
        code, text = s.login(LOGIN, PASSWORD)
        self.assertEqual((code, text[:5]), (235, b"2.7.0"))
        # No Date, no Message-ID: the submission server adds them (RFC 6409 8).
        s.sendmail(LOGIN, ["bob@example.test"],
                   b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n"
                   b"Subject: via smtplib\r\n\r\nhello bob\r\n")
        s.quit()
        content = self.last_file("bob", before)
        trace, rest = ternlib.split_trace(content)
        received = ternlib.unfold(trace[2])
        self.assertEqual(proto, "TLSv1.3")
        self.assertRegex(received, received_regex(proto, cipher[0], cipher[2], "ESMTPSA", "bob@example.test"))
        self.assertNotIn("Authenticated", received)  # show_login = false
        self.assertNotIn("alice", received)
        fields = header_fields(rest)
        self.assertEqual(len(fields.get("date", [])), 1, fields)
        self.assertEqual(len(fields.get("message-id", [])), 1, fields)
        self.assertRegex(fields["message-id"][0], r"^<[^<>@\s]+@[^<>@\s]+>$")
        self.assertRegex(fields["date"][0],
                         r"^(\w{3}, )?\d{1,2} \w{3} \d{4} \d\d:\d\d(:\d\d)? [+-]\d{4}")
        self.assertEqual(fields["subject"], ["via smtplib"])
        self.assertTrue(rest.endswith(b"\n\nhello bob\n"), rest)
        # The session log line says the same as the client saw.
        tls = [e for e in self.tern.log_events("tls") if e.get("cipher") == cipher[0]]
        self.assertTrue(tls, self.tern.log_tail())
        self.assertEqual(tls[-1]["protocol"], proto)

    def test_smtplib_login_mechanism_and_headers_kept(self):
        before = self.tern.maildir("bob")
        s = self.smtp("mx")
        s.starttls(context=client_context())
        s.ehlo()
        s.esmtp_features["auth"] = "LOGIN"  # make smtplib use LOGIN
        self.assertEqual(s.login(LOGIN, PASSWORD)[0], 235)
        msg = (b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: has both\r\n"
               b"Date: Tue, 25 Nov 2025 12:00:00 +0000\r\nMessage-ID: <kept.1@example.test>\r\n"
               b"\r\nbody\r\n")
        s.sendmail("alice+lists@example.test", ["bob@example.test"], msg)
        s.quit()
        content = self.last_file("bob", before)
        trace, rest = ternlib.split_trace(content)
        self.assertEqual(trace[0].strip(), "Return-Path: <alice+lists@example.test>")
        self.assertIn("with ESMTPSA", ternlib.unfold(trace[2]))
        self.assertEqual(rest, ternlib.as_stored(msg))  # nothing added
        self.tern.wait_log_events("auth", 1, login=LOGIN, mechanism="LOGIN")

    def test_smtp_ssl_submissions_relays(self):
        before = len(self.smarthost.messages())
        s = self.smtp("submissions")
        self.assertEqual(served_fingerprint(s.sock), LEAF1.fingerprint)
        proto, cipher = s.sock.version(), s.sock.cipher()
        s.ehlo()
        self.assertFalse(s.has_extn("starttls"))
        s.login(LOGIN, PASSWORD)
        s.sendmail(LOGIN, ["carol@remote.test"], b"Subject: implicit\r\n\r\nover 465\r\n")
        s.quit()
        wait_for(lambda: len(self.smarthost.messages()) > before, "the message at the smarthost")
        msg = self.smarthost.messages()[-1]
        env = self.smarthost.envelopes()[-1]
        self.assertEqual(env["rcpt"], ["carol@remote.test"])
        self.assertEqual(env["from"], [LOGIN])
        _, content = msg.split(b"\n\n", 1)
        received = ternlib.unfold(header_fields(content)["received"][0])
        self.assertRegex("Received: " + received,
                         received_regex(proto, cipher[0], cipher[2], "ESMTPSA", "carol@remote.test"))

    def test_swaks_starttls_auth_plain_and_login(self):
        for mech in ("PLAIN", "LOGIN"):
            before = self.tern.maildir("bob")
            rc, out = swaks(self.tern.ports["submission"], "--tls", "--auth", mech,
                            "--auth-user", LOGIN, "--auth-password", PASSWORD,
                            "--from", LOGIN, "--to", "bob@example.test",
                            "--header", f"Subject: swaks {mech}")
            self.assertEqual(rc, 0, out)
            self.assertRegex(out, r"=== TLS started with cipher TLSv1\.[23]:")
            self.assertIn(f"~> AUTH {mech}", out)
            self.assertIn("<~  235 2.7.0", out)
            self.assertRegex(out, r"<~  250 2\.0\.0 .*queued as")
            content = self.last_file("bob", before)
            self.assertIn(b"with ESMTPSA", content)
            self.assertIn(f"Subject: swaks {mech}".encode(), content)

    def test_swaks_tls_on_connect(self):
        rc, out = swaks(self.tern.ports["submissions"], "--tls-on-connect", "--auth", "PLAIN",
                        "--auth-user", LOGIN, "--auth-password", PASSWORD,
                        "--from", LOGIN, "--to", "dave@remote.test")
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"=== TLS started with cipher TLSv1\.3:")
        self.assertIn("<~  235 2.7.0", out)
        self.assertRegex(out, r"<~  250 2\.0\.0 .*queued as")
        wait_for(lambda: any(e["rcpt"] == ["dave@remote.test"] for e in self.smarthost.envelopes()),
                 "dave's message at the smarthost")

    def test_swaks_wrong_password(self):
        rc, out = swaks(self.tern.ports["submission"], "--tls", "--auth", "PLAIN",
                        "--auth-user", LOGIN, "--auth-password", "not-" + PASSWORD,
                        "--from", LOGIN, "--to", "bob@example.test")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("<~* 535 5.7.8", out)

    # -- openssl s_client ---------------------------------------------------
    def test_openssl_protocols(self):
        port = self.tern.ports["mx"]
        for version, option in (("TLSv1.3", "-tls1_3"), ("TLSv1.2", "-tls1_2")):
            rc, out = s_client(port, option)
            self.assertEqual(rc, 0, out)
            self.assertIn(f"Protocol  : {version}", out)
            m = re.search(r"^New, (TLSv1\.[23]), Cipher is (\S+)", out, re.M)
            self.assertTrue(m, out)
            self.assertEqual(m.group(1), version, out)
            if version == "TLSv1.3":
                self.assertIn(m.group(2), ("TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
                                           "TLS_AES_128_GCM_SHA256"), out)
            else:
                self.assertRegex(m.group(2), r"^ECDHE-ECDSA-.*(GCM|CHACHA20-POLY1305)", out)
            self.assertIn("Verify return code: 0 (ok)", out)
            self.assertIn("250 AUTH PLAIN LOGIN", out)
            self.assertIn("221 2.0.0", out)
        before = len(self.tern.log_events("tls_failed"))
        # The client allows the old versions (security level 0): the server refuses.
        for option in ("-tls1_1", "-tls1"):
            rc, out = s_client(port, option, "-cipher", "DEFAULT@SECLEVEL=0")
            self.assertNotEqual(rc, 0, out)
            self.assertRegex(out, r"alert protocol version|unsupported protocol|wrong version", out)
            self.assertNotIn("250 AUTH", out)
        failed = self.tern.wait_log_events("tls_failed", before + 2)
        self.assertTrue(all("protocol" in e.get("detail", "") for e in failed[before:]), failed)
        # TLS 1.2 with only CBC ciphers: refused (AEAD only).
        rc, out = s_client(port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA")
        self.assertNotEqual(rc, 0, out)
        self.assertNotIn("250 AUTH", out)

    def test_openssl_chain_served(self):
        for port, starttls_ in ((self.tern.ports["mx"], True), (self.tern.ports["submissions"], False)):
            rc, out = s_client(port, "-showcerts", starttls=starttls_)
            self.assertEqual(rc, 0, out)
            chain = re.findall(r"^ *(\d+) s:(.*)$", out, re.M)
            self.assertEqual([c[0] for c in chain], ["0", "1"], out)
            self.assertIn("CN = mx.example.test", chain[0][1])
            self.assertIn("Intermediate CA", chain[1][1])
            self.assertEqual(out.count("-----BEGIN CERTIFICATE-----"), 2, out)
            self.assertIn("Verified peername: mx.example.test", out)

    def test_openssl_resumption(self):
        d = ternlib.make_tempdir("tern-sess-")
        for option in ("-tls1_3", "-tls1_2"):
            sess = d / f"session{option}.pem"
            before = len(self.tern.log_events("tls"))
            rc, out = s_client(self.tern.ports["mx"], option, "-sess_out", str(sess))
            self.assertEqual(rc, 0, out)
            self.assertRegex(out, r"(?m)^New, TLSv1\.[23]")
            self.assertTrue(sess.exists() and sess.stat().st_size > 0, out)
            rc, out = s_client(self.tern.ports["mx"], option, "-sess_in", str(sess))
            self.assertEqual(rc, 0, out)
            self.assertRegex(out, r"(?m)^Reused, TLSv1\.[23]", f"{option}: {out}")
            self.assertIn("221 2.0.0", out)
            events = self.tern.wait_log_events("tls", before + 2)[before:]
            self.assertEqual([e["resumed"] for e in events], ["no", "yes"], events)

    # -- posttls-finger -----------------------------------------------------
    def test_posttls_finger_verified(self):
        rc, out = posttls_finger(self.tern.dir, self.tern.ports["mx"])
        self.assertEqual(rc, 0, out)
        self.assertIn("matched peername: mx.example.test", out)
        self.assertIn("issuer_CN=Tern Test Intermediate CA", out)
        self.assertIn(f"fingerprint={LEAF1.fingerprint}", out)
        self.assertRegex(out, r"Verified TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: "
                              r"TLSv1\.3 with cipher \S+ \(256/256 bits\)")
        rc, out = posttls_finger(self.tern.dir, self.tern.ports["submissions"], "-w")
        self.assertEqual(rc, 0, out)
        self.assertIn("Verified TLS connection established", out)
        # The check has teeth: another name is not verified.
        rc, out = posttls_finger(self.tern.dir, self.tern.ports["mx"], match="other.example.test")
        self.assertNotIn("Verified TLS", out)
        self.assertIn("Untrusted TLS connection", out)

    # -- relay and senders --------------------------------------------------
    def test_relay_denied_without_auth(self):
        for tls in (False, True):
            d = self.dialog("mx", tls=tls)
            check(d.cmd("MAIL FROM:<someone@remote.test>"), 250)
            check(d.cmd("RCPT TO:<carol@remote.test>"), 554, "5.7.1", what=f"relay, tls={tls}")
            check(d.cmd("RCPT TO:<bob@example.test>"), 250, what="local recipient on mx")
            check(d.cmd("RSET"), 250)
        d = self.dialog("mx")
        check(auth_plain(d), 235)
        check(d.cmd(f"MAIL FROM:<{LOGIN}>"), 250)
        check(d.cmd("RCPT TO:<erin@remote.test>"), 250, what="relay after AUTH on mx")
        reply = ternlib.send_data(d, "Subject: relayed from mx\r\n\r\nhi\r\n")
        check(reply, 250, "2.0.0")
        wait_for(lambda: any(e["rcpt"] == ["erin@remote.test"] for e in self.smarthost.envelopes()),
                 "erin's message at the smarthost")

    def test_received_without_auth_says_esmtps(self):
        before = self.tern.maildir("alice")
        d = self.dialog("mx")
        proto, cipher = d.sock.version(), d.sock.cipher()
        reply = ternlib.transaction(d, "someone@remote.test", ["alice@example.test"],
                                    "Subject: tls, no auth\r\n\r\nhi\r\n")
        check(reply, 250)
        content = self.last_file("alice", before)
        trace, rest = ternlib.split_trace(content)
        self.assertRegex(ternlib.unfold(trace[2]),
                         received_regex(proto, cipher[0], cipher[2], "ESMTPS", "alice@example.test"))
        # Not a submission: nothing added.
        self.assertNotIn("message-id", header_fields(rest))

    def test_envelope_sender_must_be_the_login(self):
        d = self.dialog("submission")
        check(auth_plain(d), 235)
        allowed = [LOGIN, "alice+tag@example.test", "", "sales@example.test", "anyone@example.org"]
        refused = ["bob@example.test", "alice@example.org.evil.test", "x@sub.example.org",
                   "mallory@remote.test", "sales@example.test.evil"]
        for sender in refused:
            check(d.cmd(f"MAIL FROM:<{sender}>"), 553, "5.7.1", what=f"MAIL FROM:<{sender}>")
        for sender in allowed:
            check(d.cmd(f"MAIL FROM:<{sender}>"), 250, what=f"MAIL FROM:<{sender}>")
            check(d.cmd("RSET"), 250)
        # bob has no extras.
        d = self.dialog("submissions")
        check(auth_plain(d, "bob@example.test", BOB_PASSWORD), 235)
        check(d.cmd("MAIL FROM:<sales@example.test>"), 553, "5.7.1", what="bob as sales@")
        check(d.cmd("MAIL FROM:<bob+x@example.test>"), 250)

    # -- STARTTLS injection -------------------------------------------------
    def test_starttls_injection_discarded(self):
        before = len(self.tern.log_events("starttls_injection"))
        d = self.dialog("mx", tls=False)
        d.send(b"STARTTLS\r\nRSET\r\n")  # one write
        check(d.read_reply(), 220, "2.0.0")
        self.assertEqual(d.buf, b"", "nothing but the 220 before the handshake")
        d.sock = client_context().wrap_socket(d.sock, server_hostname=SERVER_NAME)
        d.line("EHLO client.example")
        first = d.read_reply()
        check(first, 250, what="first reply inside TLS")
        self.assertEqual(first.lines[0], SERVER_NAME, f"not the EHLO reply: {first}")
        self.assertIn("AUTH PLAIN LOGIN", first.lines)
        self.assertEqual(d.pending(0.5), b"", "a reply to the injected RSET")
        check(d.cmd("NOOP"), 250)
        events = self.tern.wait_log_events("starttls_injection", before + 1)
        self.assertEqual(events[-1]["discarded_octets"], "6", events[-1])

        # An injected MAIL is not executed either: MAIL inside TLS is the first.
        d = self.dialog("mx", tls=False)
        d.send(b"STARTTLS\r\nMAIL FROM:<injected@remote.test>\r\n")
        check(d.read_reply(), 220)
        d.sock = client_context().wrap_socket(d.sock, server_hostname=SERVER_NAME)
        check(d.cmd("EHLO client.example"), 250)
        check(d.cmd("MAIL FROM:<real@remote.test>"), 250, what="MAIL (the injected one was dropped)")
        self.tern.wait_log_events("starttls_injection", before + 2)

    # -- failed handshakes --------------------------------------------------
    def test_failed_handshake_other_sessions_carry_on(self):
        open_session = self.dialog("submission")
        check(auth_plain(open_session), 235)
        before = len(self.tern.log_events("tls_failed"))
        # Plaintext SMTP to the implicit-TLS port.
        with Dialog(self.tern.ports["submissions"], read_greeting=False) as d:
            d.send(b"EHLO client.example\r\n")
            d.sock.settimeout(10)
            try:
                data = d.sock.recv(4096)
                while data and b"220" not in data:
                    data = d.sock.recv(4096)
            except OSError:
                data = b""
            self.assertNotIn(b"220", data)
        # Garbage after STARTTLS: at most a TLS alert record, then the close.
        d = self.dialog("mx", tls=False)
        check(d.cmd("STARTTLS"), 220)
        d.send(b"\x16\x03\x01\x00\x05hello, not a handshake\r\n")
        self.assertRegex(read_to_close(d), rb"(?s)^(\x15\x03[\x01-\x04]\x00\x02..)?$")
        self.tern.wait_log_events("tls_failed", before + 2)
        check(open_session.cmd(f"MAIL FROM:<{LOGIN}>"), 250, what="the open session")
        check(open_session.cmd("RCPT TO:<bob@example.test>"), 250)
        check(ternlib.send_data(open_session, "Subject: after\r\n\r\nstill here\r\n"), 250)
        check(self.dialog("submissions").cmd("NOOP"), 250, what="a new session")

    # -- last: nothing kept the password ------------------------------------
    def test_zz_password_nowhere(self):
        self.tern.wait_queue_empty()
        secrets = [PASSWORD, BOB_PASSWORD, b64(PASSWORD), plain_blob(LOGIN, PASSWORD),
                   plain_blob(LOGIN, PASSWORD)[:-4]]
        found = []
        for root, _dirs, files in os.walk(self.tern.dir):
            for name in files:
                path = os.path.join(root, name)
                try:
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                for s in secrets:
                    if s.encode() in data:
                        found.append((path, s))
        self.assertEqual(found, [])
        users = (self.tern.data_dir / "users").read_text()
        self.assertRegex(users, r"(?m)^alice@example\.test:\$y\$")


class FailureDelay(unittest.TestCase):
    def test_delay_doubles_per_failure_from_one_address(self):
        t = TlsTern(auth='[auth]\nmax_failures = 2\nfailure_delay = "1s"').start()
        self.addCleanup(t.stop)
        d = tls_dialog(t.ports["submission"])
        self.addCleanup(d.close)
        times = []
        for i in range(2):
            start = time.monotonic()
            check(auth_plain(d, password=f"wrong-{i}"), 535, "5.7.8")
            times.append(time.monotonic() - start)
        check(d.read_reply(), 421, "4.7.0")
        expect_closed(d)
        self.assertGreaterEqual(times[0], 0.9, times)
        self.assertGreaterEqual(times[1], 1.9, times)  # doubled
        # A correct password is not delayed.
        d = tls_dialog(t.ports["submissions"], implicit=True)
        self.addCleanup(d.close)
        start = time.monotonic()
        check(auth_plain(d), 235, "2.7.0")
        self.assertLess(time.monotonic() - start, 0.9)
        events = t.log_events("auth_failed")
        self.assertEqual([e["failures"] for e in events], ["1", "2"], events)


class ShowLogin(unittest.TestCase):
    def test_received_names_login(self):
        t = TlsTern(auth='[auth]\nshow_login = true').start()
        self.addCleanup(t.stop)
        s = smtp_client(t.ports["submissions"], implicit=True)
        self.addCleanup(s.close)
        s.login(LOGIN, PASSWORD)
        s.sendmail(LOGIN, ["bob@example.test"], b"Subject: shown\r\n\r\nhi\r\n")
        s.quit()
        files = t.wait_maildir_count("bob", 1)
        trace, _ = ternlib.split_trace(files[0].read_bytes())
        received = ternlib.unfold(trace[2])
        self.assertIn("(Authenticated sender: alice@example.test)", received)
        self.assertIn("with ESMTPSA", received)
        self.assertNotIn(PASSWORD, received)


class Reload(unittest.TestCase):
    def test_sighup_changes_certificate(self):
        work = ternlib.make_tempdir("tern-tls-files-")
        cert, key = work / "cert.pem", work / "key.pem"

        def install(cert_bytes, key_bytes):
            for path, data in ((cert, cert_bytes), (key, key_bytes)):
                tmp = path.with_suffix(".new")
                tmp.write_bytes(data)
                os.chmod(tmp, 0o600)
                os.replace(tmp, path)

        def served(role="mx"):
            d = tls_dialog(t.ports[role], ehlo=False, implicit=(role == "submissions"))
            try:
                return served_fingerprint(d.sock)
            finally:
                d.close()

        install(LEAF1.chain.read_bytes(), LEAF1.key.read_bytes())
        t = TlsTern(cert=cert, key=key).start()
        self.addCleanup(t.stop)
        self.assertEqual(served(), LEAF1.fingerprint)

        # A session opened before the change, inside TLS with certificate 1.
        s = smtp_client(t.ports["submission"])
        self.addCleanup(s.close)
        s.starttls(context=client_context())
        self.assertEqual(served_fingerprint(s.sock), LEAF1.fingerprint)

        install(LEAF2.chain.read_bytes(), LEAF2.key.read_bytes())
        t.proc.send_signal(1)  # SIGHUP
        t.wait_log_events("tls_reloaded", 1)
        for role in ROLES:
            self.assertEqual(served(role), LEAF2.fingerprint, role)
        rc, out = posttls_finger(t.dir, t.ports["mx"])
        self.assertIn(f"fingerprint={LEAF2.fingerprint}", out)
        self.assertIn("Verified TLS connection", out)

        # The old session carries on: login and a message.
        s.ehlo()
        s.login(LOGIN, PASSWORD)
        s.sendmail(LOGIN, ["bob@example.test"], b"Subject: across the reload\r\n\r\nhi\r\n")
        s.quit()
        t.wait_maildir_count("bob", 1)

        # A broken certificate file: refused, certificate 2 stays.
        install(b"-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n",
                LEAF2.key.read_bytes())
        t.proc.send_signal(1)
        t.wait_log_events("tls_reload_failed", 1)
        self.assertTrue(t.running())
        self.assertEqual(served(), LEAF2.fingerprint)
        # A certificate with a key that does not match it: refused too.
        install(LEAF1.chain.read_bytes(), LEAF2.key.read_bytes())
        t.proc.send_signal(1)
        failed = t.wait_log_events("tls_reload_failed", 2)
        self.assertIn("match", failed[1].get("detail", ""), failed[1])
        self.assertEqual(served("submissions"), LEAF2.fingerprint)
        self.assertEqual(len(t.log_events("tls_reloaded")), 1)
        rc, out = s_client(t.ports["submission"])
        self.assertEqual(rc, 0, out)


ERR_RE = re.compile(r"tern: config (.+?):(?:(\d+):(\d+):)? (.+)")


class CheckConfig(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = ternlib.make_tempdir()
        cls.not_pem = cls.dir / "not-pem.txt"
        cls.not_pem.write_text("this is not PEM\n")
        cls.key_only = cls.dir / "key-only.pem"
        shutil.copy(LEAF1.key, cls.key_only)

    def check_config(self, name, cert, key):
        port = ternlib.free_port()
        text = ('hostname = "mx.example.test"\n'
                f'data_dir = "{self.dir / "data"}"\n'
                f'[[listener]]\naddress = "127.0.0.1:{port}"\nrole = "submission"\n'
                f'[tls]\ncertificate = "{cert}"\nkey = "{key}"\n')
        path = self.dir / name
        path.write_text(text, encoding="utf-8")
        p = subprocess.run([ternlib.tern_bin(), "check-config", "--config", str(path)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30, cwd=str(self.dir))
        return p, path

    def test_good_config_passes(self):
        p, _ = self.check_config("good.toml", LEAF1.chain, LEAF1.key)
        self.assertEqual(p.returncode, 0, p.stderr.decode("utf-8", "replace"))
        self.assertEqual(p.stdout.decode().strip(), "config ok")

    def test_bad_files_named(self):
        cases = [
            ("missing-cert", self.dir / "no-such-cert.pem", LEAF1.key, "tls.certificate"),
            ("missing-key", LEAF1.chain, self.dir / "no-such-key.pem", "tls.key"),
            ("dir-cert", self.dir, LEAF1.key, "tls.certificate"),  # unreadable as a file
            ("dir-key", LEAF1.chain, self.dir, "tls.key"),
            ("text-cert", self.not_pem, LEAF1.key, "tls.certificate"),
            ("text-key", LEAF1.chain, self.not_pem, "tls.key"),
            ("key-as-cert", self.key_only, LEAF1.key, "tls.certificate"),
            ("mismatch", LEAF1.chain, LEAF2.key, "tls.key"),
        ]
        if os.geteuid() != 0:  # root reads a mode-000 file anyway
            unreadable = self.dir / "unreadable.pem"
            shutil.copy(LEAF1.chain, unreadable)
            os.chmod(unreadable, 0)
            cases.append(("unreadable-cert", unreadable, LEAF1.key, "tls.certificate"))
        problems = []
        for name, cert, key, named in cases:
            p, path = self.check_config(f"{name}.toml", cert, key)
            err = p.stderr.decode("utf-8", "replace")
            if p.returncode != 1 or f"'{named}'" not in err:
                problems.append(f"{name}: check-config exit {p.returncode}, stdout "
                                f"{p.stdout.decode().strip()!r}, stderr {err.strip()!r} "
                                f"(expected exit 1 naming '{named}')")
        self.assertEqual(problems, [], "\n".join(problems))

    def test_serve_refuses_to_start(self):
        for name, cert, key, named in (
                ("serve-mismatch", LEAF1.chain, LEAF2.key, "tls.key"),
                ("serve-missing", self.dir / "no-such-cert.pem", LEAF1.key, "tls.certificate"),
                ("serve-text", self.not_pem, LEAF1.key, "tls.certificate")):
            _, path = self.check_config(f"{name}.toml", cert, key)
            p = subprocess.run([ternlib.tern_bin(), "serve", "--config", str(path)],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                               cwd=str(self.dir), preexec_fn=ternlib._die_with_parent)
            err = p.stderr.decode("utf-8", "replace")
            self.assertNotEqual(p.returncode, 0, err)
            self.assertIn(f"'{named}'", err, name)

    def test_certificate_without_key(self):
        path = self.dir / "cert-only.toml"
        path.write_text('hostname = "mx.example.test"\n'
                        f'data_dir = "{self.dir / "data"}"\n'
                        f'[tls]\ncertificate = "{LEAF1.chain}"\n', encoding="utf-8")
        p = subprocess.run([ternlib.tern_bin(), "check-config", "--config", str(path)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        err = p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 1, err)
        self.assertIn("'tls.certificate' needs 'tls.key'", err)


if __name__ == "__main__":
    ternlib.run_tests()
