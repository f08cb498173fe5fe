#!/usr/bin/python3
"""t-38-srs: the Sender Rewriting Scheme for forwarded mail.

Proves, with tern and a scripted aiosmtpd server as the next hop (the
smarthost), on loopback:
- with [srs] secret set, mail that an alias forwards to another domain
  leaves with the reverse-path rewritten to SRS0=HASH=TT=domain=local@<srs
  domain> (so SPF at the next hop checks tern), while mail that is not
  forwarded keeps its sender, and <> stays <>;
- a bounce to that SRS0 address, from any client, goes back to the original
  sender (reverse SRS), whatever the case of the address;
- a forged SRS address (bad hash) gets 550 5.1.1 at RCPT and nothing is sent;
- without [srs], forwarded mail keeps its sender;
- a short secret is accepted: `tern check-config` warns on stderr (exit 0),
  `tern serve` logs event=srs_secret_short and rewrites as usual.
"""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from scripted import Scripted  # noqa: E402
from ternlib import Tern, check  # noqa: E402

SECRET = "correct horse battery staple"
FORWARDED = "Subject: forwarded\r\n\r\nhello\r\n"


class Srs(unittest.TestCase):
    def start(self, srs=True, secret=SECRET):
        hop = Scripted()
        self.addCleanup(hop.stop)
        tern = Tern(users=["alice"], domains=["example.test"], hostname="mx.example.test")
        aliases = tern.dir / "aliases"
        aliases.write_text("fwd: friend@elsewhere.test\n")
        tern.local_extra = f"aliases = {ternlib.toml_value(str(aliases))}"
        tern.extra_toml = (f'[relay]\nnetworks = []\nsmarthost = "127.0.0.1:{hop.port}"\n'
                           + (f'[srs]\nsecret = "{secret}"\ndomain = "fwd.example.test"\n' if srs else ""))
        tern.start()
        self.addCleanup(tern.stop)
        return tern, hop

    def wait_messages(self, hop, count):
        ternlib.wait_for(lambda: len(hop.messages()) >= count, 20, 0.1, f"{count} message(s) at the next hop")
        return hop.envelopes()

    def test_forward_rewrites_and_bounce_comes_back(self):
        tern, hop = self.start()
        check(ternlib.send_mail(tern.port, "sender@origin.test", ["fwd@example.test"], FORWARDED), 250)
        envelopes = self.wait_messages(hop, 1)
        mail_from = envelopes[0]["from"][0]
        self.assertRegex(mail_from, r"^SRS0=[A-Za-z0-9+/_-]{4}=[A-Z2-7]{2}=origin\.test=sender@fwd\.example\.test$")
        self.assertEqual(envelopes[0]["rcpt"], ["friend@elsewhere.test"])
        # The bounce from the next hop (any client) goes back to the sender,
        # even with the tag and hash in another case (hashes compare so).
        tag, hash_, rest = mail_from.split("=", 2)
        check(ternlib.send_mail(tern.port, "", [f"{tag.lower()}={hash_.swapcase()}={rest}"],
                   b"Subject: Undelivered Mail\r\n\r\nbounce\r\n"), 250)
        envelopes = self.wait_messages(hop, 2)
        self.assertEqual(envelopes[1]["rcpt"], ["sender@origin.test"])
        self.assertEqual(envelopes[1]["from"], ["<>"])

    def test_forged_addresses_are_refused(self):
        tern, hop = self.start()
        d = ternlib.session(tern.port)
        check(d.cmd("MAIL FROM:<>"), 250)
        check(d.cmd("RCPT TO:<SRS0=abcd=AA=origin.test=sender@fwd.example.test>"), 550, "5.1.1")
        check(d.cmd("RCPT TO:<SRS0=garbage@fwd.example.test>"), 550, "5.1.1")
        d.close()
        self.assertEqual(hop.messages(), [])

    def test_only_forwards_are_rewritten(self):
        tern, hop = self.start()
        check(ternlib.send_mail(tern.port, "sender@origin.test", ["alice@example.test", "fwd@example.test"], FORWARDED), 250)
        check(ternlib.send_mail(tern.port, "", ["fwd@example.test"], FORWARDED), 250)
        envelopes = self.wait_messages(hop, 2)
        froms = sorted(e["from"][0] for e in envelopes)
        self.assertEqual(froms[0], "<>")  # <> stays <>
        self.assertTrue(froms[1].startswith("SRS0="), froms)
        tern.wait_maildir_count("alice", 1)
        self.assertIn(b"Return-Path: <sender@origin.test>", tern.maildir("alice")[0].read_bytes())

    def test_short_secret_warned_about(self):
        tern, hop = self.start(secret="s3cret")
        checked = subprocess.run([ternlib.tern_bin(), "check-config", "--config", str(tern.config_path)],
                                 capture_output=True, text=True, timeout=30)
        self.assertEqual(checked.returncode, 0, checked.stderr)
        self.assertIn("[srs] secret has 6 characters", checked.stderr)
        tern.wait_log_events("srs_secret_short")
        check(ternlib.send_mail(tern.port, "sender@origin.test", ["fwd@example.test"], FORWARDED), 250)
        self.assertTrue(self.wait_messages(hop, 1)[0]["from"][0].startswith("SRS0="))

    def test_without_srs_the_sender_is_kept(self):
        tern, hop = self.start(srs=False)
        check(ternlib.send_mail(tern.port, "sender@origin.test", ["fwd@example.test"], FORWARDED), 250)
        envelopes = self.wait_messages(hop, 1)
        self.assertEqual(envelopes[0]["from"], ["sender@origin.test"])


if __name__ == "__main__":
    ternlib.run_tests()
