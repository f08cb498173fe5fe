#!/usr/bin/python3
"""t-37-dkim_signing: outbound DKIM signing and `tern dkim keygen`, checked
by real verifiers.

The verifiers: dkimpy (Debian's python3-dkim: dkim.DKIM(msg).verify(idx=i,
dnsfunc=...), every signature of a message by its index), Mail::DKIM::Verifier
(libmail-dkim-perl, mail_dkim_verify.pl beside this file), and for Ed25519,
which this Mail::DKIM (1.20230212) does not implement, a small RFC 6376 /
RFC 8463 relaxed/relaxed verifier written here on python3-nacl. DNS is never
asked: the TXT records are served from the keys by the test (dkimpy's
dnsfunc; a replaced Mail::DKIM::DNS::query). The public keys are taken from
the key files with `openssl pkey -pubout`, not from tern's output.

Through the real binary, on 127.0.0.1:
- keygen: `tern dkim keygen` writes an RSA (2048 bits, or --bits) and an
  Ed25519 key, mode 0600, to ./DOMAIN.SELECTOR.pem or --out; a second run on
  the same file exits 1 and leaves the key alone; the printed TXT record is
  named SELECTOR._domainkey.DOMAIN., its quoted strings are at most 250
  characters, and its p= is the key's public key (the DER SubjectPublicKeyInfo
  for RSA, the raw 32 octets for Ed25519, RFC 8463); a tern configured with
  the printed config lines signs, and dkimpy verifies with the printed record
  as the DNS answer (each domain with its own key: an RSA one for
  example.test, an Ed25519 one for example.org). A tern bug, as an expected
  failure: without --out the printed `key = "..."` is relative to where
  keygen ran, and tern resolves it against its own working directory;
- the corpus (shared/conformance/mime/crlf/, 32 messages): each is sent with
  smtplib from 127.0.0.1 (inside the default relay networks) with its From
  replaced by (or, when it has none, given) "From: Alice <alice@example.test>",
  to a local user and to a remote one (the smarthost, tests/lib/scripted_smtp.py).
  tern has an RSA-2048 and an Ed25519 selector for example.test side by side
  ([[dkim."example.test"]] twice): both copies of each message (the Maildir
  file, CRLF restored, and what the peer received over SMTP) carry exactly two
  DKIM-Signature fields in front (rsa-sha256 then ed25519-sha256,
  relaxed/relaxed, d=example.test, t= now) and dkimpy verifies both; behind
  the trace fields the copy is the message as sent. Two messages are refused
  by tern's input policy before any signing (554 5.6.0, recorded and listed):
  syn-line-too-long.eml (a 1500-octet line) and syn-bare-cr.eml (a bare CR);
- Mail::DKIM::Verifier passes the RSA signature of several corpus messages,
  and the test's nacl verifier the Ed25519 one; both reject a changed body;
- a signed message at the remote peer verifies; a copy with a changed body,
  a changed Subject or an added second From or Subject fails; h= lists From,
  To, Subject and Date once more than present (over-signing), and that is
  what catches the added From in Mail::DKIM (which, unlike dkimpy, has no rule
  of its own about a second From: a dkimpy signature without over-signing
  still passes there with the added From);
- not signed: a From domain without keys (example.org, and badexample.test
  which only ends like example.test), a message without From; signed with
  d=example.test: a From of the subdomain news.example.test;
- not signed: a client outside [relay] networks (networks = ["192.0.2.0/24"])
  sending to a local user, on the mx port without AUTH;
- signed: authenticated submission (STARTTLS + AUTH PLAIN, smtplib) from the
  same address, to a local user and to the remote peer: the Date and
  Message-ID that the submission server adds are in place before signing
  (signed, and over-signed Date) and both signatures verify;
- event=dkim_signed session=... domain=<the From domain> for each signed
  message (news.example.test for the subdomain, signed d=example.test), and
  none for the sessions of unsigned ones;
- a missing key file, or a file that is not a key: `tern serve` exits
  non-zero and `tern check-config` fails, each naming dkim.example.test; the
  same config with the key written by keygen starts. A tern bug, as an
  expected failure: the refusal names neither the key file nor the reason.
"""
import base64
import hashlib
import os
import re
import shutil
import smtplib
import ssl
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
import testca  # noqa: E402
import tlstern  # noqa: E402
from scripted import Scripted  # noqa: E402
from ternlib import Tern  # noqa: E402
from signing_peers import *  # noqa: E402,F401,F403 (the helpers and keys)
import signing_peers  # noqa: E402


def setUpModule():
    # The keys are made once per run, in signing_peers; this module's name
    # KEYS is bound to them here.
    global KEYS
    signing_peers.setUpModule()
    KEYS = signing_peers.KEYS


# --------------------------------------------------------------------------
# sending


def deliver(port, sender, rcpts, msg, options=(), client=None):
    """One transaction with smtplib; returns the DATA reply (code, text).
    MAIL and RCPT must succeed."""
    s = client or smtplib.SMTP("127.0.0.1", port, local_hostname="client.example", timeout=20)
    try:
        s.ehlo_or_helo_if_needed()
        code, text = s.mail(sender, list(options))
        if code != 250:
            raise AssertionError(f"MAIL: {code} {text!r}")
        for r in rcpts:
            code, text = s.rcpt(r)
            if code != 250:
                raise AssertionError(f"RCPT {r}: {code} {text!r}")
        try:
            code, text = s.data(msg)
        except smtplib.SMTPDataError as e:
            code, text = e.smtp_code, e.smtp_error
        s.quit()
        return code, text.decode("utf-8", "replace")
    finally:
        s.close()


def queue_id_of(text):
    m = ternlib.QUEUE_ID_RE.search(text)
    if not m:
        raise AssertionError(f"no queue id in {text!r}")
    return m.group(1)


def session_of(tern, queue_id):
    """The session id that queued queue_id (waits for the log line)."""
    return tern.wait_log_events("queued", 1, queue_id=queue_id)[0]["session"]


def trace_names(prefix):
    """Names of the header fields in a CRLF prefix (the fields tern added)."""
    return [n for n, _ in fields_of(prefix)]


class Verifying(unittest.TestCase):
    """Assertions shared by the test classes."""

    def assert_both_signed(self, msg, what):
        sigs = signatures(msg)
        self.assertEqual([(s.get("a"), s.get("s")) for s in sigs],
                         [("rsa-sha256", RSA_SELECTOR), ("ed25519-sha256", ED_SELECTOR)],
                         f"{what}: DKIM-Signature fields {sigs}")
        for s in sigs:
            self.assertEqual((s.get("d"), s.get("c"), s.get("v")), (DOMAIN, "relaxed/relaxed", "1"), what)
            self.assertLess(abs(int(s["t"]) - time.time()), 300, f"{what}: t={s['t']}")
        self.assertEqual(dkimpy_results(msg), [True, True], f"{what}: dkimpy")

    def assert_not_signed(self, tern, msg, reply_text, what):
        self.assertEqual(signatures(msg), [], f"{what}: signed: {msg[:600]!r}")
        self.assertNotIn(b"dkim-signature", msg.lower(), what)
        session = session_of(tern, queue_id_of(reply_text))
        self.assertEqual([e for e in tern.log_events("dkim_signed") if e.get("session") == session], [],
                         f"{what}: event=dkim_signed for session {session}")

    def wait_file(self, tern, user, before=(), domain=DOMAIN):
        files = ternlib.wait_for(lambda: [f for f in tern.maildir(user, domain) if f not in before] or None,
                                 30, 0.05, f"a new message for {user}")
        self.assertEqual(len(files), 1, files)
        return files[0]


# --------------------------------------------------------------------------
# 1. tern dkim keygen


class Keygen(Verifying):
    def test_keygen_files_records_and_refusal(self):
        work = ternlib.make_tempdir("tern-keygen-")
        # RSA: the default type and file name (./DOMAIN.SELECTOR.pem).
        rc, out, err = keygen("Example.Test", "s2026", cwd=work)
        self.assertEqual(rc, 0, err)
        rsa = work / "example.test.s2026.pem"
        self.assertEqual(stat.S_IMODE(rsa.stat().st_mode), 0o600)
        text = testca.openssl("pkey", "-in", str(rsa), "-noout", "-text").decode()
        self.assertIn("Private-Key: (2048 bit", text)
        self.check_record(out, "s2026", "example.test", rsa, "rsa")
        # Ed25519 with --out.
        ed = work / "keys-ed.pem"
        rc, out_ed, err = keygen("example.test", "ed1", "--type", "ed25519", "--out", str(ed), cwd=work)
        self.assertEqual(rc, 0, err)
        self.assertEqual(stat.S_IMODE(ed.stat().st_mode), 0o600)
        self.assertIn("ED25519 Private-Key", testca.openssl("pkey", "-in", str(ed), "-noout", "-text").decode())
        self.check_record(out_ed, "ed1", "example.test", ed, "ed25519")
        # --bits.
        big = work / "big.pem"
        rc, _, err = keygen("example.test", "big", "--bits", "3072", "--out", str(big), cwd=work)
        self.assertEqual(rc, 0, err)
        self.assertIn("Private-Key: (3072 bit",
                      testca.openssl("pkey", "-in", str(big), "-noout", "-text").decode())
        # Never overwritten: exit 1, the key as it was, nothing printed on stdout.
        for path, args in ((rsa, ("example.test", "s2026")),
                           (ed, ("example.test", "ed1", "--type", "ed25519", "--out", str(ed)))):
            before = path.read_bytes()
            rc, out2, err2 = keygen(*args, cwd=work)
            self.assertEqual(rc, 1, (path, out2, err2))
            self.assertIn(str(path.name), err2)
            self.assertIn("never overwritten", err2)
            self.assertNotIn("TXT", out2)
            self.assertEqual(path.read_bytes(), before, path)
            self.assertEqual(stat.S_IMODE(path.stat().st_mode), 0o600)

    def check_record(self, out, selector, domain, key_path, kind):
        m = re.search(r"^(\S+) IN TXT \( (.*?) \)$", out, re.M | re.S)
        self.assertTrue(m, out)
        self.assertEqual(m.group(1), f"{selector}._domainkey.{domain}.")
        strings = re.findall(r'"([^"]*)"', m.group(2))
        self.assertTrue(strings, out)
        self.assertTrue(all(len(s) <= 250 for s in strings), [len(s) for s in strings])
        record = "".join(strings)
        self.assertEqual(record, record_from_key(key_path), f"printed record vs openssl pkey -pubout\n{out}")
        self.assertTrue(record.startswith(f"v=DKIM1; k={kind}; p="), record)
        self.assertIn(f'[dkim."{domain}"]\nselector = "{selector}"\n', out)
        return record

    # Without --out, keygen writes the key here and prints its absolute
    # path: the pasted lines work wherever tern runs.
    def test_printed_default_path_works_from_elsewhere(self):
        work = ternlib.make_tempdir("tern-keygen-")
        rc, out, err = keygen("example.test", "s2026", cwd=work)
        self.assertEqual(rc, 0, err)
        t = Tern(users=["alice"], workdir=work / "tern")
        t.dir.mkdir()
        t.extra_toml = "[dkim]\nverify = false\n" + re.search(r"^\[dkim\..*", out, re.M | re.S).group(0)
        t.pick_ports()
        t.write_config()
        p = subprocess.run([ternlib.tern_bin(), "check-config", "--config", str(t.config_path)],
                           cwd="/", capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, (p.stdout + p.stderr).decode("utf-8", "replace"))

    def test_printed_record_and_config_sign(self):
        """The printed config lines, used as they are, sign; dkimpy verifies
        with the printed records as the only DNS data."""
        t = Tern(users=["alice"], extra_toml="")
        rc, out_rsa, err = keygen("example.test", "printed", cwd=t.dir)  # relative key path
        self.assertEqual(rc, 0, err)
        rc, out_ed, err = keygen("example.org", "printed", "--type", "ed25519",
                                 "--out", str(t.dir / "org.pem"), cwd=t.dir)
        self.assertEqual(rc, 0, err)
        records = {}
        config = ["[dkim]", "verify = false"]
        for out in (out_rsa, out_ed):
            m = re.search(r"^(\S+) IN TXT \( (.*?) \)$", out, re.M | re.S)
            records[m.group(1)] = "".join(re.findall(r'"([^"]*)"', m.group(2)))
            config.append(re.search(r"^\[dkim\..*", out, re.M | re.S).group(0).strip())
        dns = Dns(records)
        t.extra_toml = "\n".join(config)
        with t:
            for sender, algorithm in (("alice@example.test", "rsa-sha256"), ("bob@example.org", "ed25519-sha256")):
                before = t.maildir("alice")
                msg = (f"From: <{sender}>\r\nTo: alice@example.test\r\nSubject: printed key\r\n"
                       "Date: Mon, 07 Dec 2026 09:00:00 +0000\r\n\r\nsigned with the printed key\r\n").encode()
                code, text = deliver(t.port, sender, ["alice@example.test"], msg)
                self.assertEqual(code, 250, text)
                got = crlf(self.wait_file(t, "alice", before).read_bytes())
                sigs = signatures(got)
                self.assertEqual([(s["a"], s["d"], s["s"]) for s in sigs],
                                 [(algorithm, sender.split("@")[1], "printed")], sender)
                self.assertEqual(dkimpy_results(got, dns), [True], f"{sender}: dkimpy with the printed record")
                # The record matters: another key's record does not verify it.
                other = Dns({k: KEYS.dns.records[f"{RSA_SELECTOR}._domainkey.{DOMAIN}"]
                             if "k=rsa" in v else KEYS.dns.records[f"{ED_SELECTOR}._domainkey.{DOMAIN}"]
                             for k, v in records.items()})
                self.assertEqual(dkimpy_results(got, other), [False], f"{sender}: wrong key")


# --------------------------------------------------------------------------
# 2-4. signing from the relay networks: the corpus, the peer, what is not signed


class RelayNetworkSigning(Verifying):
    @classmethod
    def setUpClass(cls):
        cls.peer = Scripted()
        try:
            cls.tern = Tern(users=[], accept_any_user=True,
                            extra_toml=KEYS.toml() + f'[relay]\nsmarthost = "127.0.0.1:{cls.peer.port}"\n'
                                                     '[queue]\nretry_interval = "1s"\n').start()
        except BaseException:
            cls.peer.stop()
            raise
        cls.work = ternlib.make_tempdir("tern-dkim-work-")

    @classmethod
    def tearDownClass(cls):
        cls.tern.stop()
        cls.peer.stop()

    def peer_copy(self, rcpt):
        """The content the peer received for rcpt (waits for it)."""
        def find():
            for m in self.peer.messages():
                env, _, content = m.partition(b"\n\n")
                if f"rcpt {rcpt}".encode() in env.split(b"\n"):
                    return content
            return None
        return ternlib.wait_for(find, 30, 0.05, f"the peer's copy for {rcpt}")

    # -- local mail: `tern sendmail` (a web application's) is signed too ------
    def test_sendmail_pickup_is_signed(self):
        before = self.tern.maildir("pickup")
        msg = (b"From: Web App <webapp@example.test>\nTo: pickup@example.test\nSubject: from sendmail\n"
               b"\nSent with tern sendmail.\n")
        p = subprocess.run([ternlib.tern_bin(), "sendmail", "-C", str(self.tern.config_path), "pickup@example.test"],
                           input=msg, capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = crlf(self.wait_file(self.tern, "pickup", before).read_bytes())
        self.assert_both_signed(got, "tern sendmail")
        self.tern.wait_log_events("dkim_signed", 1, pickup="yes", domain=DOMAIN)

    # -- 2. the corpus -------------------------------------------------------
    def test_corpus_both_signatures_verify(self):
        manifest = ternlib.load_json("conformance/mime/manifest.json")
        corpus = ternlib.shared_dir() / "conformance" / "mime" / "crlf"
        self.assertEqual(len(manifest), 32)
        sent = {}
        refused = {}
        signed_before = len(self.tern.log_events("dkim_signed"))
        for n, entry in enumerate(manifest):
            name = entry["file"]
            msg = with_from((corpus / name).read_bytes())
            options = []
            if entry["facts"]["has_8bit_bytes"]:
                options.append("BODY=8BITMIME")
            if entry["facts"]["has_8bit_in_header"]:
                options.append("SMTPUTF8")
            user = f"c{n:02d}"
            code, text = deliver(self.tern.port, "alice@example.test",
                                 [f"{user}@example.test", f"{user}@remote.test"], msg, options)
            if code == 250:
                sent[name] = (user, msg)
            else:
                refused[name] = (code, text)
        # The refusals are tern's input policy, not signing: listed, 554 5.6.0.
        self.assertEqual(sorted(refused), sorted(REFUSED), refused)
        for name, (code, text) in refused.items():
            self.assertEqual((code, text[:5]), (554, "5.6.0"), (name, REFUSED[name]))
        self.assertEqual(len(sent), 30)
        verified = 0
        for name, (user, msg) in sent.items():
            wire = msg if msg.endswith(b"\r\n") else msg + b"\r\n"
            local = crlf(self.wait_file(self.tern, user).read_bytes())
            remote = self.peer_copy(f"{user}@remote.test")
            for where, copy, trace in (("Maildir", local, ["return-path", "delivered-to"]), ("peer", remote, [])):
                what = f"{name} ({where})"
                self.assert_both_signed(copy, what)
                # In front: the trace fields, both signatures, Received; then the message as sent.
                self.assertTrue(copy.endswith(wire), f"{what}: not the message as sent behind the trace")
                prefix = copy[:len(copy) - len(wire)]
                self.assertEqual(trace_names(prefix), trace + ["dkim-signature", "dkim-signature", "received"],
                                 what)
                verified += 1
        self.assertEqual(verified, 60)
        events = self.tern.log_events("dkim_signed")[signed_before:]
        self.assertEqual(len(events), 30, events)
        self.assertTrue(all(e.get("domain") == DOMAIN for e in events), events)
        print(f"\ncorpus: {len(sent)} messages, both signatures verified by dkimpy in the Maildir and "
              f"at the peer; refused by tern (not signed): {sorted(refused)}", file=sys.stderr)

    def test_second_verifiers(self):
        """Mail::DKIM passes the RSA signatures; the nacl check the Ed25519 ones."""
        corpus = ternlib.shared_dir() / "conformance" / "mime" / "crlf"
        names = ["rfc-000.eml", "rfc-007.eml", "syn-quoted-printable.eml", "syn-8bit-utf8-body.eml",
                 "syn-odd-header-whitespace.eml", "syn-headers-only.eml", "syn-no-final-crlf.eml"]
        for n, name in enumerate(names):
            msg = with_from((corpus / name).read_bytes())
            options = ["BODY=8BITMIME"] if re.search(rb"[\x80-\xff]", msg) else []
            user = f"second{n}"
            code, text = deliver(self.tern.port, "alice@example.test", [f"{user}@remote.test"], msg, options)
            self.assertEqual(code, 250, (name, text))
            copy = self.peer_copy(f"{user}@remote.test")
            results = perl_results(copy, self.work)
            self.assertEqual([r[:3] for r in results][0], (RSA_SELECTOR, "rsa-sha256", "pass"), (name, results))
            self.assertEqual(len(results), 2, results)
            ed = results[1]
            self.assertEqual(ed[:2], (ED_SELECTOR, "ed25519-sha256"), results)
            # This Mail::DKIM has no Ed25519; a later one must pass it.
            if "unsupported algorithm" not in ed[3]:
                self.assertEqual(ed[2], "pass", (name, results))
            self.assertTrue(nacl_verify_ed25519(copy, 1), f"{name}: Ed25519 (nacl)")
            self.assertFalse(nacl_verify_ed25519(copy, 0), f"{name}: the RSA one is not Ed25519")
            # Neither verifier passes everything: a changed body fails in both.
            head, body = split_message(copy)
            bad = head + b"\r\n" + body + b"one more line\r\n"
            self.assertEqual(perl_results(bad, self.work)[0][2], "fail", name)
            self.assertFalse(nacl_verify_ed25519(bad, 1), f"{name}: Ed25519 (nacl), changed body")

    # -- 3. at the peer, and tampered copies ----------------------------------
    def test_peer_copy_verifies_and_tampering_fails(self):
        msg = (b"From: Alice <alice@example.test>\r\nTo: Carol <carol@remote.test>\r\n"
               b"Subject: quarterly figures\r\nDate: Mon, 07 Dec 2026 09:00:00 +0000\r\n"
               b"Message-ID: <figures-1@example.test>\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
               b"The figures are final.\r\nTotal: 1000\r\n")
        code, text = deliver(self.tern.port, "alice@example.test", ["carol@remote.test"], msg)
        self.assertEqual(code, 250, text)
        got = self.peer_copy("carol@remote.test")
        self.assert_both_signed(got, "peer copy")
        self.assertEqual([r[2] for r in perl_results(got, self.work)][:1], ["pass"])
        head, body = split_message(got)
        names = [n.strip().lower() for n in signatures(got)[0]["h"].split(":")]
        present = [n for n, _ in fields_of(head)]
        for name in ("from", "to", "subject", "date"):
            self.assertEqual(names.count(name), present.count(name) + 1, f"over-signing of {name}: h={names}")
        for name in ("message-id", "mime-version", "content-type"):
            self.assertEqual(names.count(name), 1, f"{name} signed: h={names}")
        self.assertNotIn("received", names)

        tampered = {
            "changed body": head + b"\r\n" + body.replace(b"1000", b"9000"),
            "changed Subject": got.replace(b"Subject: quarterly figures", b"Subject: quarterly figureZ"),
            "added From": b"From: Mallory <ceo@example.test>\r\n" + got,
            "added Subject": b"Subject: urgent: wire money\r\n" + got,
        }
        for what, copy in tampered.items():
            self.assertNotEqual(copy, got, what)
            self.assertEqual(dkimpy_results(copy), [False, False], f"{what}: dkimpy")
            self.assertEqual(perl_results(copy, self.work)[0][2], "fail", f"{what}: Mail::DKIM (RSA)")
            self.assertFalse(nacl_verify_ed25519(copy, 1), f"{what}: Ed25519 (nacl)")
        # Control: Mail::DKIM has no rule of its own against a second From
        # (dkimpy has: it always hashes one From more than h= names): a
        # signature without over-signing still passes there with the added
        # From. So it is tern's over-signing that makes the check above fail.
        import dkim
        traditional = testca.openssl("pkey", "-in", str(KEYS.rsa), "-traditional")
        control = dkim.sign(msg, RSA_SELECTOR.encode(), DOMAIN.encode(), traditional,
                            canonicalize=(b"relaxed", b"relaxed"),
                            include_headers=[b"from", b"to", b"subject", b"date"]) + msg
        self.assertEqual(perl_results(control, self.work)[0][2], "pass", "control")
        self.assertEqual(perl_results(b"From: Mallory <ceo@example.test>\r\n" + control, self.work)[0][2],
                         "pass", "control: a signature without over-signing, From added")

    # -- 4. not signed -------------------------------------------------------
    def test_signed_only_for_keyed_from_domains(self):
        cases = [
            ("x@example.org", "From: Xavier <x@example.org>\r\n", None),
            ("x@badexample.test", "From: <x@badexample.test>\r\n", None),
            ("alice@example.test", "", None),  # no From at all
            ("news@news.example.test", "From: News <news@news.example.test>\r\n", DOMAIN),  # parent's keys
        ]
        for n, (sender, from_line, signed_by) in enumerate(cases):
            user = f"which{n}"
            msg = (f"{from_line}To: {user}@example.test\r\nSubject: which domain signs\r\n"
                   "Date: Mon, 07 Dec 2026 09:00:00 +0000\r\n\r\nbody\r\n").encode()
            code, text = deliver(self.tern.port, sender, [f"{user}@example.test"], msg)
            self.assertEqual(code, 250, text)
            got = crlf(self.wait_file(self.tern, user).read_bytes())
            what = f"From {from_line.strip() or '(none)'}"
            if signed_by is None:
                self.assert_not_signed(self.tern, got, text, what)
                self.assertTrue(got.endswith(msg), what)
            else:
                self.assert_both_signed(got, what)
                # The log names the signing domain, d= (the parent's for news.).
                session = session_of(self.tern, queue_id_of(text))
                self.tern.wait_log_events("dkim_signed", 1, session=session, domain=signed_by)


# --------------------------------------------------------------------------
# 4-5. outside the relay networks; authenticated submission


class OutsideAndSubmission(Verifying):
    @classmethod
    def setUpClass(cls):
        ca = testca.TestCA(ternlib.make_tempdir("tern-dkim-ca-"))
        leaf = ca.issue("server", SERVER_NAME)
        cls.ca_root = ca.root
        cls.peer = Scripted()
        try:
            cls.tern = tlstern.TlsTern(
                leaf.chain, leaf.key, {LOGIN: PASSWORD}, roles=("mx", "submission"),
                auth='[auth]\nfailure_delay = "0"',
                relay=f'[relay]\nnetworks = ["192.0.2.0/24"]\nsmarthost = "127.0.0.1:{cls.peer.port}"',
                extra_toml=KEYS.toml()).start()
        except BaseException:
            cls.peer.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.tern.stop()
        cls.peer.stop()

    def test_outside_relay_networks_not_signed(self):
        before = self.tern.maildir("bob")
        msg = (b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: from outside\r\n"
               b"Date: Mon, 07 Dec 2026 09:00:00 +0000\r\n\r\nnot ours to sign\r\n")
        code, text = deliver(self.tern.ports["mx"], "alice@example.test", ["bob@example.test"], msg)
        self.assertEqual(code, 250, text)
        got = crlf(self.wait_file(self.tern, "bob", before).read_bytes())
        self.assert_not_signed(self.tern, got, text, "client outside the relay networks")
        self.assertTrue(got.endswith(msg))

    def test_authenticated_submission_signed(self):
        before = self.tern.maildir("bob")
        s = smtplib.SMTP(local_hostname="client.example", timeout=20)
        s._host = SERVER_NAME  # the certificate is checked for this name
        s.connect("127.0.0.1", self.tern.ports["submission"])
        s.ehlo()
        s.starttls(context=ssl.create_default_context(cafile=str(self.ca_root)))
        s.ehlo()
        s.user, s.password = LOGIN, PASSWORD
        code, resp = s.auth("PLAIN", s.auth_plain)
        self.assertEqual((code, resp[:5]), (235, b"2.7.0"))
        # No Date, no Message-ID: the submission server adds them, before signing.
        msg = (b"From: Alice <alice@example.test>\r\nTo: bob@example.test, Dan <dan@remote.test>\r\n"
               b"Subject: submitted\r\n\r\nsigned after AUTH\r\n")
        code, text = deliver(None, LOGIN, ["bob@example.test", "dan@remote.test"], msg, client=s)
        self.assertEqual(code, 250, text)
        local = crlf(self.wait_file(self.tern, "bob", before).read_bytes())
        remote = ternlib.wait_for(
            lambda: next((m.partition(b"\n\n")[2] for m in self.peer.messages()
                          if b"rcpt dan@remote.test" in m.partition(b"\n\n")[0].split(b"\n")), None),
            30, 0.05, "the peer's copy")
        for where, copy in (("Maildir", local), ("peer", remote)):
            self.assert_both_signed(copy, f"submission ({where})")
            head, _ = split_message(copy)
            present = [n for n, _ in fields_of(head)]
            self.assertEqual((present.count("date"), present.count("message-id")), (1, 1), present)
            names = [n.strip().lower() for n in signatures(copy)[0]["h"].split(":")]
            self.assertEqual((names.count("date"), names.count("message-id")), (2, 1), names)
            self.assertTrue(nacl_verify_ed25519(copy, 1), f"submission ({where}): Ed25519 (nacl)")
        session = session_of(self.tern, queue_id_of(text))
        self.tern.wait_log_events("dkim_signed", 1, session=session, domain=DOMAIN)


# --------------------------------------------------------------------------
# 6. a key that cannot be loaded refuses the start


class StartRefused(unittest.TestCase):
    def config(self):
        """A Tern whose config names a key file that does not exist yet."""
        t = Tern(users=["alice"])
        key = t.dir / "s1.pem"
        t.extra_toml = f'[dkim]\nverify = false\n[dkim."example.test"]\nselector = "s1"\nkey = "{key}"\n'
        t.pick_ports()
        t.write_config()
        return t, key

    @staticmethod
    def bad_keys(key):
        """Makes the key file unusable in each way in turn; yields what."""
        yield "missing file"
        key.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
        yield "not a key"
        key.unlink()

    def serve(self, t):
        """Runs `tern serve` on t's config; returns (exit status, output)
        once it exits (bounded: a server still running is an error)."""
        p = subprocess.Popen([ternlib.tern_bin(), "serve", "--config", str(t.config_path)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             cwd=str(t.dir), preexec_fn=ternlib._die_with_parent)
        try:
            out, _ = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate(timeout=10)
            raise AssertionError("tern serve kept running with an unusable DKIM key")
        return p.returncode, out.decode("utf-8", "replace")

    def check_config(self, t):
        p = subprocess.run([ternlib.tern_bin(), "check-config", "--config", str(t.config_path)],
                           capture_output=True, timeout=30)
        return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")

    def test_unusable_key_refuses_start(self):
        t, key = self.config()
        for what in self.bad_keys(key):
            rc, out = self.serve(t)
            self.assertNotEqual(rc, 0, f"{what}: {out}")
            self.assertIn("dkim.example.test", out, what)
            self.assertNotIn("event=started", out, what)
            self.assertNotIn("event=listen", out, what)
        # The same config with a real key (keygen at that path) starts.
        rc, _, err = keygen("example.test", "s1", "--out", str(key), cwd=t.dir)
        self.assertEqual(rc, 0, err)
        t.start(new_ports=False)
        self.assertTrue(t.running())
        self.assertEqual(t.stop(), 0)

    # The refusal names the key file and the reason.
    def test_refusal_names_the_key_file(self):
        t, key = self.config()
        for what in self.bad_keys(key):
            rc, out = self.serve(t)
            self.assertNotEqual(rc, 0, f"{what}: {out}")
            self.assertIn(str(key), out, what)

    # check-config reads the keys as serve does (it said "config ok" on
    # this config before c245e97).
    def test_check_config_names_unusable_key(self):
        t, key = self.config()
        for what in self.bad_keys(key):
            rc, out = self.check_config(t)
            self.assertNotEqual(rc, 0, f"check-config, {what}: {out}")
            self.assertIn("dkim.example.test", out, f"check-config, {what}")
        rc, _, err = keygen("example.test", "s1", "--out", str(key), cwd=t.dir)
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.check_config(t), (0, "config ok\n"))


if __name__ == "__main__":
    ternlib.run_tests()
