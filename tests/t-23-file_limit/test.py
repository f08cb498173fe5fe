#!/usr/bin/python3
"""t-23-file_limit: running out of file descriptors costs no core and no log flood.

Proves: tern raises its soft RLIMIT_NOFILE to the hard limit at start (a
soft limit of 64 under a hard one of 4096 becomes 4096, /proc/PID/limits and
event=file_limit say so); with soft = hard = 160 and 300 clients connected at
once, accept() fails with EMFILE: tern backs off instead of spinning (under
0.6 s of CPU in 3 s; before, a whole core) and logs accept_error at most once
per 10 s (before, ~14 MB/s of log lines); once the clients leave it accepts
and delivers mail again.
"""
import os
import smtplib
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from ternlib import Tern  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
MESSAGE = "From: s@example.org\r\nTo: alice@example.test\r\nSubject: after\r\n\r\nbody\r\n"


def sanitized(binary):
    """True for an ASan/UBSan build: UBSan's checks open descriptors of their
    own (a pipe to probe memory) and report false errors when none is left."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    return "libasan" in out or "libubsan" in out


def cpu_seconds(pid):
    """User + system CPU time of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def open_files_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3]), int(line.split()[4])
    raise AssertionError("no 'Max open files' line")


class FileLimit(unittest.TestCase):
    def test_soft_limit_raised_to_hard(self):
        t = Tern(users=["alice"], nofile=(64, 4096)).start()
        try:
            self.assertEqual(open_files_limit(t.proc.pid), (4096, 4096))
            t.wait_log_events("file_limit", soft="4096", hard="4096")
        finally:
            self.assertEqual(t.stop(), 0)

    def test_accept_at_the_limit_backs_off(self):
        if sanitized(ternlib.tern_bin()):
            self.skipTest("sanitizers need descriptors of their own at the limit")
        limits = {"max_connections": 5000, "max_connections_per_ip": 5000}
        t = Tern(users=["alice"], limits=limits, nofile=(160, 160)).start()
        clients = []
        try:
            for _ in range(300):  # more than tern has descriptors for
                c = socket.create_connection(("127.0.0.1", t.port), timeout=5)
                clients.append(c)
            t.wait_log_events("accept_error", timeout=10)
            before = cpu_seconds(t.proc.pid)
            time.sleep(3)
            spent = cpu_seconds(t.proc.pid) - before
            self.assertLess(spent, 0.6, f"tern used {spent:.2f} s of CPU in 3 s at the descriptor limit")
            errors = t.log_events("accept_error")
            self.assertLessEqual(len(errors), 2, f"{len(errors)} accept_error lines in ~3 s")
            self.assertTrue(t.running())
        finally:
            for c in clients:
                c.close()
        # The clients are gone: descriptors come back and mail flows again.
        def delivered():
            try:
                with smtplib.SMTP("127.0.0.1", t.port, timeout=5) as s:
                    s.sendmail("s@example.org", ["alice@example.test"], MESSAGE)
                return True
            except (OSError, smtplib.SMTPException):
                return False
        ternlib.wait_for(delivered, 30, 0.5, "a message accepted after the clients left")
        t.wait_maildir_count("alice", 1)
        self.assertEqual(t.stop(), 0)


if __name__ == "__main__":
    ternlib.run_tests()
