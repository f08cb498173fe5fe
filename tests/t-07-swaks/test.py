#!/usr/bin/python3
"""t-07-swaks: a real SMTP client (swaks, Perl) delivers through tern.

Proves: swaks to alice@example.test succeeds (exit 0) plain, with --pipeline,
and with an 8bit UTF-8 body, and each message is delivered once with its body
intact.
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402

SWAKS = shutil.which("swaks") or "/usr/bin/swaks"


class Swaks(ternlib.SharedTern):
    tern_options = dict(users=["alice"], domains=["example.test"])
    count = 0

    def swaks(self, *args):
        cmd = [SWAKS, "--server", f"127.0.0.1:{self.tern.port}", "--to", "alice@example.test",
               "--from", "sender@example.org", "--helo", "client.example", "--timeout", "30",
               *args]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, f"{' '.join(cmd)} exited {p.returncode}:\n{out}")
        self.assertRegex(out, r"<-  250 2\.0\.0 .*queued as [0-9A-Z]{15}")
        Swaks.count += 1
        return out

    def delivered_with(self, marker):
        files = self.tern.wait_maildir_count("alice", Swaks.count)
        mine = [f.read_bytes() for f in files if marker in f.read_bytes()]
        self.assertEqual(len(mine), 1, f"messages holding {marker!r}")
        return ternlib.split_trace(mine[0])[1]

    def test_1_plain(self):
        out = self.swaks("--header", "X-T07: plain")
        self.assertIn("EHLO client.example", out)
        msg = self.delivered_with(b"X-T07: plain")
        self.assertIn(b"This is a test mailing", msg)  # swaks' default body

    def test_2_pipeline(self):
        out = self.swaks("--pipeline", "--header", "X-T07: pipelined")
        self.assertNotIn("does not support pipelining", out.lower())
        self.delivered_with(b"X-T07: pipelined")

    def test_3_8bit_body(self):
        body = "Grüße aus Köln — ½ € ✓\r\nzweite Zeile\r\n"
        data = ("From: sender@example.org\r\nTo: alice@example.test\r\nSubject: 8bit\r\n"
                "X-T07: 8bit\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\n" + body[:-2])  # swaks adds the last CRLF
        path = ternlib.make_tempdir() / "msg.eml"
        path.write_bytes(data.encode("utf-8"))
        self.swaks("--data", str(path))
        msg = self.delivered_with(b"X-T07: 8bit")
        self.assertEqual(ternlib.message_body(msg), ternlib.as_stored(body.encode("utf-8")))


if __name__ == "__main__":
    ternlib.run_tests()
