"""Shared helpers for tern's integration tests (tests/t-NN-*/test.py).

Each scenario starts the real binary (env TERN_BIN, default <repo>/build/tern)
with a config written into a fresh temporary directory: a free loopback port,
data_dir inside the temporary directory, stderr redirected to tern.log there.
Every process a test starts is stopped by it (Tern.stop / context manager, and
an atexit hook as a last resort).  Only 127.0.0.1 and ::1 are used.

Run a test with /usr/bin/python3 (the Debian interpreter).
"""

import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

from dialog import (QUEUE_ID_RE, ConnectionClosed, Dialog, Reply, check,  # noqa: F401 (re-exported)
                    queue_id, send_data, send_mail, session, transaction)

REPO = Path(__file__).resolve().parents[2]

DEFAULT_HOSTNAME = "mx.example.test"


def tern_bin():
    return os.environ.get("TERN_BIN") or str(REPO / "build" / "tern")


def shared_dir():
    return Path(os.environ.get("TERN_SHARED") or (REPO.parent / "shared"))


def load_json(relpath):
    """Reads a file from the shared conformance data (read-only)."""
    with open(shared_dir() / relpath, "rb") as f:
        return json.loads(f.read().decode("utf-8"))


# --------------------------------------------------------------------------
# ports, waiting


def free_port(host="127.0.0.1"):
    """A port that was free a moment ago (bind to port 0, read it, close)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ipv6_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _listening_ports():
    """Ports in LISTEN state, read from /proc (no connection is made, so the
    server's connection counters are not disturbed)."""
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if len(parts) > 3 and parts[3] == "0A":
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def _listening_unix_paths():
    """Paths (bytes) of Unix stream sockets in LISTEN state (flag
    __SO_ACCEPTCON in /proc/net/unix; the path is the rest of the line, as
    is). A socket file left by a killed process is not listed."""
    paths = set()
    try:
        with open("/proc/net/unix", "rb") as f:
            next(f)
            for line in f:
                parts = line.rstrip(b"\n").split(None, 7)
                if len(parts) == 8 and int(parts[3], 16) & 0x10000:
                    paths.add(parts[7])
    except OSError:
        pass
    return paths


def wait_for(predicate, timeout=30.0, interval=0.05, what="condition"):
    """Polls predicate() until it is true; bounded. Returns its last value or
    raises AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------
# config


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        # A JSON string without \u escapes is a valid TOML basic string.
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML form for {v!r}")


_instances = []
_tempdirs = []


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL when the test process dies, even if
    the test itself is killed (ctest timeout) and cannot clean up."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def make_tempdir(prefix="tern-test-"):
    d = Path(tempfile.mkdtemp(prefix=prefix))
    _tempdirs.append(d)
    return d


class Tern:
    """One tern server process with its own temp dir, config and data_dir.

    limits: dict of [limits] keys; local_extra: raw TOML lines in [local];
    extra_toml: raw TOML after the tables.
    listeners: list of host strings ("127.0.0.1", "::1"); one port each.
    """

    def __init__(self, users=("alice", "bob"), domains=("example.test",),
                 accept_any_user=False, limits=None, hostname=DEFAULT_HOSTNAME,
                 log_level="info", listeners=("127.0.0.1",), extra_toml="",
                 workdir=None, nofile=None, local_extra=""):
        self.dir = Path(workdir) if workdir else make_tempdir()
        self.data_dir = self.dir / "data"
        self.config_path = self.dir / "tern.toml"
        self.log_path = self.dir / "tern.log"
        self.hostname = hostname
        self.users = list(users)
        self.domains = list(domains)
        self.accept_any_user = accept_any_user
        self.limits = dict(limits or {})
        self.log_level = log_level
        self.listener_hosts = list(listeners)
        self.extra_toml = extra_toml
        self.local_extra = local_extra
        self.nofile = nofile  # (soft, hard) RLIMIT_NOFILE for the process, or None
        self.ports = {}
        self.proc = None
        self._log_f = None
        _instances.append(self)

    # -- config ------------------------------------------------------------
    @property
    def port(self):
        return self.ports[self.listener_hosts[0]]

    def _pick_ports(self):
        self.ports = {h: free_port(h) for h in self.listener_hosts}

    def pick_ports(self):
        """Picks the listener ports now, before start(), and returns the
        first: for a config that names tern's own port (start it with
        start(new_ports=False) so that the port is kept)."""
        self._pick_ports()
        return self.port

    def config_text(self):
        out = [
            f"hostname = {toml_value(self.hostname)}",
            f"data_dir = {toml_value(str(self.data_dir))}",
            f"log_level = {toml_value(self.log_level)}",
        ]
        for h in self.listener_hosts:
            addr = f"[{h}]:{self.ports[h]}" if ":" in h else f"{h}:{self.ports[h]}"
            out += ["", "[[listener]]", f"address = {toml_value(addr)}"]
        out += ["", "[local]",
                f"domains = {toml_value(self.domains)}",
                f"users = {toml_value(self.users)}",
                f"accept_any_user = {toml_value(self.accept_any_user)}"]
        if self.local_extra:
            out.append(self.local_extra)
        if self.limits:
            out += ["", "[limits]"]
            out += [f"{k} = {toml_value(v)}" for k, v in self.limits.items()]
        if self.extra_toml:
            out += ["", self.extra_toml]
        out += self._no_mail_checks("\n".join(out))
        return "\n".join(out) + "\n"

    @staticmethod
    def _no_mail_checks(text):
        """SPF, DKIM and DMARC are on by default and ask DNS: a test that
        does not configure them (by naming their table) has them off, so
        that no test ever asks the machine's resolver (tests stay on
        127.0.0.1)."""
        out = []
        for table in ("spf", "dkim", "dmarc"):
            if not re.search(rf"^\[{table}[\].]", text, re.M):
                out += ["", f"[{table}]", "verify = false"]
        return out

    def write_config(self):
        self.config_path.write_text(self.config_text(), encoding="utf-8")

    # -- process -----------------------------------------------------------
    def start(self, timeout=30.0, new_ports=True):
        """Starts `tern serve` and waits (bounded) until every listener port
        and the control socket are in LISTEN state (tern opens the control
        socket after the ports, once the queue is open). Retries with other
        ports if the process exits early (a port picked by free_port may
        have been taken meanwhile)."""
        last_error = None
        for _attempt in range(3):
            if new_ports or not self.ports:
                self._pick_ports()
            self.write_config()
            self._log_f = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [tern_bin(), "serve", "--config", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=self._log_f, stderr=self._log_f,
                cwd=str(self.dir), preexec_fn=self._preexec)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if (set(self.ports.values()) <= _listening_ports()
                        and os.fsencode(self.data_dir / "control.sock") in _listening_unix_paths()):
                    return self
                time.sleep(0.02)
            if self.proc.poll() is None:
                self.kill9()
                raise AssertionError(
                    f"tern did not listen on {self.ports} and control.sock within {timeout}s\n"
                    + self.log_tail())
            last_error = (f"tern exited with {self.proc.returncode} at start\n"
                          + self.log_tail())
            self._close_log()
            if not new_ports:
                break
        raise AssertionError(last_error)

    def _preexec(self):
        _die_with_parent()
        if self.nofile:
            import resource
            resource.setrlimit(resource.RLIMIT_NOFILE, self.nofile)

    def restart(self, timeout=30.0):
        """Starts again on the same ports, config and data_dir."""
        return self.start(timeout=timeout, new_ports=False)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20.0):
        """SIGTERM, then SIGKILL if it does not exit in time. Returns the
        exit status (negative: killed by that signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._close_log()
        return self.proc.returncode

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._close_log()

    def _close_log(self):
        if self._log_f:
            self._log_f.close()
            self._log_f = None

    def __enter__(self):
        if not self.running():
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        if exc_type is not None:
            sys.stderr.write(f"--- tern log ({self.log_path}) ---\n" + self.log_tail())
        return False

    # -- logs --------------------------------------------------------------
    def log_text(self):
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=60):
        lines = self.log_text().splitlines()
        return "\n".join(lines[-n:]) + "\n"

    def log_events(self, event):
        """Parsed key=value dicts of the log lines with event=<event>."""
        out = []
        for line in self.log_text().splitlines():
            if f"event={event}" not in line:
                continue
            kv = {}
            for m in re.finditer(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line):
                v = m.group(2)
                if v.startswith('"'):
                    try:
                        v = json.loads(v)
                    except ValueError:
                        v = v[1:-1]
                kv[m.group(1)] = v
            if kv.get("event") == event:
                out.append(kv)
        return out

    def wait_log_events(self, event, count=1, timeout=10.0, **fields):
        """Waits until the log holds at least `count` lines with event=<event>
        and the given key=value fields, and returns them. The log is written
        by a writer thread, so a line may appear after the effect it reports
        (a Maildir file, a 250 reply): tests wait for it rather than read once."""
        def matching():
            events = [e for e in self.log_events(event)
                      if all(e.get(k) == v for k, v in fields.items())]
            return events if len(events) >= count else None
        return wait_for(matching, timeout,
                        what=f"{count} log line(s) event={event} {fields}")

    # -- files -------------------------------------------------------------
    def reports(self, user="alice", domain="example.test"):
        """The delivery status notifications (multipart/report) in a Maildir, as text."""
        contents = (f.read_bytes() for f in self.maildir(user, domain))
        return [c.decode("utf-8", "replace") for c in contents if b"multipart/report" in c]

    def maildir(self, user, domain="example.test", sub="new"):
        """Sorted paths of the files in data_dir/mail/<domain>/<user>/<sub>."""
        d = self.data_dir / "mail" / domain / user / sub
        if not d.is_dir():
            return []
        return sorted(p for p in d.iterdir() if p.is_file())

    def all_delivered(self):
        """Every file in any new/ under data_dir/mail."""
        root = self.data_dir / "mail"
        if not root.is_dir():
            return []
        return sorted(p for p in root.glob("*/*/new/*") if p.is_file())

    def queue_files(self, sub="active"):
        d = self.data_dir / "queue" / sub
        if not d.is_dir():
            return []
        return sorted(p for p in d.iterdir())

    def partial_queue_files(self):
        """Files in queue/tmp with content. tmp/ also keeps empty spare
        files for reuse (src/queue/file_pool.h); a non-empty one is a message
        being received, or one cut off by a crash and not yet emptied."""
        return [p for p in self.queue_files("tmp") if p.stat().st_size > 0]

    def wait_queue_empty(self, timeout=30.0):
        return wait_for(lambda: not self.queue_files("active") or None, timeout,
                        what=f"{self.data_dir}/queue/active to be empty") and True

    def wait_maildir_count(self, user, count, domain="example.test", timeout=30.0):
        """Waits until user's new/ holds exactly `count` files (bounded), then
        waits for the queue to drain and checks the count did not go past it."""
        def ok():
            n = len(self.maildir(user, domain))
            return n >= count
        try:
            wait_for(ok, timeout, what=f"{count} message(s) in {domain}/{user}/new")
        except AssertionError:
            raise AssertionError(
                f"expected {count} message(s) in {domain}/{user}/new, found "
                f"{len(self.maildir(user, domain))}; queue/active="
                f"{[p.name for p in self.queue_files()]}")
        self.wait_queue_empty(timeout)
        n = len(self.maildir(user, domain))
        if n != count:
            raise AssertionError(f"expected {count} message(s) in {domain}/{user}/new, found {n}")
        return self.maildir(user, domain)


def cleanup_all(keep=False):
    for t in _instances:
        try:
            t.kill9() if t.running() else t._close_log()
        except Exception:
            pass
    if not keep and not os.environ.get("TERN_KEEP"):
        for d in _tempdirs:
            shutil.rmtree(d, ignore_errors=True)


atexit.register(lambda: [t.kill9() for t in _instances if t.running()])


def run_tests():
    """unittest main; on failure print each tern log tail and keep the temp
    dirs for inspection; exit status 0 only when every test passed, 77 (ctest
    SKIP_RETURN_CODE) when every test was skipped (raise unittest.SkipTest)."""
    prog = unittest.main(exit=False, verbosity=2)
    res = prog.result
    ok = res.wasSuccessful()
    if ok and res.testsRun and len(res.skipped) == res.testsRun:
        cleanup_all()
        sys.exit(77)
    if not ok:
        for t in _instances:
            sys.stderr.write(f"\n--- tern log tail: {t.log_path} ---\n{t.log_tail(40)}")
        sys.stderr.write(f"\nkept temp dirs: {[str(d) for d in _tempdirs]}\n")
    cleanup_all(keep=not ok)
    sys.exit(0 if ok else 1)


class SharedTern(unittest.TestCase):
    """A test class whose tests share one tern, started once from
    `tern_options` (the keyword arguments of Tern) and stopped at the end."""

    tern_options = {}

    @classmethod
    def setUpClass(cls):
        cls.tern = Tern(**cls.tern_options).start()

    @classmethod
    def tearDownClass(cls):
        cls.tern.stop()

    def connect(self, ehlo="client.example"):
        """A session past EHLO, closed at the end of the test."""
        d = session(self.tern.port, ehlo=ehlo)
        self.addCleanup(d.close)
        return d


# --------------------------------------------------------------------------
# stored messages


# How tern stores a message in a Maildir file: lines end in LF (the Maildir
# convention, as Postfix local/virtual and Dovecot do), so the CRLF of the SMTP
# wire form becomes LF. The contract does not say it; this is the one place
# that encodes the choice.
STORE_EOL = b"\n"


def as_stored(wire):
    """The octets tern stores for a message received as `wire` (after
    dot-unstuffing): each CRLF becomes STORE_EOL."""
    return wire.replace(b"\r\n", STORE_EOL)


def clean_line_ends(stored):
    """True when a stored message has only STORE_EOL line ends: no bare CR,
    and (for a CRLF store) no bare LF."""
    if STORE_EOL == b"\n":
        return b"\r" not in stored
    rest = stored.replace(b"\r\n", b"")
    return b"\r" not in rest and b"\n" not in rest


def split_trace(content):
    """Splits a delivered file into (trace_header_lines, rest_bytes): the
    Return-Path, Delivered-To and Received header fields that tern prepends
    (with their folded continuation lines). rest is the message as received."""
    pos = 0
    fields = []
    names = (b"return-path:", b"delivered-to:", b"received:")
    for name in names:
        end = content.find(b"\n", pos)
        if end < 0 or not content[pos:end + 1].lower().startswith(name):
            raise AssertionError(
                f"delivered file does not start with Return-Path, Delivered-To, Received: "
                f"{content[:300]!r}")
        field = content[pos:end + 1]
        pos = end + 1
        while pos < len(content) and content[pos:pos + 1] in (b" ", b"\t"):
            end = content.find(b"\n", pos)
            end = len(content) - 1 if end < 0 else end
            field += content[pos:end + 1]
            pos = end + 1
        fields.append(field.decode("utf-8", "replace"))
    return fields, content[pos:]


def unfold(field):
    return re.sub(r"\r?\n[ \t]+", " ", field).rstrip("\r\n")


def split_body(msg):
    """(header section including the empty line, body) of a message."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = msg.find(sep)
        if i >= 0:
            return msg[:i + len(sep)], msg[i + len(sep):]
    return msg, b""


def message_body(msg):
    """The body of a message (after the first empty line), CRLF or LF."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = msg.find(sep)
        if i >= 0:
            return msg[i + len(sep):]
    return b""
