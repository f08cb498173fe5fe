#!/usr/bin/python3
"""t-12-full_disk: a full disk is a temporary failure, and nothing is lost.

Proves: with data_dir on a small tmpfs that fills up, a message that no longer
fits gets 452 4.3.1 (never 250, never a crash or a dropped connection); the
server keeps answering; and once space is freed, every message that got 250
is delivered exactly once (deliveries that failed on the full disk are
retried after [queue] retry_interval).

Needs root to mount a tmpfs; without it the test is skipped (ternlib exits 77).
"""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from ternlib import Tern, check  # noqa: E402

DISK = 2 * 1024 * 1024
MESSAGE_BODY = ("x" * 76 + "\r\n") * 1300  # about 100 KB


def mount_tmpfs(path, size):
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True)
    return r.returncode == 0


class FullDisk(unittest.TestCase):
    def test_full_disk_is_452_and_loses_nothing(self):
        mnt = ternlib.make_tempdir("tern-fulldisk-")
        if not mount_tmpfs(mnt, DISK):
            raise unittest.SkipTest("cannot mount a tmpfs here (needs root)")
        try:
            self.run_scenario(mnt)
        finally:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)

    def run_scenario(self, mnt):
        t = Tern(users=["alice"], extra_toml='[queue]\nretry_interval = "1s"')
        t.data_dir = mnt / "data"
        filler = mnt / "filler"
        with t:
            # Leave room for a few messages only.
            filler.write_bytes(b"\0" * (DISK - 700 * 1024))
            accepted, refused = [], 0
            d = ternlib.session(t.port)
            for i in range(40):
                msg_id = f"<full-{i}@client.example>"
                message = f"Message-ID: {msg_id}\r\nSubject: {i}\r\n\r\n{MESSAGE_BODY}"
                reply = ternlib.transaction(d, "bob@client.example", ["alice@example.test"], message)
                if reply.code == 250:
                    accepted.append(msg_id)
                    continue
                check(reply, 452, "4.3.1", what=f"message {i} on a full disk")
                refused += 1
                check(d.cmd("RSET"), 250, what="RSET after 452")
                if refused >= 3:
                    break
            self.assertGreater(refused, 0, "the disk never filled up")
            self.assertGreater(len(accepted), 0, "nothing fit on the disk at all")
            check(d.cmd("NOOP"), 250, what="server alive after a full disk")
            check(d.cmd("QUIT"), 221)
            d.close()
            filler.unlink()
            t.wait_queue_empty(60)
            delivered = []
            for f in t.maildir("alice"):
                for line in f.read_bytes().split(b"\n"):
                    if line.lower().startswith(b"message-id:"):
                        delivered.append(line.split(b":", 1)[1].strip().decode())
            self.assertEqual(sorted(delivered), sorted(accepted),
                             "every message that got 250 is delivered exactly once")
            self.assertEqual(t.partial_queue_files(), [])


if __name__ == "__main__":
    ternlib.run_tests()
