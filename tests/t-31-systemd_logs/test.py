#!/usr/bin/python3
"""t-31-systemd_logs: systemd notification (sd_notify protocol) and JSON logs.

Proves, through the real binary:

Notification (sd_notify(3), no libsystemd): with NOTIFY_SOCKET naming a Unix
datagram socket that the test binds under its temp dir, tern sends `READY=1`
once (only after its listener is in LISTEN state; a `MAINPID=` in it is tern's
pid), on SIGHUP a datagram with `RELOADING=1` and `MONOTONIC_USEC=` (the
CLOCK_MONOTONIC of the moment, in microseconds) and then a separate `READY=1`,
on SIGTERM `STOPPING=1`, then exits 0. Every datagram comes from tern's own
pid (SCM_CREDENTIALS; systemd's NotifyAccess=main drops others) and is
newline-separated KEY=VALUE lines. The abstract form `@name` works too. With
WATCHDOG_USEC=200000 and WATCHDOG_PID unset or equal to tern's pid,
`WATCHDOG=1` comes several times within 1.5 s; with WATCHDOG_PID naming
another process, never; without WATCHDOG_USEC, never. Without NOTIFY_SOCKET,
or with one naming a socket that does not exist, tern starts, takes mail,
reloads on SIGHUP and exits 0 on SIGTERM.

Logs: with `log_format = "json"` every line tern writes to stderr is one JSON
object (valid UTF-8, no raw control byte) with string members "time",
"level", "event" and every other member a string; the events and, per event,
the field names and levels are those of the default text format for the same
scenario. Values survive unquoted and unescaped: a data_dir with a space, a
quote, a backslash, `=` and a non-ASCII letter; a reject detail holding the
quoted local part `"a b"`; a `from=` holding `<"odd sender"@...>`; a maildrop
file name holding \\x01 and ESC (escaped as \\u0001 / \\u001b in the line).
The connect, queued and delivered events carry the session, client port,
queue id (the one in the 250 reply), size, rcpts, rcpt and the Maildir path.
`log_format = "xml"` makes `tern check-config` exit 1 naming log_format (and
`tern serve` exit non-zero without listening); "text" and "json" pass.
"""
import json
import os
import re
import secrets
import signal
import smtplib
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from ternlib import Tern  # noqa: E402

# Whatever runs this test (a systemd unit, a CI runner) must not leak its own
# notification socket into the terns started here.
SYSTEMD_VARS = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
for _var in SYSTEMD_VARS:
    os.environ.pop(_var, None)

LEVELS = {"trace", "debug", "info", "warning", "error", "critical"}
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:?\d\d)?$")
ERR_RE = re.compile(r"tern: config (.+):(\d+):(\d+): (.+)")


# --------------------------------------------------------------------------
# the notification socket


class Notification:
    """One datagram received on the notification socket."""

    def __init__(self, raw, pid, listening):
        self.raw = raw
        self.pid = pid                # sender pid from SCM_CREDENTIALS (None if absent)
        self.listening = listening    # ports in LISTEN state when it was read
        self.received = time.monotonic()
        self.text = raw.decode("utf-8", "replace")
        self.fields = {}
        self.malformed = []
        for line in self.text.split("\n"):
            if not line:
                continue
            key, eq, value = line.partition("=")
            if not eq or not key:
                self.malformed.append(line)
            else:
                self.fields[key] = value

    def get(self, key):
        return self.fields.get(key)

    def __repr__(self):
        return f"<notification pid={self.pid} {self.raw!r}>"


class NotifySocket:
    """A Unix datagram socket standing in for systemd's notification socket:
    a path under `directory`, or (abstract=True) an abstract name
    "@tern-test-<random>". A reader thread collects every datagram, with the
    sender's pid and the ports in LISTEN state at that moment."""

    def __init__(self, directory=None, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = "tern-test-" + secrets.token_hex(8)
            self.sock.bind("\0" + name)
            self.address = "@" + name
            self.path = None
        else:
            self.path = os.path.join(str(directory), "notify.sock")
            self.sock.bind(self.path)
            self.address = self.path
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.settimeout(0.05)
        self.messages = []
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        cred_size = struct.calcsize("3i")
        while not self._stop:
            try:
                raw, ancdata, _flags, _addr = self.sock.recvmsg(65536, socket.CMSG_SPACE(cred_size))
            except socket.timeout:
                continue
            except OSError:
                return
            pid = None
            for level, kind, data in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(data) >= cred_size:
                    pid = struct.unpack("3i", data[:cred_size])[0]
            msg = Notification(raw, pid, ternlib._listening_ports())
            with self._cond:
                self.messages.append(msg)
                self._cond.notify_all()

    def snapshot(self):
        with self._cond:
            return list(self.messages)

    def wait(self, predicate, timeout=10.0, start=0, what="notification"):
        """Waits (bounded) for a datagram at index >= start matching
        predicate; returns (index, notification)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(start, len(self.messages)):
                    if predicate(self.messages[i]):
                        return i, self.messages[i]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}; "
                                         f"received: {self.messages[start:]}")
                self._cond.wait(left)

    def wait_field(self, key, value="1", timeout=5.0, start=0):
        return self.wait(lambda m: m.get(key) == value, timeout, start, what=f"{key}={value}")

    def close(self):
        self._stop = True
        self._thread.join(timeout=5)
        self.sock.close()
        if self.path:
            try:
                os.unlink(self.path)
            except OSError:
                pass


class SdTern(Tern):
    """A Tern started with extra environment variables (None: removed), and
    optionally a top-level `log_format`. watchdog_pid_self: WATCHDOG_PID is
    set, in the child just before exec, to the child's own pid (= tern's)."""

    def __init__(self, env=None, watchdog_pid_self=False, log_format=None, **kw):
        super().__init__(**kw)
        self.env = dict(env or {})
        self.watchdog_pid_self = watchdog_pid_self
        self.log_format = log_format

    def config_text(self):
        head = f"log_format = {ternlib.toml_value(self.log_format)}\n" if self.log_format else ""
        return head + super().config_text()

    def start(self, *args, **kw):
        saved = {k: os.environ.get(k) for k in self.env}
        try:
            for k, v in self.env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            return super().start(*args, **kw)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def _preexec(self):
        super()._preexec()
        if self.watchdog_pid_self:
            # Runs in the child between fork and exec; Popen (env=None) execs
            # with this process's environ, so tern sees its own pid.
            os.environ["WATCHDOG_PID"] = str(os.getpid())


def smtp_roundtrip(t, rcpt="alice@example.test"):
    """One message through smtplib; returns the queue id from the reply."""
    with smtplib.SMTP("127.0.0.1", t.port, timeout=10) as s:
        s.ehlo("client.example")
        code, _ = s.mail("sender@example.test")
        assert code == 250, code
        code, _ = s.rcpt(rcpt)
        assert code == 250, code
        code, text = s.data(b"Subject: t-31\r\n\r\nhello\r\n")
        assert code == 250, (code, text)
    m = ternlib.QUEUE_ID_RE.search(text.decode())
    assert m, text
    return m.group(1)


class Notify(unittest.TestCase):
    def setUp(self):
        self.dir = ternlib.make_tempdir()

    def notify_socket(self, abstract=False):
        ns = NotifySocket(self.dir, abstract=abstract)
        self.addCleanup(ns.close)
        return ns

    def tern(self, **kw):
        t = SdTern(**kw)
        self.addCleanup(t.stop)
        return t

    def assert_from_tern(self, ns, t):
        for m in ns.snapshot():
            self.assertEqual(m.pid, t.proc.pid, f"datagram not sent by tern's pid: {m}")
            self.assertEqual(m.malformed, [], f"not KEY=VALUE lines: {m}")

    def assert_ready(self, ns, t, start=0):
        i, ready = ns.wait_field("READY", start=start)
        if ready.get("MAINPID") is not None:
            self.assertEqual(ready.get("MAINPID"), str(t.proc.pid), ready)
        return i, ready

    def test_lifecycle_path_socket(self):
        ns = self.notify_socket()
        t = self.tern(env={"NOTIFY_SOCKET": ns.address}).start()
        i, ready = self.assert_ready(ns, t)
        self.assertIn(t.port, ready.listening,
                      f"READY=1 came before port {t.port} was listening: {ready}")
        t.wait_log_events("started")
        t.wait_log_events("recovered")
        self.assertIsNotNone(smtp_roundtrip(t))

        # SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 again.
        before = time.monotonic_ns() // 1000
        t.proc.send_signal(signal.SIGHUP)
        j, reloading = ns.wait_field("RELOADING", start=i + 1)
        after = time.monotonic_ns() // 1000
        self.assertNotIn("READY", reloading.fields, f"READY=1 in the RELOADING datagram: {reloading}")
        usec = reloading.get("MONOTONIC_USEC")
        self.assertIsNotNone(usec, f"RELOADING=1 without MONOTONIC_USEC: {reloading}")
        self.assertRegex(usec, r"^\d+$")
        # The same clock (CLOCK_MONOTONIC) as time.monotonic(); 1 s of slack.
        self.assertTrue(before - 1_000_000 <= int(usec) <= after + 1_000_000,
                        f"MONOTONIC_USEC={usec} is not the CLOCK_MONOTONIC of the reload "
                        f"(test saw {before}..{after})")
        k, _ = self.assert_ready(ns, t, start=j + 1)
        t.wait_log_events("sighup")
        before_reload = ns.snapshot()[i + 1:j]
        self.assertFalse([m for m in before_reload if "READY" in m.fields],
                         f"READY=1 sent again before any reload: {before_reload}")

        # Still serving after the reload; SIGTERM: STOPPING=1, exit 0.
        self.assertIsNotNone(smtp_roundtrip(t))
        self.assertEqual(t.stop(), 0, "exit status after SIGTERM")
        _, stopping = ns.wait_field("STOPPING", start=k + 1, timeout=5)
        self.assertNotIn("READY", stopping.fields, stopping)
        all_msgs = ns.snapshot()
        self.assertFalse([m for m in all_msgs if "WATCHDOG" in m.fields],
                         f"WATCHDOG=1 without WATCHDOG_USEC: {all_msgs}")
        self.assertEqual(sum("READY" in m.fields for m in all_msgs), 2,
                         f"READY=1 at start and after the one reload: {all_msgs}")
        self.assert_from_tern(ns, t)

    def test_abstract_socket(self):
        ns = self.notify_socket(abstract=True)
        self.assertTrue(ns.address.startswith("@tern-test-"))
        t = self.tern(env={"NOTIFY_SOCKET": ns.address}).start()
        i, ready = self.assert_ready(ns, t)
        self.assertIn(t.port, ready.listening, f"READY=1 before listening: {ready}")
        self.assertEqual(t.stop(), 0)
        ns.wait_field("STOPPING", start=i + 1, timeout=5)
        self.assert_from_tern(ns, t)

    def watchdog_count(self, ns, t, window=1.5):
        i, ready = self.assert_ready(ns, t)
        time.sleep(window)
        self.assertTrue(t.running(), "tern exited")
        return sum(1 for m in ns.snapshot()[i:] if m.get("WATCHDOG") == "1"), ready

    def test_watchdog_pid_unset(self):
        ns = self.notify_socket()
        t = self.tern(env={"NOTIFY_SOCKET": ns.address, "WATCHDOG_USEC": "200000"}).start()
        n, _ = self.watchdog_count(ns, t)
        # Every 100 ms would give ~15; even every 200 ms (too late for
        # systemd) gives 7. Fewer than 4 is no watchdog at all.
        self.assertGreaterEqual(n, 4, f"WATCHDOG=1 within 1.5 s with WATCHDOG_USEC=200000: {ns.snapshot()}")
        t.stop()
        self.assert_from_tern(ns, t)

    def test_watchdog_pid_is_tern(self):
        ns = self.notify_socket()
        t = self.tern(env={"NOTIFY_SOCKET": ns.address, "WATCHDOG_USEC": "200000"},
                      watchdog_pid_self=True).start()
        environ = (f"/proc/{t.proc.pid}/environ")
        with open(environ, "rb") as f:
            self.assertIn(b"WATCHDOG_PID=%d\0" % t.proc.pid, f.read(), "test setup: WATCHDOG_PID")
        n, _ = self.watchdog_count(ns, t)
        self.assertGreaterEqual(n, 4, f"WATCHDOG=1 within 1.5 s with WATCHDOG_PID=tern: {ns.snapshot()}")
        t.stop()
        self.assert_from_tern(ns, t)

    def test_watchdog_for_another_pid(self):
        ns = self.notify_socket()
        t = self.tern(env={"NOTIFY_SOCKET": ns.address, "WATCHDOG_USEC": "200000",
                           "WATCHDOG_PID": str(os.getpid())}).start()
        n, _ = self.watchdog_count(ns, t, window=0.8)
        self.assertEqual(n, 0, f"WATCHDOG=1 although WATCHDOG_PID names another process: {ns.snapshot()}")
        t.stop()
        ns.wait_field("STOPPING", timeout=5)

    def check_works_without_notification(self, t):
        self.assertIsNotNone(smtp_roundtrip(t))
        t.wait_maildir_count("alice", 1, timeout=10)
        t.proc.send_signal(signal.SIGHUP)
        t.wait_log_events("sighup")
        self.assertIsNotNone(smtp_roundtrip(t))
        t.wait_maildir_count("alice", 2, timeout=10)
        self.assertEqual(t.stop(), 0, "exit status after SIGTERM")
        t.wait_log_events("stopped", timeout=5)

    def test_without_notify_socket(self):
        # A bound socket that tern is not told about stays silent.
        ns = self.notify_socket()
        t = self.tern(env={"WATCHDOG_USEC": "200000"}).start()
        with open(f"/proc/{t.proc.pid}/environ", "rb") as f:
            self.assertNotIn(b"NOTIFY_SOCKET=", f.read(), "test setup")
        self.check_works_without_notification(t)
        self.assertEqual(ns.snapshot(), [])

    def test_notify_socket_missing(self):
        # systemd gone (or restarted): sending fails, tern carries on.
        t = self.tern(env={"NOTIFY_SOCKET": str(self.dir / "absent.sock"),
                           "WATCHDOG_USEC": "200000"}).start()
        self.check_works_without_notification(t)


# --------------------------------------------------------------------------
# JSON logs


ODD_DIR_NAME = 'dir "q" \\ = \u00e9'
# A maildrop file name (any bytes but / and NUL): control bytes reach the log.
ODD_FILE = 'bad\x01name "q" \\ =\x1b'
BAD_UTF8_FILE = b"inv\xffalid"
MESSAGE = b"Subject: t-31 json\r\n\r\nhello\r\n"


def json_lines(t):
    """[(raw line bytes, parsed object or the exception)] of tern.log."""
    out = []
    for raw in t.log_path.read_bytes().split(b"\n"):
        if not raw:
            continue
        try:
            out.append((raw, json.loads(raw)))
        except ValueError as e:  # includes UnicodeDecodeError
            out.append((raw, e))
    return out


def json_events(t, event):
    return [o for _, o in json_lines(t) if isinstance(o, dict) and o.get("event") == event]


def wait_json_events(t, event, count=1, timeout=10.0, **fields):
    def matching():
        found = [e for e in json_events(t, event) if all(e.get(k) == v for k, v in fields.items())]
        return found if len(found) >= count else None
    return ternlib.wait_for(matching, timeout, what=f"{count} JSON line(s) event={event} {fields}")


def run_scenario(t, log_events):
    """The same traffic for the text and the JSON tern; returns facts the
    checks need. log_events(event, **fields) waits for log lines."""
    facts = {}
    # Raw socket: odd bytes in EHLO and in a command verb (both refused).
    with ternlib.Dialog(t.port) as d:
        d.line(b"EHLO x\x01y")
        facts["ehlo_odd"] = d.read_reply().code
        d.line(b"X\x01Y \"q\" \\")
        facts["verb_odd"] = d.read_reply().code
        d.line(b"EHLO client.example")
        facts["ehlo"] = d.read_reply().code
        d.line(b"QUIT")
        d.read_reply()
    # smtplib: a sender and unknown recipients with quoted local parts.
    with smtplib.SMTP("127.0.0.1", t.port, timeout=10) as s:
        s.ehlo("client.example")
        facts["client_port"] = str(s.sock.getsockname()[1])
        facts["mail"] = s.mail('"odd sender"@example.test', ["SMTPUTF8"])[0]
        facts["rcpt_space"] = s.rcpt('"a b"@example.test')[0]
        facts["rcpt_utf8"] = s.rcpt("b\u00e9@example.test")[0]
        facts["rcpt_alice"] = s.rcpt("alice@example.test")[0]
        code, text = s.data(MESSAGE)
        facts["data"] = code
        m = ternlib.QUEUE_ID_RE.search(text.decode())
        facts["queue_id"] = m.group(1) if m else None
    # maildrop files whose names hold control bytes / invalid UTF-8.
    maildrop = os.fsencode(t.data_dir / "maildrop")
    for i, name in enumerate([os.fsencode(ODD_FILE), BAD_UTF8_FILE]):
        src = os.fsencode(t.dir / f"drop{i}")
        with open(src, "wb") as f:
            f.write(b"not a maildrop envelope\n")
        os.rename(src, os.path.join(maildrop, name))
    log_events("delivered", queue_id=facts["queue_id"])
    log_events("maildrop_rejected", count=2)
    return facts


def text_events(t):
    """[(event, level, keys)] of a text-format log."""
    out = []
    for line in t.log_text().splitlines():
        m = re.match(r"^\S+ (\S+) event=(\S+)", line)
        if not m:
            continue
        keys = set(re.findall(r'(?:^| )(\w+)=(?:"(?:[^"\\]|\\.)*"|\S*)', line))
        out.append((m.group(2), m.group(1), keys))
    return out


class JsonLogs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.json = SdTern(log_format="json", workdir=cls.odd_workdir()).start()
        try:
            cls.facts = run_scenario(cls.json, lambda e, **kw: wait_json_events(cls.json, e, **kw))
        finally:
            cls.json_status = cls.json.stop()
        cls.text = SdTern(workdir=cls.odd_workdir()).start()  # the default: text
        try:
            cls.text_facts = run_scenario(cls.text, cls.text.wait_log_events)
        finally:
            cls.text.stop()

    @staticmethod
    def odd_workdir():
        d = ternlib.make_tempdir() / ODD_DIR_NAME
        d.mkdir()
        return d

    def lines(self):
        return json_lines(self.json)

    def test_scenario_ran(self):
        f = self.facts
        self.assertEqual((f["ehlo_odd"], f["verb_odd"], f["ehlo"]), (501, 500, 250))
        self.assertEqual((f["mail"], f["rcpt_space"], f["rcpt_utf8"], f["rcpt_alice"], f["data"]),
                         (250, 550, 550, 250, 250))
        self.assertIsNotNone(f["queue_id"])
        self.assertEqual(self.json_status, 0)

    def test_every_line_is_a_json_object(self):
        lines = self.lines()
        self.assertGreater(len(lines), 10)
        for raw, obj in lines:
            self.assertIsInstance(obj, dict, f"not a JSON object: {raw!r} ({obj})")
            for key in ("time", "level", "event"):
                self.assertIn(key, obj, raw)
            for key, value in obj.items():
                self.assertIsInstance(value, str, f"{key} is not a string in {raw!r}")
            self.assertRegex(obj["time"], TIME_RE, raw)
            self.assertIn(obj["level"], LEVELS, raw)
            self.assertRegex(obj["event"], r"^[a-z_]+$", raw)
        data = self.json.log_path.read_bytes()
        self.assertTrue(data.endswith(b"\n"), "last line not ended")
        raw_controls = sorted({c for c in data if c < 0x20 and c not in (0x09, 0x0A)})
        self.assertEqual(raw_controls, [], "raw control bytes in the JSON log")
        self.assertIn(b"\\u0001", data)
        self.assertIn(b"\\u001b", data.lower())

    def test_same_events_fields_and_levels_as_text(self):
        def table(events):
            out = {}
            for event, level, keys in events:
                e = out.setdefault(event, [set(), set()])
                e[0] |= keys
                e[1].add(level)
            return out
        json_table = table((o["event"], o["level"], set(o) - {"time", "level"})
                           for _, o in self.lines() if isinstance(o, dict))
        text_table = table(text_events(self.text))
        self.assertIn("queued", text_table)
        self.assertEqual(sorted(json_table), sorted(text_table), "event names")
        for event in text_table:
            self.assertEqual(json_table[event], text_table[event], f"fields and levels of event={event}")

    def test_connect_queued_delivered(self):
        qid = self.facts["queue_id"]
        (queued,) = json_events(self.json, "queued")
        self.assertEqual(queued["queue_id"], qid)
        self.assertEqual(queued["from"], '<"odd sender"@example.test>')
        self.assertEqual(queued["size"], str(len(MESSAGE)))
        self.assertEqual(queued["rcpts"], "1")
        self.assertEqual(queued["tls"], "-")
        self.assertEqual(queued["login"], "-")
        session = queued["session"]
        self.assertRegex(session, r"^S\w{6}$")
        connects = [e for e in json_events(self.json, "connect") if e.get("session") == session]
        self.assertEqual(len(connects), 1, json_events(self.json, "connect"))
        self.assertEqual(connects[0]["client"], "127.0.0.1")
        self.assertEqual(connects[0]["port"], self.facts["client_port"])
        self.assertEqual(connects[0]["role"], "mx")
        self.assertEqual(len(json_events(self.json, "connect")), 2)
        self.assertTrue([e for e in json_events(self.json, "disconnect") if e.get("session") == session])
        (delivered,) = json_events(self.json, "delivered")
        self.assertEqual(delivered["queue_id"], qid)
        self.assertEqual(delivered["rcpt"], "alice@example.test")
        maildir = str(self.json.data_dir / "mail" / "example.test" / "alice" / "new") + "/"
        self.assertTrue(delivered["path"].startswith(maildir), delivered["path"])
        self.assertTrue(os.path.isfile(delivered["path"]), delivered["path"])
        commands = [(e["verb"], e["reply"]) for e in json_events(self.json, "command")
                    if e.get("session") == session]
        self.assertIn(("RCPT", "550"), commands)
        self.assertIn(("DATA", "250"), commands)

    def test_values_unescaped(self):
        started = json_events(self.json, "started")
        self.assertEqual(len(started), 1)
        self.assertEqual(started[0]["data_dir"], str(self.json.data_dir))
        self.assertEqual(started[0]["hostname"], ternlib.DEFAULT_HOSTNAME)
        self.assertIn(ODD_DIR_NAME, started[0]["data_dir"])
        details = [e.get("detail") for e in json_events(self.json, "reject")]
        self.assertIn('no such user: "a b"@example.test', details)
        self.assertIn("no such user: b\u00e9@example.test", details)
        files = sorted(e["file"] for e in json_events(self.json, "maildrop_rejected"))
        self.assertEqual(len(files), 2, files)
        self.assertIn(ODD_FILE, files)
        other = [f for f in files if f != ODD_FILE][0]
        self.assertTrue(other.startswith("inv") and other.endswith("alid"), repr(other))
        # The same values needed quoting (and escaping) in the text format.
        text_log = self.text.log_text()
        self.assertIn('file="bad\\x01name \\"q\\" \\\\ =\\x1b"', text_log)
        self.assertIn('detail="no such user: \\"a b\\"@example.test"', text_log)
        self.assertIn('data_dir="', text_log)


class LogFormatConfig(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = ternlib.make_tempdir()

    def config(self, name, fmt):
        t = SdTern(log_format=fmt, workdir=self.dir / name)
        (self.dir / name).mkdir()
        t.pick_ports()
        t.write_config()
        return t

    def run_tern(self, *args, timeout=15):
        return subprocess.run([ternlib.tern_bin(), *args], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout, cwd=str(self.dir))

    def test_text_and_json_pass(self):
        for fmt in ("text", "json"):
            t = self.config(fmt, fmt)
            p = self.run_tern("check-config", "--config", str(t.config_path))
            self.assertEqual(p.returncode, 0, f"{fmt}: {p.stderr!r}")
            self.assertEqual(p.stdout.decode().strip(), "config ok")

    def test_xml_check_config(self):
        t = self.config("xml-check", "xml")
        p = self.run_tern("check-config", "--config", str(t.config_path))
        err = p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 1, err)
        m = ERR_RE.search(err)
        self.assertTrue(m, f"no 'tern: config FILE:LINE:COL: message': {err!r}")
        self.assertEqual(int(m.group(2)), 1, err)
        self.assertIn("log_format", m.group(4))
        self.assertNotIn("config ok", p.stdout.decode("utf-8", "replace"))

    def test_xml_serve(self):
        t = self.config("xml-serve", "xml")
        proc = subprocess.Popen([ternlib.tern_bin(), "serve", "--config", str(t.config_path)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=str(self.dir), preexec_fn=ternlib._die_with_parent)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=10)
            self.fail("tern serve kept running with log_format = \"xml\"")
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("log_format", err.decode("utf-8", "replace"))
        self.assertNotIn(t.port, ternlib._listening_ports())


if __name__ == "__main__":
    ternlib.run_tests()
