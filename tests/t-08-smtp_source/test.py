#!/usr/bin/python3
"""t-08-smtp_source: load from Postfix's smtp-source.

Proves: 500 messages of 2 KB from 10 parallel sessions (one connection per
message) are all accepted (smtp-source exits 0) and all delivered: 500 files
in alice's new/, data_dir/queue/active empty (bounded wait of 60 s, which is
a liveness bound, not a timing assertion).
"""
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from ternlib import Tern  # noqa: E402

SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
N = 500


class SmtpSource(unittest.TestCase):
    def test_500_messages(self):
        with Tern(users=["alice"], domains=["example.test"]) as t:
            cmd = [SMTP_SOURCE, "-s", "10", "-m", str(N), "-l", "2048",
                   "-f", "sender@example.test", "-t", "alice@example.test",
                   "-M", "client.example", f"127.0.0.1:{t.port}"]
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=100)
            out = (p.stdout + p.stderr).decode("utf-8", "replace")
            self.assertEqual(p.returncode, 0, f"{' '.join(cmd)} exited {p.returncode}:\n{out[-3000:]}")
            try:
                ternlib.wait_for(lambda: len(t.maildir("alice")) >= N, 60, 0.2,
                                 f"{N} messages in alice/new")
                t.wait_queue_empty(60)
            except AssertionError:
                pass  # the counts below say what is missing
            files = t.maildir("alice")
            self.assertEqual(len(files), N, f"files in alice/new; queue/active holds "
                             f"{len(t.queue_files('active'))}")
            self.assertEqual(t.queue_files("active"), [])
            self.assertEqual(t.maildir("alice", sub="tmp"), [])
            # every message carries smtp-source's 2048-octet payload
            for f in files[:20]:
                _, msg = ternlib.split_trace(f.read_bytes())
                self.assertGreaterEqual(len(ternlib.message_body(msg)), 2000, f.name)
            self.assertEqual(len(t.wait_log_events("queued", N)), N)
            self.assertEqual(len(t.wait_log_events("delivered", N)), N)


if __name__ == "__main__":
    ternlib.run_tests()
