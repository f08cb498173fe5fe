#!/usr/bin/python3
"""t-16-relay_10k_kill9: 10,000 messages relayed end to end through a kill -9.

10 smtplib threads send 10,000 messages for remote.test through tern, which
relays them to Postfix's smtp-sink (the smarthost; it stores each message).
tern is killed with SIGKILL after 3,000-6,000 were accepted, started again
on the same data_dir, and the messages that did not get a 250 are sent again.
Once the queue is empty, every one of the 10,000 messages has reached
smtp-sink: none lost. A message may arrive twice (relayed, then the kill came
before tern recorded it: RFC 5321 6.1 prefers that to a loss); the count is
printed, as is the rate.
"""
import os
import random
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kill9  # noqa: E402
import ternlib  # noqa: E402
from ternlib import Tern  # noqa: E402

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
N = 10000
THREADS = 10


def stored(dump):
    return [p.read_bytes() for p in dump.rglob("*") if p.is_file()]


class Relay10kKill9(unittest.TestCase):
    def test_10k_relayed_through_kill9(self):
        if not os.path.exists(SMTP_SINK):
            raise unittest.SkipTest("smtp-sink not installed")
        seed = int(os.environ.get("TERN_SEED") or time.time_ns() % 1000000)
        kill_after = random.Random(seed).randint(3000, 6000)
        print(f"TERN_SEED={seed} kill after {kill_after} accepted", flush=True)
        dump = ternlib.make_tempdir("tern-t16-")
        os.chmod(dump, 0o777)  # smtp-sink runs as nobody when we are root
        port = ternlib.free_port()
        args = [SMTP_SINK, "-d", f"{dump}/%M.", f"127.0.0.1:{port}", "100"]
        if os.geteuid() == 0:
            args[1:1] = ["-u", "nobody"]
        sink = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.3)
            t = Tern(users=["alice"], log_level="warn",
                     extra_toml=f'[relay]\nsmarthost = "127.0.0.1:{port}"\n'
                                '[queue]\nretry_interval = "1s"\nmax_retry_interval = "1s"')
            with t:
                started = time.monotonic()
                accepted, unsure, at_kill = kill9.send_then_kill(t, "t16", "rcpt@remote.test", N, THREADS,
                                                                 kill_after)
                print(f"before the kill: accepted {len(accepted)}, unsure {len(unsure)}, "
                      f"queued at the kill {len(at_kill)}", flush=True)
                self.assertGreaterEqual(len(accepted), 1000, list(unsure.items())[:5])
                t.restart()
                rest = [i for i in range(N) if i not in accepted]
                more, failed = kill9.send_all(t, "t16", "rcpt@remote.test", rest, THREADS)
                self.assertEqual(failed, {}, "after the restart every message gets 250")
                accepted |= more
                self.assertEqual(len(accepted), N)
                t.wait_queue_empty(120)
                elapsed = time.monotonic() - started
                self.assertEqual(t.partial_queue_files(), [])
            counts = kill9.message_ids("t16", stored(dump))
            lost = sorted(i for i in accepted if i not in counts)
            self.assertEqual(lost[:20], [], f"{len(lost)} accepted (250) but never relayed (seed {seed})")
            dups = sum(1 for c in counts.values() if c > 1)
            print(f"relayed: {len(counts)} of {N}, twice: {dups}, "
                  f"{N / elapsed:.0f} msgs/s end to end including the kill and restart", flush=True)
        finally:
            sink.terminate()
            sink.wait(timeout=10)


if __name__ == "__main__":
    ternlib.run_tests()
