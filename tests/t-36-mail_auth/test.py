#!/usr/bin/python3
"""t-36-mail_auth: inbound mail authentication (SPF, DKIM, DMARC,
Authentication-Results) on an "mx" listener, against real peers.

The DNS is a test zone served by dnsmasq on 127.0.0.1 (zone.py): SPF, DMARC
and DKIM key records, and slow.test forwarded to a UDP socket that never
answers. tern asks it through [dns] servers; the references (pyspf, dkimpy,
authheaders) ask the same dnsmasq through dnspython's default resolver,
never the machine's. 127.0.0.1 is an outside client ([relay] networks = []).

Proves, through the real binary:
- DKIM (RFC 6376): messages signed by dkimpy with rsa-sha256 (a 2048-bit key
  made by openssl, its record split into several TXT strings) and
  ed25519-sha256 (python3-nacl), relaxed and simple canonicalization, with
  and without l= (text appended after an l= signature still passes), are
  delivered with dkim=pass and the right header.d/s/a/b; white space
  changed in transit passes relaxed and fails simple; four signatures on
  one message (two algorithms, two domains, dkimpy and Mail::DKIM) each
  pass; a changed body or signed header fails, an added unsigned header
  does not; a key record that does not exist, is revoked (p=) or is of
  another type than a= (Ed25519 for rsa-sha256) is a permerror; a message
  signed by Mail::DKIM::Signer (perl) passes, relaxed and simple; every
  verdict agrees with dkimpy's verify;
- SPF (RFC 7208): for ip4, -all, ~all, ?all, include (matching, not
  matching, of a domain without SPF), redirect, a, a:, mx, mx:, exists with
  a macro, a record split into two strings, no record, no TXT, NXDOMAIN, a
  syntax error, a bad address, two records, and the null sender
  (postmaster@HELO), tern's spf= (in Authentication-Results and in
  event=authentication) equals pyspf's check2 asking the same dnsmasq;
  smtp.mailfrom / smtp.helo name the identity; [spf] action_fail = "reject"
  gives 550 5.7.23 at end of data to a -all sender (not delivered) and
  still delivers ~all;
- DMARC (RFC 7489): tern's dmarc= and policy.dmarc equal authheaders'
  dmarc_per_from given pyspf's and dkimpy's results (with the
  organizational domain from libpsl, see peers.org_domain): p=reject
  failing (unaligned SPF pass, unaligned DKIM pass, SPF fail, a DKIM
  signature broken in transit) gets 550 5.7.1 at end of data and is not
  delivered; with [dmarc] action_reject = "annotate" it is delivered with
  dmarc=fail policy.dmarc=reject; p=none failing is delivered with
  dmarc=fail; aligned DKIM or SPF passes, relaxed alignment to a subdomain
  passes, adkim=s / aspf=s with a subdomain fails; sp=reject applies to a
  subdomain while p=none applies to the domain (where authheaders 0.15
  applies sp= to the domain itself, the case follows RFC 7489 6.3); no
  record: dmarc=none;
- every Authentication-Results tern writes here parses with python3-authres,
  its authserv-id is tern's hostname, it comes before tern's Received, and
  awkward values (a quoted local part with ";" and "(", a malformed
  DKIM-Signature whose d= and s= hold specials) keep it parseable;
- an incoming Authentication-Results claiming tern's hostname (any case,
  folded, with a comment before the id) is removed; ones with another
  authserv-id (including mx.example.test.evil) are kept as they were;
- DNS that does not answer (slow.test, [limits] check_timeout = "2s"):
  annotate delivers spf=temperror (as pyspf says), dkim=temperror,
  dmarc=temperror; [spf] action_temperror = "defer" gives 451 4.7.24 and
  [dmarc] action_temperror = "defer" a 451, each within a bounded time;
- clients in [relay] networks, and authenticated clients (AUTH over
  STARTTLS on the mx listener), are not checked: no Authentication-Results
  with tern's id (a forged one is still removed), no event=authentication,
  even from a -all sender and a p=reject From; an unauthenticated session
  on the same server is checked.
"""
import os
import re
import smtplib
import ssl
import sys
import time
import unittest
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import ternlib  # noqa: E402
import peers  # noqa: E402
import zone as zonelib  # noqa: E402
from messages import (HOSTNAME, RCPT, b_prefix, deliver, message, reference_dmarc,  # noqa: E402
                      refused, rewhitespace, send, unquote_pairs)
from ternlib import Tern, check  # noqa: E402

ZONE = None


def setUpModule():
    global ZONE
    # pyspf, dkimpy and authheaders call dns.resolver.query (dnspython 2
    # names it resolve); set here, inside unittest's own warnings filters.
    warnings.filterwarnings("ignore", "please use dns.resolver.resolve", DeprecationWarning)
    ZONE = zonelib.Zone(ternlib.make_tempdir("tern-t36-zone-"))


def tearDownModule():
    if ZONE is not None:
        ZONE.close()


def checks_toml(spf="", dkim="", dmarc="", relay="[relay]\nnetworks = []"):
    """The config of the checks: every table named (so ternlib leaves them
    on), DNS from the test's dnsmasq."""
    return "\n".join([relay, "[dns]", f'servers = ["127.0.0.1:{ZONE.port}"]',
                      "[spf]", "verify = true", spf, "[dkim]", "verify = true", dkim,
                      "[dmarc]", "verify = true", dmarc])


class Checked(unittest.TestCase):
    """One tern with the default actions: SPF annotates, DMARC p=reject
    failures are refused; [limits] check_timeout = "2s"."""

    @classmethod
    def setUpClass(cls):
        cls.tern = Tern(users=["alice"], limits={"check_timeout": "2s"},
                        extra_toml=checks_toml()).start()

    @classmethod
    def tearDownClass(cls):
        cls.tern.stop()

    def deliver(self, mail_from, msg, helo="client.sender.test"):
        return deliver(self.tern, mail_from, msg, helo)

    def sign(self, msg, key="rsa", selector="rsa", domain="sender.test", **kw):
        return peers.dkimpy_sign(msg, ZONE.keys[key], selector, domain, **kw) + msg

    # -- DKIM -----------------------------------------------------------------
    def assert_dkim(self, delivery, expected, signatures, msg):
        """delivery's dkim= results, matched to signatures by header.b,
        are `expected` (one per signature), with the signature's d, s and
        a; dkimpy says the same."""
        results = delivery.ar.method("dkim")
        self.assertEqual(len(results), len(signatures), delivery.ar.field)
        reference = peers.dkimpy_verify(msg)
        self.assertEqual(len(reference), len(signatures))
        for sig, want, ref in zip(signatures, expected, reference):
            tags = dict(re.findall(r"\b([dsa])=([\w.-]+)", re.sub(r"\s+", "", sig.decode())))
            mine = [r for r in results
                    if peers.AuthResults.prop(r, "header", "b") == b_prefix(sig)]
            self.assertEqual(len(mine), 1, f"no dkim result with header.b={b_prefix(sig)}: "
                                           f"{delivery.ar.field}")
            r = mine[0]
            self.assertEqual(r.result, want, delivery.ar.field)
            self.assertEqual(ref, want == "pass", f"dkimpy disagrees: {ref} vs tern {want}")
            for tag, prop in (("d", "d"), ("s", "s"), ("a", "a")):
                self.assertEqual(peers.AuthResults.prop(r, "header", prop), tags[tag], delivery.ar.field)
        # The log line sums the signatures up: pass when one passed.
        self.assertEqual(delivery.event["dkim"] == "pass", "pass" in expected, delivery.event)

    def test_dkim_dkimpy_signatures_pass(self):
        cases = [
            ("rsa", "rsa", (b"relaxed", b"relaxed"), False),
            ("rsa", "rsa", (b"simple", b"simple"), False),
            ("rsa", "rsa", (b"relaxed", b"simple"), True),
            ("ed", "ed", (b"relaxed", b"relaxed"), False),
            ("ed", "ed", (b"simple", b"simple"), False),
            ("ed", "ed", (b"simple", b"relaxed"), True),
        ]
        for key, selector, canon, length in cases:
            with self.subTest(key=key, canon=canon, l=length):
                msg = message("a@sender.test", subject=f"{key} {canon}")
                sig = peers.dkimpy_sign(msg, ZONE.keys[key], selector, "sender.test",
                                        canon=canon, length=length)
                self.assertEqual(b"l=" in sig, length)
                signed = sig + msg
                if length:
                    # l= counts the body signed: text added after it is not.
                    signed += b"-- \r\nappended by a list\r\n"
                d = self.deliver("a@sender.test", signed)
                self.assert_dkim(d, ["pass"], [sig], signed)
                self.assertEqual(d.prop("dkim", "header", "a"), ZONE.keys[key].algorithm)
                self.assertEqual(d.result("dmarc"), "pass")

    def test_dkim_canonicalization_in_transit(self):
        """White space changed after signing: relaxed passes, simple fails."""
        for canon, want in (((b"relaxed", b"relaxed"), "pass"), ((b"simple", b"simple"), "fail"),
                            ((b"relaxed", b"simple"), "fail"), ((b"simple", b"relaxed"), "fail")):
            for key in ("rsa", "ed"):
                with self.subTest(canon=canon, key=key):
                    msg = message("a@sender.test", subject="white space")
                    sig = peers.dkimpy_sign(msg, ZONE.keys[key], key, "sender.test", canon=canon)
                    moved = rewhitespace(sig + msg)
                    d = self.deliver("a@sender.test", moved)  # SPF aligned: DMARC passes
                    self.assert_dkim(d, [want], [sig], moved)

    def test_dkim_several_signatures(self):
        msg = message("a@sender.test", subject="four signatures")
        sigs = [peers.dkimpy_sign(msg, ZONE.keys["rsa"], "rsa", "sender.test"),
                peers.dkimpy_sign(msg, ZONE.keys["ed"], "ed", "sender.test",
                                  canon=(b"simple", b"simple")),
                peers.dkimpy_sign(msg, ZONE.keys["rsa"], "rsa", "other.test", length=True),
                peers.perl_sign(msg, ZONE.keys["rsa"].pem_path, "perl", "sender.test")]
        signed = b"".join(reversed(sigs)) + msg
        d = self.deliver("a@sender.test", signed)
        self.assert_dkim(d, ["pass"] * 4, list(reversed(sigs)), signed)
        self.assertEqual(sorted(peers.AuthResults.prop(r, "header", "d") for r in d.ar.method("dkim")),
                         ["other.test", "sender.test", "sender.test", "sender.test"])

    def test_dkim_tampered(self):
        msg = message("a@sender.test", subject="original subject")
        for key in ("rsa", "ed"):
            sig = peers.dkimpy_sign(msg, ZONE.keys[key], key, "sender.test")
            cases = {
                "body changed": (sig + msg).replace(b"hello world", b"hello w0rld"),
                "signed header changed": (sig + msg).replace(b"original subject", b"0riginal subject"),
                "body line added": sig + msg + b"one more line\r\n",
            }
            for what, tampered in cases.items():
                with self.subTest(key=key, what=what):
                    # MAIL FROM aligned: SPF keeps DMARC passing and the
                    # message is delivered, with the broken signature.
                    d = self.deliver("a@sender.test", tampered)
                    self.assert_dkim(d, ["fail"], [sig], tampered)
            with self.subTest(key=key, what="unsigned header added"):
                added = sig + msg.replace(b"\r\n\r\n", b"\r\nX-Added-By-List: yes\r\n\r\n", 1)
                d = self.deliver("a@sender.test", added)
                self.assert_dkim(d, ["pass"], [sig], added)

    def test_dkim_missing_and_revoked_key(self):
        # RFC 6376 6.1.2: no key record, or a revoked one (p= empty, 3.6.1),
        # is PERMFAIL; RFC 8601 2.7.1: "permerror", an error a later try
        # would not change (not "fail": no signature was checked).
        # RFC 6376 3.6.1: k= names the key type; an rsa-sha256 signature on
        # an Ed25519 key record (selector "ed") cannot be checked either.
        for selector in ("missing", "revoked", "ed"):
            with self.subTest(selector=selector):
                msg = message("a@sender.test", subject=f"key {selector}")
                sig = peers.dkimpy_sign(msg, ZONE.keys["rsa"], selector, "sender.test")
                d = self.deliver("a@sender.test", sig + msg)
                self.assert_dkim(d, ["permerror"], [sig], sig + msg)

    def test_dkim_mail_dkim_perl_signer(self):
        for method in ("relaxed", "simple", "relaxed/simple"):
            with self.subTest(method=method):
                msg = message("a@sender.test", subject=f"perl {method}")
                sig = peers.perl_sign(msg, ZONE.keys["rsa"].pem_path, "perl", "sender.test", method)
                d = self.deliver("a@sender.test", sig + msg)
                self.assert_dkim(d, ["pass"], [sig], sig + msg)
                self.assertEqual(d.prop("dkim", "header", "s"), "perl")

    # -- SPF ------------------------------------------------------------------
    SPF_CASES = [
        ("a@sender.test", "client.sender.test"),     # ip4 pass
        ("a@pass.test", "client.sender.test"),       # ip4 CIDR pass
        ("a@fail.test", "client.sender.test"),       # -all
        ("a@softfail.test", "client.sender.test"),   # ~all
        ("a@neutral.test", "client.sender.test"),    # ?all
        ("a@include.test", "client.sender.test"),
        ("a@include-miss.test", "client.sender.test"),
        ("a@include-none.test", "client.sender.test"),  # include: of a domain without SPF
        ("a@redirect.test", "client.sender.test"),
        ("a@redirect-fail.test", "client.sender.test"),
        ("a@a.test", "client.sender.test"),
        ("a@a-other.test", "client.sender.test"),
        ("a@mx.test", "client.sender.test"),
        ("a@mx-other.test", "client.sender.test"),
        ("a@exists.test", "client.sender.test"),     # %{i} macro
        ("a@split.test", "client.sender.test"),      # one record, two strings
        ("a@nospf.test", "client.sender.test"),      # A record, no TXT
        ("a@txt-only.test", "client.sender.test"),   # TXT that is not SPF
        ("a@nonexistent.test", "client.sender.test"),  # NXDOMAIN
        ("a@syntax.test", "client.sender.test"),     # unknown mechanism
        ("a@bad-ip.test", "client.sender.test"),
        ("a@twospf.test", "client.sender.test"),     # two SPF records
        ("Mixed.Case@SENDER.Test", "client.sender.test"),
        ("", "pass.test"),                           # <>: postmaster@HELO
        ("", "fail.test"),
        ("", "nospf.test"),
    ]

    def test_spf_results_agree_with_pyspf(self):
        seen = set()
        for mail_from, helo in self.SPF_CASES:
            with self.subTest(mail_from=mail_from, helo=helo):
                expected, explanation = peers.pyspf(mail_from, helo)
                seen.add(expected)
                # From: at example.test (no DMARC record): the SPF result
                # decides nothing here.
                d = self.deliver(mail_from, message("spf@example.test"), helo)
                self.assertEqual(d.result("spf"), expected,
                                 f"pyspf: {expected} ({explanation}); tern: {d.ar.field}")
                self.assertEqual(d.event["spf"], expected)
                if mail_from:
                    self.assertEqual(d.prop("spf", "smtp", "mailfrom"), mail_from)
                else:
                    self.assertEqual(d.prop("spf", "smtp", "helo"), helo)
                    self.assertIsNone(d.prop("spf", "smtp", "mailfrom"))
                self.assertEqual(d.result("dmarc"), "none")
        self.assertEqual(seen, {"pass", "fail", "softfail", "neutral", "none", "permerror"})

    # -- DMARC ----------------------------------------------------------------
    def dmarc_case(self, from_addr, mail_from, signer=None, tamper=False):
        msg = message(from_addr, subject="dmarc")
        if signer:
            msg = self.sign(msg, selector=signer[0], domain=signer[1])
        if tamper:
            msg = msg.replace(b"hello world", b"hello w0rld")
        (result, policy), from_domain = reference_dmarc(msg, mail_from, "client.sender.test")
        return msg, result, policy, from_domain

    DMARC_DELIVERED = [
        # (what, From, MAIL FROM, DKIM (selector, d=), authheaders' result, policy)
        ("p=none failing", "a@none.test", "a@pass.test", None, "fail", "none"),
        ("p=none failing, DKIM of none.test broken", "a@none.test", "a@pass.test",
         ("rsa", "none.test"), "fail", "none"),
        ("aligned DKIM", "a@sender.test", "a@pass.test", ("rsa", "sender.test"), "pass", "reject"),
        ("aligned SPF", "a@pass.test", "b@pass.test", None, "pass", "quarantine"),
        ("relaxed DKIM, d= a subdomain", "a@relaxed.test", "a@pass.test",
         ("rsa", "mail.relaxed.test"), "pass", "reject"),
        ("relaxed SPF, MAIL FROM a subdomain", "a@relaxed.test", "b@mail.relaxed.test", None,
         "pass", "reject"),
        # RFC 7489 6.3: sp= is the policy "for all subdomains"; p= is the
        # domain's own. authheaders 0.15 applies sp= to the domain that
        # published it too (dmarc_per_from sets orgdomain = from_domain and
        # then takes sp), so here it says "reject": tern follows the RFC.
        ("p=none of the parent, not its sp=", "a@parent.test", "a@pass.test", None, "fail", "none",
         ("fail", "reject")),
        ("no DMARC record", "a@nospf.test", "a@pass.test", None, "none", ""),
    ]

    def test_dmarc_delivered(self):
        for what, from_addr, mail_from, signer, result, policy, *deviation in self.DMARC_DELIVERED:
            with self.subTest(what):
                tamper = "broken" in what
                msg, *reference, from_domain = self.dmarc_case(from_addr, mail_from, signer, tamper)
                self.assertEqual(tuple(reference), deviation[0] if deviation else (result, policy),
                                 "authheaders")
                d = self.deliver(mail_from, msg)
                self.assertEqual(d.result("dmarc"), result, d.ar.field)
                self.assertEqual(d.event["dmarc"], result)
                self.assertEqual(d.prop("dmarc", "header", "from"), from_domain)
                self.assertEqual(d.prop("dmarc", "policy", "dmarc") or "", policy, d.ar.field)

    DMARC_REJECTED = [
        ("unaligned SPF pass", "a@reject.test", "a@pass.test", None),
        ("unaligned DKIM pass", "a@reject.test", "a@pass.test", ("rsa", "other.test")),
        ("SPF fail, no DKIM", "a@reject.test", "a@reject.test", None),
        ("aligned DKIM broken in transit", "a@sender.test", "a@pass.test", ("rsa", "sender.test")),
        ("adkim=s, d= a subdomain", "a@strict.test", "a@pass.test", ("rsa", "mail.strict.test")),
        ("aspf=s, MAIL FROM a subdomain", "a@strict.test", "b@mail.strict.test", None),
        ("sp=reject for a subdomain", "a@sub.parent.test", "a@pass.test", None),
    ]

    def test_dmarc_reject(self):
        for what, from_addr, mail_from, signer in self.DMARC_REJECTED:
            with self.subTest(what):
                msg, result, policy, _ = self.dmarc_case(from_addr, mail_from, signer,
                                                         tamper="broken" in what)
                self.assertEqual((result, policy), ("fail", "reject"), "authheaders")
                refused(self, self.tern, mail_from, msg, 550, "5.7.1")

    # -- Authentication-Results -------------------------------------------------
    def test_authentication_results_parse_with_awkward_values(self):
        # A quoted local part holding specials of the A-R grammar.
        for mail_from in ('"semi;colon (x)"@pass.test', '"a\\"b=c"@pass.test'):
            with self.subTest(mail_from=mail_from):
                d = self.deliver(mail_from, message("a@example.test"))
                self.assertEqual(d.result("spf"), "pass")
                # tern writes the pvalue as a quoted-string (RFC 8601 2.2,
                # RFC 5322 3.2.4); authres strips the quotes but leaves the
                # quoted-pairs in.
                self.assertEqual(unquote_pairs(d.prop("spf", "smtp", "mailfrom")), mail_from)
        # A malformed DKIM-Signature whose tags hold specials.
        sig = (b'DKIM-Signature: v=1; a=rsa-sha256; d=ex(am)ple".test; s=se"l\\(x;\r\n'
               b"\th=from; bh=AAAA; b=AAAA\r\n")
        d = self.deliver("a@pass.test", sig + message("a@example.test"))
        self.assertEqual(len(d.ar.method("dkim")), 1, d.ar.field)
        self.assertEqual(d.result("dkim"), "permerror", d.ar.field)  # RFC 6376 6.1.1
        self.assertEqual(unquote_pairs(d.prop("dkim", "header", "s")), 'se"l\\(x')
        # authres 1.2 keeps only the last quoted pvalue of a resinfo (the
        # others are dropped without an error), so header.d, quoted before
        # header.s, is read from the field itself.
        quoted = re.search(r'header\.d=("(?:[^"\\]|\\.)*")[ ;\n]', d.ar.field)
        self.assertIsNotNone(quoted, d.ar.field)
        self.assertEqual(unquote_pairs(quoted.group(1)[1:-1]), 'ex(am)ple".test')

    def test_forged_authentication_results_removed(self):
        extra = (b"Authentication-Results: mx.example.test; dkim=pass header.d=bank.test\r\n"
                 b"Authentication-Results: other.test; spf=pass smtp.mailfrom=x@bank.test\r\n"
                 b"Authentication-Results:\r\n  MX.Example.TEST;\r\n\tdmarc=pass\r\n"
                 b"Authentication-Results: (forged) mx.example.test; spf=pass\r\n"
                 b"authentication-results : mx.example.test.; arc=pass\r\n"
                 b"Authentication-Results: mx.example.test.evil; dkim=pass\r\n"
                 b"X-After: kept\r\n")
        d = self.deliver("a@fail.test", message("a@example.test", extra=extra))
        self.assertEqual(len(d.ours), 1, d.content[:2000])
        self.assertEqual(d.result("spf"), "fail")
        self.assertNotIn(b"bank.test; ", d.content)
        self.assertNotIn(b"header.d=bank.test", d.content)
        self.assertNotIn(b"dmarc=pass", d.content)
        self.assertNotIn(b"arc=pass", d.content)
        self.assertNotIn(b"(forged)", d.content)
        self.assertEqual(sorted(d.others), [
            "Authentication-Results: mx.example.test.evil; dkim=pass",
            "Authentication-Results: other.test; spf=pass smtp.mailfrom=x@bank.test"])
        self.assertIn(b"X-After: kept\n", d.content)

    # -- DNS that does not answer ---------------------------------------------
    def test_temperror_annotated(self):
        msg = self.sign(message("a@slow.test"), domain="slow.test")
        expected, _ = peers.pyspf("a@slow.test", "client.sender.test")
        self.assertEqual(expected, "temperror")
        start = time.monotonic()
        d = self.deliver("a@slow.test", msg)
        self.assertLess(time.monotonic() - start, 15)
        self.assertEqual(d.result("spf"), "temperror")
        self.assertEqual(d.result("dkim"), "temperror")
        self.assertEqual(d.result("dmarc"), "temperror")
        self.assertEqual(d.event["spf"], "temperror")


class Refusing(unittest.TestCase):
    """[spf] action_fail = "reject", action_temperror = "defer";
    [dmarc] action_reject = "annotate", action_temperror = "defer"."""

    @classmethod
    def setUpClass(cls):
        cls.tern = Tern(users=["alice"], limits={"check_timeout": "2s"}, extra_toml=checks_toml(
            spf='action_fail = "reject"\naction_temperror = "defer"',
            dmarc='action_reject = "annotate"\naction_temperror = "defer"')).start()

    @classmethod
    def tearDownClass(cls):
        cls.tern.stop()

    def test_spf_fail_rejected(self):
        self.assertEqual(peers.pyspf("a@fail.test", "client.sender.test")[0], "fail")
        reply, _ = refused(self, self.tern, "a@fail.test", message("a@example.test"), 550, "5.7.23")
        ternlib.wait_for(lambda: [e for e in self.tern.log_events("authentication")
                                  if e.get("spf") == "fail"], 10, what="event=authentication spf=fail")
        # softfail is not fail: delivered.
        d = deliver(self.tern, "a@softfail.test", message("a@example.test"))
        self.assertEqual(d.result("spf"), "softfail")

    def test_dmarc_reject_annotated(self):
        for from_addr, mail_from, signer in (("a@reject.test", "a@pass.test", None),
                                             ("a@strict.test", "a@pass.test", ("rsa", "mail.strict.test")),
                                             ("a@sub.parent.test", "a@pass.test", None)):
            with self.subTest(from_addr=from_addr):
                msg = message(from_addr)
                if signer:
                    msg = peers.dkimpy_sign(msg, ZONE.keys["rsa"], *signer) + msg
                (result, policy), from_domain = reference_dmarc(msg, mail_from, "client.sender.test")
                self.assertEqual((result, policy), ("fail", "reject"))
                d = deliver(self.tern, mail_from, msg)
                self.assertEqual(d.result("dmarc"), "fail")
                self.assertEqual(d.prop("dmarc", "policy", "dmarc"), "reject")
                self.assertEqual(d.prop("dmarc", "header", "from"), from_domain)

    def test_spf_temperror_deferred(self):
        _, elapsed = refused(self, self.tern, "a@slow.test", message("a@example.test"), 451, "4.7.24")
        self.assertLess(elapsed, 15)

    def test_dmarc_temperror_deferred(self):
        reply, elapsed = refused(self, self.tern, "a@pass.test", message("a@slow.test"), 451, None)
        self.assertTrue(reply.enhanced and reply.enhanced.startswith("4."), str(reply))
        self.assertLess(elapsed, 15)


class NotChecked(unittest.TestCase):
    """Our users' own mail is not checked (no SPF, DKIM or DMARC, no
    Authentication-Results): an authenticated client's, and a relay-network
    client's whose From domain is one of ours. A host in the relay networks
    relaying a stranger's mail is checked."""

    def assert_unchecked(self, tern, qid, content):
        ours, _ = peers.authentication_results(content, HOSTNAME)
        self.assertEqual(ours, [], content[:1500])
        self.assertNotIn(b"\nAuthentication-Results:", content.split(b"\n\n")[0])
        self.assertEqual([e for e in tern.log_events("authentication") if e.get("queue_id") == qid], [])

    def test_relay_networks(self):
        # reject.test (p=reject, SPF -all) is also a domain this tern serves.
        toml = checks_toml(relay='[relay]\nnetworks = ["127.0.0.0/8"]')
        with Tern(users=["alice"], domains=("example.test", "reject.test"), extra_toml=toml) as t:
            forged = b"Authentication-Results: mx.example.test; dmarc=pass\r\n"
            ours = message("a@reject.test", extra=forged)
            no_from = re.sub(rb"^From: [^\r]*\r\n", b"", message("x@relaxed.test"))
            # Our From and sender (<>: the HELO name); no From and our sender.
            for mail_from, msg, helo in (("a@reject.test", ours, "client.sender.test"),
                                         ("a@reject.test", no_from, "client.sender.test"),
                                         ("", ours, "reject.test")):
                reply = send(t, mail_from, msg, helo)
                check(reply, 250, "2.0.0")
                qid = ternlib.queue_id(reply)
                path = ternlib.wait_for(lambda: [p for p in t.maildir("alice") if p.name.startswith(qid)],
                                        20, what=f"delivery of {qid}")[0]
                t.wait_log_events("queued", queue_id=qid)
                self.assert_unchecked(t, qid, path.read_bytes())
            # A stranger's From (p=reject, unaligned) from the same host is
            # refused, even with one of our domains in MAIL FROM.
            for mail_from in ("a@fail.test", "a@reject.test"):
                refused(self, t, mail_from, message("a@relaxed.test"), 550, "5.7.1")
            # Checked, with Authentication-Results, when it passes; and with
            # a stranger's sender and no From.
            d = deliver(t, "a@pass.test", message("a@pass.test"))
            self.assertEqual((d.ar.method("spf")[0].result, d.event["dmarc"]), ("pass", "pass"))
            d = deliver(t, "a@pass.test", no_from.replace(b"Message-ID: <", b"Message-ID: <2"))
            self.assertEqual(d.ar.method("spf")[0].result, "pass")
            # Our From with a stranger's sender: checked, but the host may
            # send as our domain, so its failing p=reject refuses nothing.
            d = deliver(t, "a@fail.test", message("a@reject.test"))
            self.assertEqual((d.ar.method("spf")[0].result, d.event["dmarc"]), ("fail", "fail"))
            d = deliver(t, "", message("a@reject.test"), helo="fail.test")
            self.assertEqual((d.ar.method("spf")[0].result, d.event["dmarc"]), ("fail", "fail"))

    def test_authenticated_not_checked(self):
        import testca
        import tlstern
        ca = testca.TestCA(ternlib.make_tempdir("tern-t36-ca-"))
        leaf = ca.issue("mx", HOSTNAME)
        t = tlstern.TlsTern(cert=leaf.chain, key=leaf.key, accounts={RCPT: "t36-password"},
                            roles=("mx",), users=["alice"], extra_toml=checks_toml(),
                            # alice may send as a -all domain's address.
                            auth='[auth.senders]\n"alice@example.test" = ["@fail.test"]').start()
        try:
            context = ssl.create_default_context(cafile=str(ca.root))
            msg = message("a@reject.test")
            with smtplib.SMTP(local_hostname="client.sender.test", timeout=20) as s:
                s._host = HOSTNAME  # what starttls() checks the certificate against
                s.connect("127.0.0.1", t.port)
                s.starttls(context=context)
                s.login(RCPT, "t36-password")
                s.sendmail("a@fail.test", [RCPT], msg)
            path = t.wait_maildir_count("alice", 1)[0]
            qid = path.name.split(".")[0]
            t.wait_log_events("queued", queue_id=qid)
            self.assert_unchecked(t, qid, path.read_bytes())
            # The same server checks a session without AUTH (the control).
            d = deliver(t, "a@softfail.test", message("a@example.test"))
            self.assertEqual(d.result("spf"), "softfail")
        finally:
            t.stop()


if __name__ == "__main__":
    ternlib.run_tests()
