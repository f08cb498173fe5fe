#!/usr/bin/python3
"""bench/dovecot.py — a private Dovecot for bench/lmtp.sh: not a benchmark.

    /usr/bin/python3 bench/dovecot.py WORKDIR DOMAIN USER...

Starts tests/lib/private_dovecot.py's PrivateDovecot in WORKDIR (LMTP on the unix
socket WORKDIR/lmtp only, no TCP port), with USER@DOMAIN as its users (Maildirs
WORKDIR/mail/DOMAIN/USER/Maildir), prints `ready SOCKET_PATH` once the socket
greets and the userdb answers, then waits. SIGTERM or SIGINT stops Dovecot (its
whole process group) and the helper prints `stopped STATUS` and exits 0. If
Dovecot exits by itself, the helper prints `dovecot exited STATUS` and exits 1.
Dovecot runs with PR_SET_PDEATHSIG: it gets SIGKILL if this helper dies anyway.
A failed start prints `failed: REASON` (with the tail of Dovecot's log), exit 1.
"""
import signal
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "lib"))
from private_dovecot import PrivateDovecot  # noqa: E402

stop_requested = False


def request_stop(signum, frame):
    global stop_requested
    stop_requested = True


def main():
    if len(sys.argv) < 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    workdir, domain, users = sys.argv[1], sys.argv[2], sys.argv[3:]
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    d = PrivateDovecot(workdir, users={u: "bench" for u in users}, domain=domain,
                       hostname="lmtp.bench.example.org")
    try:
        d.start(timeout=30)
    except (AssertionError, unittest.SkipTest, OSError) as e:
        print(f"failed: {e}", flush=True)
        d.stop()
        return 1
    print(f"ready {d.socket_path}", flush=True)
    while not stop_requested and d.running():
        time.sleep(0.2)
    if not stop_requested:
        print(f"dovecot exited {d.proc.returncode}", flush=True)
        d.stop()
        return 1
    print(f"stopped {d.stop()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
