#!/usr/bin/python3
"""t-09-kill9: kill -9 under load loses no accepted message and duplicates none.

10 smtplib threads send up to 300 messages, each with its own Message-ID;
every message that got the 250 after DATA is recorded. At a random point
(after ~100 accepted) tern gets SIGKILL. It is started again on the same
data_dir; once data_dir/queue/active is empty (bounded wait), every accepted
message is in alice's Maildir exactly once, no message is there twice, and
data_dir/queue/tmp holds no partial message (only empty spare files).

The random point comes from TERN_SEED when set (printed for reproduction).
"""
import os
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kill9  # noqa: E402
import ternlib  # noqa: E402
from ternlib import Tern  # noqa: E402

N = 300
THREADS = 10


class Kill9(unittest.TestCase):
    def test_kill9_under_load(self):
        seed = int(os.environ.get("TERN_SEED") or time.time_ns() % 1000000)
        kill_after = random.Random(seed).randint(90, 130)
        print(f"TERN_SEED={seed} kill after {kill_after} accepted", flush=True)

        t = Tern(users=["alice"], domains=["example.test"])
        with t:
            acc, unsure, at_kill = kill9.send_then_kill(t, "t09", "alice@example.test", N, THREADS,
                                                        kill_after)
            for f in at_kill:  # contract: data_dir/queue/active/<QUEUEID>
                self.assertRegex(f.name, r"^[0-9A-Z]{15}$")
            print(f"accepted before the kill: {len(acc)}; unsure: {len(unsure)}; "
                  f"in queue/active at the kill: {len(at_kill)}; "
                  f"partial in queue/tmp: {len(t.partial_queue_files())}", flush=True)
            self.assertGreaterEqual(len(acc), min(kill_after, 50),
                                    f"too few messages accepted before the kill: {unsure}")

            t.restart()
            try:
                t.wait_queue_empty(60)
            except AssertionError:
                pass  # reported below with the counts
            self.assertEqual(t.queue_files("active"), [], "queue/active after restart")
            self.assertEqual(t.partial_queue_files(), [], "partial files in queue/tmp after restart")

            files = t.maildir("alice")
            counts = kill9.message_ids("t09", [f.read_bytes() for f in files])
            self.assertEqual(sum(counts.values()), len(files), "a delivered file without our Message-ID")
            lost = sorted(i for i in acc if counts.get(i, 0) == 0)
            dups = sorted(i for i, c in counts.items() if c > 1)
            strangers = sorted(i for i in counts if i not in acc and i not in unsure)
            self.assertEqual(lost, [], f"accepted (250) but not delivered (seed {seed})")
            self.assertEqual(dups, [], f"delivered more than once (seed {seed})")
            self.assertEqual(strangers, [], "delivered but never sent")
            print(f"delivered: {len(counts)} ({len(counts) - len(acc & set(counts))} of them "
                  f"unacknowledged before the kill)", flush=True)


if __name__ == "__main__":
    ternlib.run_tests()
