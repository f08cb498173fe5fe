#!/usr/bin/python3
"""t-12-full_disk: a full disk is a temporary failure, and nothing is lost.

Proves: with data_dir on a small ext4 file system (a loop-mounted image, with
a journal, as tern wants it) that fills up, a message that no longer
fits gets 452 4.3.1 (never 250, never a crash or a dropped connection); the
server keeps answering; and once space is freed, every message that got 250
is delivered exactly once (deliveries that failed on the full disk are
retried after [queue] retry_interval).

Needs root to mount a loop device; without it the test is skipped (ternlib
exits 77). (Not a tmpfs: tern refuses to keep its queue in memory.)
"""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from ternlib import Tern, check  # noqa: E402

DISK = 8 * 1024 * 1024  # the image; ext4 keeps about 6 MB of it for files
MESSAGE_BODY = ("x" * 76 + "\r\n") * 1300  # about 100 KB


def mount_ext4(path, size, journal=True):
    image = ternlib.make_tempdir("tern-fulldisk-image-") / "disk.ext4"
    with open(image, "wb") as f:
        f.truncate(size)
    features = [] if journal else ["-O", "^has_journal"]
    made = subprocess.run(["mkfs.ext4", "-q", "-F", *features, str(image)], capture_output=True)
    if made.returncode != 0:
        return False
    r = subprocess.run(["mount", "-o", "loop", str(image), str(path)], capture_output=True)
    return r.returncode == 0


def mount_tmpfs(path):
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(path)], capture_output=True)
    return r.returncode == 0


class FileSystems(unittest.TestCase):
    """Where data_dir may live: not in memory; ext4 without a journal with a
    warning (docs/operations.md, "File systems")."""

    def mounted(self, mount, *args):
        mnt = ternlib.make_tempdir("tern-fs-")
        if not mount(mnt, *args):
            raise unittest.SkipTest("cannot mount here (needs root)")
        self.addCleanup(subprocess.run, ["umount", "-l", str(mnt)], capture_output=True)
        return mnt

    def test_tmpfs_is_refused(self):
        t = Tern(users=["alice"])
        t.data_dir = self.mounted(mount_tmpfs) / "data"
        with self.assertRaises(AssertionError) as failed:
            t.start()
        self.assertIn("exited with 1", str(failed.exception))
        self.assertIn("in memory (tmpfs)", t.log_text())
        self.assertFalse((t.data_dir / "queue").exists(), "nothing written to a tmpfs queue")

    def test_ext4_without_journal_is_a_warning(self):
        t = Tern(users=["alice"])
        t.data_dir = self.mounted(mount_ext4, DISK, False) / "data"
        with t:
            warned = t.wait_log_events("data_dir_unsafe")
            self.assertIn("without a journal", warned[0]["detail"])
            d = ternlib.session(t.port)
            check(ternlib.transaction(d, "bob@client.example", ["alice@example.test"], "Subject: x\r\n\r\nx\r\n"),
                  250, "2.0.0", what="mail on ext4 without a journal")
            d.close()

    def test_ext4_with_journal_is_quiet(self):
        t = Tern(users=["alice"])
        t.data_dir = self.mounted(mount_ext4, DISK) / "data"
        with t:
            ternlib.session(t.port).close()
            self.assertEqual(t.log_events("data_dir_unsafe"), [])


class FullDisk(unittest.TestCase):
    def test_full_disk_is_452_and_loses_nothing(self):
        mnt = ternlib.make_tempdir("tern-fulldisk-")
        if not mount_ext4(mnt, DISK):
            raise unittest.SkipTest("cannot mount a loop device here (needs root)")
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
            free = os.statvfs(mnt)
            filler.write_bytes(b"\0" * (free.f_bavail * free.f_frsize - 700 * 1024))
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
