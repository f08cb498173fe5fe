#!/usr/bin/python3
"""t-11-addresses: MAIL FROM / RCPT TO (and EHLO) arguments from
../shared/conformance/addresses/smtp-paths.json, sent to the real server.

Per the data's README ("Server test"): each case's `line` is sent in its own
session (RCPT cases after `MAIL FROM:<>`, with ` SMTPUTF8` when the case says
smtputf8), `argument_hex` gives the raw octets where JSON cannot. The server
runs with accept_any_user = true and a local domain list holding the domain of
every RCPT case expected to be accepted (address literals and the all-numeric
192.0.2.1 excepted: relay is not implemented, so for those 554 5.7.1 "relay
access denied" counts as accepted syntax; a 501/5.5.x would not).

Outcomes: "accept" = 2xx (or 554 5.7.1 for a non-local RCPT), "reject" = any
other 5xx. Expected accept -> accept; expected reject -> reject.

Lenient alternatives (recorded choice): where a case has
`lenient_alternative`, this test accepts the alternative too (for reject
cases: accepting the address; for accept cases: refusing it with a 5xx), and
prints which way tern went for each such case. The strict outcome is what the
RFC grammar says; the alternative is a policy choice the data allows.

Extra: a few accepted forms are delivered and must land in the right Maildir
(source route dropped, domain case folded, quotes of a plain local part
removed), and local parts such as "../.." or "a/b" never create anything
outside data_dir/mail/<domain>/<one directory>.
"""
import os
import sys
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from ternlib import Tern, check, session, send_data  # noqa: E402

DATA = ternlib.load_json("conformance/addresses/smtp-paths.json")
CASES = DATA["cases"]


def local_domains():
    out = ["example.com"]
    for c in CASES:
        if c["command"] == "RCPT" and c["expected"] == "accept":
            dom = (c.get("mailbox") or {}).get("domain")
            if dom and not dom.startswith("[") and not dom.replace(".", "").isdigit():
                if dom.lower() not in out:
                    out.append(dom.lower())
    return out


def line_bytes(c):
    if "argument_hex" in c:
        verb = {"MAIL": b"MAIL FROM:", "RCPT": b"RCPT TO:", "EHLO": b"EHLO "}[c["command"]]
        return verb + bytes.fromhex(c["argument_hex"])
    return c["line"].encode("utf-8")


class Addresses(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.domains = local_domains()
        cls.tern = Tern(users=[], domains=cls.domains, accept_any_user=True,
                        limits={"max_connections_per_ip": 1000}).start()
        cls.lenient_taken = []

    @classmethod
    def tearDownClass(cls):
        cls.tern.stop()
        if cls.lenient_taken:
            print("\nlenient alternatives taken by tern:")
            for cid, what in cls.lenient_taken:
                print(f"  {cid}: {what}")

    def run_case(self, c):
        d = session(self.tern.port, ehlo=None if c["command"] == "EHLO" else "client.example")
        try:
            if c["command"] == "RCPT":
                mail = "MAIL FROM:<>" + (" SMTPUTF8" if c["smtputf8"] else "")
                check(d.cmd(mail), 250, what=mail)
            d.line(line_bytes(c))
            r = d.read_reply()
            try:
                d.cmd("QUIT")
            except (OSError, ternlib.ConnectionClosed):
                pass
            return r
        finally:
            d.close()

    def classify(self, c, r):
        if 200 <= r.code < 300:
            return "accept"
        if c["command"] == "RCPT" and r.code == 554 and r.enhanced == "5.7.1":
            dom = ((c.get("mailbox") or {}).get("domain") or "").lower()
            if dom in self.domains:
                return f"refused a local domain as relay ({r})"
            return "accept"  # syntax accepted, relay refused
        if 500 <= r.code < 600:
            return "reject"
        return f"unexpected ({r})"

    def test_cases(self):
        self.assertEqual(len(CASES), DATA["case_count"])
        for c in CASES:
            with self.subTest(case=c["id"]):
                r = self.run_case(c)
                got = self.classify(c, r)
                want = c["expected"]
                if got == want:
                    continue
                alt = c.get("lenient_alternative", "")
                lenient_ok = (want == "reject" and got == "accept" and "accept" in alt) or \
                             (want == "accept" and got == "reject" and "reject" in alt)
                if lenient_ok:
                    Addresses.lenient_taken.append((c["id"], f"{got} ({r}); data: {alt!r}"))
                    continue
                self.fail(f"{c['id']}: {c['line'][:100]!r} expected {want}"
                          f" (reply_if_rejected {c.get('reply_if_rejected')}), got {got}: {r}")

    def deliver(self, rcpt_line, marker):
        d = session(self.tern.port)
        try:
            check(d.cmd("MAIL FROM:<s@example.org>"), 250)
            r = d.cmd(rcpt_line)
            if r.code != 250:
                return r
            return send_data(d, f"Subject: t11\r\nX-T11: {marker}\r\n\r\nx\r\n")
        finally:
            d.close()

    def test_delivery_mailbox(self):
        for line, marker in (("RCPT TO:<@relay.example:user@example.com>", "route"),
                             ("RCPT TO:<User@EXAMPLE.COM>", "upper"),
                             ('RCPT TO:<"user"@example.com>', "quoted")):
            with self.subTest(line=line):
                check(self.deliver(line, marker), 250, "2.0.0", line)
                files = ternlib.wait_for(
                    lambda: [f for f in self.tern.maildir("user", "example.com")
                             if f"X-T11: {marker}".encode() in f.read_bytes()],
                    30, what=f"message {marker} in mail/example.com/user/new")
                self.assertEqual(len(files), 1)

    def test_no_path_traversal(self):
        tag = "evil-" + uuid.uuid4().hex[:12]
        tmp_target = f"/tmp/{tag}"
        lines = [f'RCPT TO:<"../../../../../../../..{tmp_target}"@example.com>',
                 f'RCPT TO:<"../../{tag}"@example.com>',
                 f"RCPT TO:<{tag}/sub@example.com>",
                 'RCPT TO:<".."@example.com>',
                 'RCPT TO:<"."@example.com>']
        for line in lines:
            r = self.deliver(line, tag)
            self.assertTrue(r.code == 250 or 500 <= r.code < 600, f"{line}: {r}")
        try:
            self.tern.wait_queue_empty(15)
        except AssertionError:
            pass  # a message tern could not deliver may stay queued: not checked here
        self.assertFalse(os.path.exists(tmp_target), f"{tmp_target} was created")
        mail = self.tern.data_dir / "mail"
        bad = []
        for root, dirs, files in os.walk(self.tern.dir):
            for name in dirs + files:
                p = os.path.relpath(os.path.join(root, name), self.tern.dir)
                parts = p.split(os.sep)
                if parts[0] in ("tern.toml", "tern.log"):
                    continue
                if parts[:2] == ["data", "queue"]:
                    continue
                if parts[:2] == ["data", "mail"]:
                    # data/mail/<domain>/<mailbox>/<tmp|new|cur>/<file>
                    if len(parts) > 6 or (len(parts) >= 5 and parts[4] not in ("tmp", "new", "cur")):
                        bad.append(p)
                    if len(parts) >= 4 and parts[3] in (".", ".."):
                        bad.append(p)
                    continue
                # lock: the data_dir lock; maildrop: the sendmail command's drop directory (empty here);
                # control.sock: tern queue's socket
                if parts in (["data"], ["data", "lock"], ["data", "maildrop"], ["data", "control.sock"]):
                    continue
                bad.append(p)
        self.assertEqual(bad, [], f"paths outside data_dir/mail/<domain>/<mailbox>/ (mail dir {mail})")


if __name__ == "__main__":
    ternlib.run_tests()
