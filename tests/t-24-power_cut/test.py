#!/usr/bin/python3
"""t-24-power_cut: power cuts under load lose no acknowledged message.

A kill -9 (t-09) leaves the kernel's page cache alive: what tern wrote but did
not sync still reaches the disk. A power cut does not. Here data_dir is on a
small ext4 file system (a loop-mounted image, with its journal), and the cut
is the ext4 shutdown ioctl without a log flush (EXT4_IOC_SHUTDOWN,
EXT4_GOING_FLAGS_NOLOGFLUSH, as xfstests' "godown"): from that instant
nothing more reaches the disk, and what was not committed is gone. Then tern
is killed, the file system unmounted and mounted again (the journal is
replayed), and tern started on what the disk kept.

Six rounds: 10 smtplib threads send while tern delivers into alice's
Maildir; the power goes out after a random number of 250s. At the end every
message that got a 250 is in the Maildir exactly once and whole (its body
intact), and the queue is empty.

Needs root (mount); skipped otherwise. TERN_SEED reproduces the cut points.
"""
import fcntl
import os
import random
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kill9  # noqa: E402
import ternlib  # noqa: E402
from ternlib import Tern  # noqa: E402

ROUNDS = 6
N = 400
THREADS = 10
EXT4_IOC_SHUTDOWN = 0x8004587D  # _IOR('X', 125, __u32)
NOLOGFLUSH = 2


def mount(image, mnt):
    return subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], capture_output=True).returncode == 0


def power_cut(mnt):
    fd = os.open(mnt, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, EXT4_IOC_SHUTDOWN, struct.pack("I", NOLOGFLUSH))
    finally:
        os.close(fd)


class PowerCut(unittest.TestCase):
    def setUp(self):
        self.image = ternlib.make_tempdir("tern-powercut-image-") / "disk.ext4"
        with open(self.image, "wb") as f:
            f.truncate(256 * 1024 * 1024)
        made = subprocess.run(["mkfs.ext4", "-q", "-F", str(self.image)], capture_output=True)
        self.mnt = ternlib.make_tempdir("tern-powercut-")
        if made.returncode != 0 or not mount(self.image, self.mnt):
            raise unittest.SkipTest("cannot mount a loop device here (needs root)")
        self.addCleanup(subprocess.run, ["umount", "-l", str(self.mnt)], capture_output=True)

    def remount(self):
        r = subprocess.run(["umount", str(self.mnt)], capture_output=True)
        self.assertEqual(r.returncode, 0, f"umount after the power cut: {r.stderr!r}")
        self.assertTrue(mount(self.image, self.mnt), "mount after the power cut (journal replay)")

    def test_power_cuts_under_load(self):
        seed = int(os.environ.get("TERN_SEED") or time.time_ns() % 1000000)
        rng = random.Random(seed)
        print(f"TERN_SEED={seed}", flush=True)
        t = Tern(users=["alice"], domains=["example.test"])
        t.data_dir = self.mnt / "data"
        accepted = {}  # tag -> message numbers that got 250
        with t:
            for r in range(ROUNDS):
                tag = f"t24r{r}"
                cut_after = rng.randint(60, 200)
                workers, acc, unsure, lock = kill9._start(t, tag, "alice@example.test", list(range(N)), THREADS)
                ternlib.wait_for(lambda: len(acc) >= cut_after or not any(w.is_alive() for w in workers),
                                 60, 0.001, f"{cut_after} messages accepted")
                power_cut(self.mnt)
                with lock:
                    accepted[tag] = set(acc)  # a 250 after the cut cannot come: nothing is durable
                t.kill9()
                kill9._join(workers)
                print(f"round {r}: power cut after {len(accepted[tag])} accepted", flush=True)
                self.remount()
                t.start()
            t.wait_queue_empty(120)
            self.assertEqual(t.queue_files("active"), [], "queue/active at the end")
            contents = [f.read_bytes() for f in t.maildir("alice")]
            for tag, acc in accepted.items():
                counts = kill9.message_ids(tag, contents)
                whole = kill9.message_ids(tag, [c for c in contents if b"x" * 200 in c])
                lost = sorted(i for i in acc if counts.get(i, 0) == 0)
                damaged = sorted(i for i in acc if counts.get(i, 0) and not whole.get(i, 0))
                dups = sorted(i for i, c in counts.items() if c > 1)
                self.assertEqual(lost, [], f"{tag}: accepted (250) but not delivered (seed {seed})")
                self.assertEqual(damaged, [], f"{tag}: delivered cut short (seed {seed})")
                self.assertEqual(dups, [], f"{tag}: delivered more than once (seed {seed})")
            empty = [f.name for f in t.maildir("alice") if f.stat().st_size == 0]
            self.assertEqual(empty, [], "empty files in the Maildir")


if __name__ == "__main__":
    ternlib.run_tests()
