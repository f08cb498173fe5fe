#!/usr/bin/python3
"""t-20-data_dir_lock: one tern per data_dir.

Proves, through the real binary: while a tern runs (with a message half
received, its DATA unfinished), a second `tern serve` on the same data_dir
exits with status 1 and says "already running" within 10 s, whether its
config is the same file or differs in the listener port; it never listens,
and it touches nothing: the first tern's files in queue/tmp keep their
names and sizes, the half-received message completes with 250 and is
delivered whole, and the first tern goes on taking mail. The lock goes with
the process: after SIGTERM, and after kill -9 (a stale data_dir/lock file
with the dead pid), a new tern on that data_dir starts, and holds the lock
in its turn. The refusal names the pid of the running tern.
"""
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from ternlib import Tern, check  # noqa: E402

# More than the 64 KiB tern buffers before it writes to queue/tmp.
HEAD = (b"Subject: t-20 half received\r\nX-T20: half\r\n\r\n"
        + b"".join(b"first part line %05d of the message, sent before the second tern\r\n" % i
                   for i in range(1500)))
TAIL = b"".join(b"second part line %d\r\n" % i for i in range(50)) + b"the end\r\n"


def second_tern(config_path, cwd, port=None, timeout=10.0):
    """Runs `tern serve --config config_path` until it exits (at most
    `timeout` s, then it is killed). Returns (status or None when it had to
    be killed, output, whether it was ever seen listening on `port`)."""
    proc = subprocess.Popen([ternlib.tern_bin(), "serve", "--config", str(config_path)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            cwd=str(cwd), preexec_fn=ternlib._die_with_parent)
    listened = False
    deadline = time.monotonic() + timeout
    status = None
    try:
        while time.monotonic() < deadline:
            status = proc.poll()
            if status is not None:
                break
            if port is not None and port in ternlib._listening_ports():
                listened = True
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            status = None
            proc.kill()
        out = proc.communicate(timeout=10)[0]
    return status, out.decode("utf-8", "replace"), listened


def tmp_snapshot(t):
    return {p.name: p.stat().st_size for p in t.queue_files("tmp")}


def stable_tmp_snapshot(t):
    """queue/tmp once it has not changed for 0.5 s (tern prepares spare
    files in the background)."""
    last = [None]

    def same():
        now = tmp_snapshot(t)
        ok = now == last[0]
        last[0] = now
        return ok
    ternlib.wait_for(same, 10, 0.5, "queue/tmp to settle")
    return last[0]


class DataDirLock(unittest.TestCase):
    def start_half_message(self, t):
        """A session stopped in the middle of DATA; waits until the partial
        message is in queue/tmp."""
        d = ternlib.session(t.port)
        self.addCleanup(d.close)
        check(d.cmd("MAIL FROM:<sender@example.org>"), 250)
        check(d.cmd("RCPT TO:<alice@example.test>"), 250)
        check(d.cmd("DATA"), 354)
        d.send(HEAD)
        ternlib.wait_for(lambda: t.partial_queue_files(), 10, 0.05, "the partial message in queue/tmp")
        return d

    def finish_half_message(self, t, d):
        d.send(TAIL + b".\r\n")
        check(d.read_reply(), 250, "2.0.0", "the end of the half-received message")
        files = t.wait_maildir_count("alice", 1)
        _, rest = ternlib.split_trace(files[0].read_bytes())
        self.assertEqual(rest, ternlib.as_stored(HEAD + TAIL))

    def check_still_serving(self, t):
        self.assertTrue(t.running())
        d = ternlib.session(t.port)
        try:
            check(ternlib.transaction(d, "sender@example.org", ["bob@example.test"],
                                      "Subject: after\r\n\r\nstill here\r\n"), 250, "2.0.0")
        finally:
            d.close()
        t.wait_maildir_count("bob", 1)

    def assert_refused(self, status, out, what, holder=None):
        """The second tern exited 1 saying "already running" (and naming
        the pid of the tern that holds the lock, when given)."""
        self.assertIsNotNone(status, f"{what}: the second tern was still running after 10 s:\n{out[-2000:]}")
        self.assertEqual(status, 1, f"{what}: exit status\n{out[-2000:]}")
        self.assertIn("already running", out, what)
        if holder is not None:
            self.assertIn(f"(pid {holder.proc.pid})", out, what)

    def test_same_config(self):
        with Tern(users=["alice", "bob"]) as t:
            d = self.start_half_message(t)
            before = stable_tmp_snapshot(t)
            status, out, _ = second_tern(t.config_path, t.dir)
            self.assert_refused(status, out, "same config", holder=t)
            self.assertEqual(tmp_snapshot(t), before)
            self.finish_half_message(t, d)
            self.check_still_serving(t)

    def test_other_port(self):
        with Tern(users=["alice", "bob"]) as t:
            d = self.start_half_message(t)
            other = ternlib.free_port()
            text = t.config_text()
            self.assertEqual(text.count(f'"127.0.0.1:{t.port}"'), 1)
            config2 = t.dir / "tern-other-port.toml"
            config2.write_text(text.replace(f'"127.0.0.1:{t.port}"', f'"127.0.0.1:{other}"'))
            before = stable_tmp_snapshot(t)
            self.assertTrue(any(size > 0 for size in before.values()), before)
            status, out, listened = second_tern(config2, t.dir, port=other)
            self.assertFalse(listened, f"the second tern listened on {other}")
            self.assert_refused(status, out, "other port", holder=t)
            self.assertEqual(tmp_snapshot(t), before, "queue/tmp changed by the second tern")
            self.finish_half_message(t, d)
            self.check_still_serving(t)

    def test_lock_goes_with_the_process(self):
        t = Tern(users=["alice", "bob"]).start()
        try:
            self.assertEqual(t.stop(), 0)
            t.restart()  # raises when it does not start
            status, out, _ = second_tern(t.config_path, t.dir)
            self.assert_refused(status, out, "after a restart", holder=t)
            killed = t.proc.pid
            t.kill9()
            # The lock file stays behind, naming the killed process; it
            # must not block the next start.
            lock = t.data_dir / "lock"
            self.assertTrue(lock.is_file(), "data_dir/lock after kill -9")
            self.assertIn(str(killed), lock.read_text())
            t.restart()
            status, out, _ = second_tern(t.config_path, t.dir)
            self.assert_refused(status, out, "after kill -9 and a restart", holder=t)
            d = ternlib.session(t.port)
            try:
                check(ternlib.transaction(d, "sender@example.org", ["alice@example.test"],
                                          "Subject: after kill\r\n\r\nhello\r\n"), 250, "2.0.0")
            finally:
                d.close()
            t.wait_maildir_count("alice", 1)
        finally:
            t.stop()


if __name__ == "__main__":
    ternlib.run_tests()
