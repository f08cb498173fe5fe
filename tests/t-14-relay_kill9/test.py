#!/usr/bin/python3
"""t-14-relay_kill9: relaying through a kill -9 loses no accepted message.

10 smtplib threads send up to 300 messages for remote.test through tern
(relay to a smarthost: the scripted aiosmtpd server, which stores each
message). tern is killed with SIGKILL after ~100 were accepted, then started
again on the same data_dir. Once its queue is empty, every message that got
250 has reached the smarthost. A message may arrive twice (delivered, then
the kill came before tern recorded it: RFC 5321 6.1 prefers that to a loss);
the count is printed.
"""
import os
import random
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kill9  # noqa: E402
import ternlib  # noqa: E402
from ternlib import Tern  # noqa: E402

LIB = Path(__file__).resolve().parent.parent / "lib"


class RelayKill9(unittest.TestCase):
    def test_relay_through_kill9(self):
        seed = int(os.environ.get("TERN_SEED") or time.time_ns() % 1000000)
        kill_after = random.Random(seed).randint(90, 130)
        print(f"TERN_SEED={seed} kill after {kill_after} accepted", flush=True)
        dump = ternlib.make_tempdir("tern-t14-")
        server = subprocess.Popen(["/usr/bin/python3", str(LIB / "scripted_smtp.py"), "--dump", str(dump),
                                   "--lifetime", "110"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            port = int(server.stdout.readline())
            t = Tern(users=["alice"], extra_toml=f'[relay]\nsmarthost = "127.0.0.1:{port}"\n'
                                                 '[queue]\nretry_interval = "1s"\nmax_retry_interval = "1s"')
            with t:
                accepted, unsure, at_kill = kill9.send_then_kill(t, "t14", "rcpt@remote.test", 300, 10,
                                                                 kill_after)
                print(f"accepted: {len(accepted)}, unsure: {len(unsure)}, queued at the kill: "
                      f"{len(at_kill)}", flush=True)
                self.assertGreaterEqual(len(accepted), 50, unsure)
                t.restart()
                t.wait_queue_empty(60)
                counts = kill9.message_ids("t14", [p.read_bytes() for p in dump.iterdir() if not p.name.startswith(".")])
                lost = sorted(i for i in accepted if i not in counts)
                self.assertEqual(lost, [], f"accepted (250) but never relayed (seed {seed})")
                dups = sorted(i for i, c in counts.items() if c > 1)
                print(f"relayed: {len(counts)}, twice: {len(dups)}", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    ternlib.run_tests()
