#!/usr/bin/python3
"""t-39-arc_forward: ARC (RFC 8617) on mail that tern checks and forwards.

Proves, with tern between a client outside its relay networks and a scripted
aiosmtpd next hop (the smarthost), DNS from dnsmasq (t-36's zone), and
dkimpy's ARC implementation as the independent peer:
- a checked message that an alias forwards to another domain leaves with
  tern's ARC set on top (ARC-Seal i=1 cv=none, ARC-Message-Signature,
  ARC-Authentication-Results holding tern's results), and dkimpy's
  arc_verify at the next hop says pass;
- a message that arrives ARC-sealed by another forwarder (dkimpy arc_sign)
  gets arc=pass in tern's Authentication-Results and leaves with instance 2,
  cv=pass, which dkimpy verifies as pass; a tampered chain is arc=fail and
  tern's set says cv=fail;
- a message delivered to a local mailbox (not forwarded) gets no ARC set.
"""
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "t-36-mail_auth"))
import dkim  # noqa: E402
import ternlib  # noqa: E402
import zone as zone_module  # noqa: E402
from scripted import Scripted  # noqa: E402
from ternlib import Tern, check  # noqa: E402

# tern seals as example.test with t-36's RSA key, published at arc1.
zone_module.DKIM_KEYS[("arc1", "example.test")] = "rsa"
HOSTNAME = "mx.example.test"


class ArcForward(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.zone = zone_module.Zone(ternlib.make_tempdir("tern-arc-zone-"))
        cls.hop = Scripted()
        tern = Tern(users=["alice"], domains=["example.test"], hostname=HOSTNAME)
        aliases = tern.dir / "aliases"
        aliases.write_text("fwd: friend@elsewhere.test\n")
        tern.local_extra = f"aliases = {ternlib.toml_value(str(aliases))}"
        tern.extra_toml = "\n".join([
            f'[relay]\nnetworks = []\nsmarthost = "127.0.0.1:{cls.hop.port}"',
            f'[dns]\nservers = ["127.0.0.1:{cls.zone.port}"]',
            "[spf]\nverify = true", "[dkim]\nverify = true", "[dmarc]\nverify = true",
            f'[arc]\ndomain = "example.test"\nselector = "arc1"\nkey = "{cls.zone.keys["rsa"].pem_path}"',
        ])
        tern.start()
        cls.tern = tern
        cls.records = {f"{sel}._domainkey.{dom}": cls.zone.keys[name].record
                       for (sel, dom), name in zone_module.DKIM_KEYS.items()}

    @classmethod
    def tearDownClass(cls):
        cls.tern.stop()
        cls.hop.stop()
        cls.zone.stop()

    def dnsfunc(self, name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return self.records.get(name.rstrip("."), "").encode()

    def message(self, subject):
        msg = (f"From: Someone <someone@sender.test>\r\nTo: fwd@example.test\r\nSubject: {subject}\r\n"
               "Date: Mon, 07 Dec 2026 09:00:00 +0000\r\nMessage-ID: <" + subject.replace(" ", ".") +
               "@sender.test>\r\n\r\nHello, forwarded world.\r\n").encode()
        signature = dkim.sign(msg, b"rsa", b"sender.test", self.zone.keys["rsa"].private,
                              include_headers=[b"from", b"to", b"subject", b"date"])
        return signature + msg

    def forwarded(self, subject):
        """The copy the next hop received, by Subject."""
        def found():
            for m in self.hop.messages():
                content = m.split(b"\n\n", 1)[1]
                if f"Subject: {subject}".encode() in content:
                    return content
            return None
        ternlib.wait_for(lambda: found() is not None, 20, 0.1, f"forwarded copy of {subject!r}")
        return found()

    def arc_verify(self, content):
        cv, _results, comment = dkim.arc_verify(content, dnsfunc=self.dnsfunc)
        return cv, comment

    def test_first_seal_verifies_at_the_next_hop(self):
        check(ternlib.send_mail(self.tern.port, "someone@sender.test", ["fwd@example.test"], self.message("first seal")), 250)
        content = self.forwarded("first seal")
        head = content.split(b"\r\n\r\n", 1)[0]
        # tern's set on top of what tern received (only Delivered-To, added
        # when the alias forwarded the copy, is above it).
        self.assertRegex(head, rb"^Delivered-To: fwd@example\.test\r\nARC-Seal: ")
        self.assertLess(head.index(b"ARC-Seal:"), head.index(b"Received: from client.example"))
        self.assertIn(b"cv=none", head.split(b"ARC-Message-Signature")[0])
        aar = re.search(rb"ARC-Authentication-Results: i=1; mx\.example\.test;[^\r]*(\r\n[ \t][^\r]*)*", head)
        self.assertIsNotNone(aar, head)
        self.assertIn(b"dmarc=pass", aar.group(0))
        cv, comment = self.arc_verify(content)
        self.assertEqual(cv, b"pass", comment)
        # Tampered on the way, the chain no longer verifies: the check can fail.
        cv, _ = self.arc_verify(content.replace(b"Hello, forwarded world.", b"Hello, changed world."))
        self.assertEqual(cv, b"fail")

    def sealed_by_other(self, subject):
        msg = (b"Authentication-Results: other.test; spf=pass smtp.mailfrom=someone@sender.test\r\n"
               + self.message(subject))
        headers = dkim.arc_sign(msg, b"rsa", b"other.test", self.zone.keys["rsa"].private, b"other.test")
        return b"".join(headers) + msg

    def test_arriving_chain_passes_and_is_extended(self):
        check(ternlib.send_mail(self.tern.port, "someone@sender.test", ["fwd@example.test"], self.sealed_by_other("second hop")),
              250)
        content = self.forwarded("second hop")
        results = re.search(rb"\nAuthentication-Results: mx\.example\.test;([^\r]*(\r\n[ \t][^\r]*)*)",
                            b"\n" + content)
        self.assertIsNotNone(results, content[:600])
        self.assertRegex(results.group(1), rb"arc=pass")
        self.assertRegex(content, rb"ARC-Seal: [^\r]*i=2" + b"|" + rb"ARC-Seal: (.|\r\n[ \t])*i=2")
        cv, comment = self.arc_verify(content)
        self.assertEqual(cv, b"pass", comment)

    def test_broken_chain_is_arc_fail(self):
        sealed = self.sealed_by_other("broken chain").replace(b"Hello, forwarded world.", b"Hello, broken world.")
        check(ternlib.send_mail(self.tern.port, "someone@sender.test", ["fwd@example.test"], sealed), 250)
        content = self.forwarded("broken chain")
        self.assertRegex(content, rb"arc=fail")
        seal = re.search(rb"ARC-Seal: ((?:[^\r]|\r\n[ \t])*)", content).group(1)
        self.assertIn(b"cv=fail", seal)

    def test_local_delivery_is_not_sealed(self):
        msg = self.message("local copy").replace(b"To: fwd@example.test", b"To: alice@example.test")
        check(ternlib.send_mail(self.tern.port, "someone@sender.test", ["alice@example.test"], msg), 250)
        self.tern.wait_maildir_count("alice", 1)
        stored = self.tern.maildir("alice")[0].read_bytes()
        self.assertIn(b"Authentication-Results: mx.example.test", stored)
        self.assertNotIn(b"ARC-Seal:", stored)


if __name__ == "__main__":
    ternlib.run_tests()
