#!/usr/bin/python3
"""t-21-queue_files: damaged queue and state files.

Eight messages for a smarthost that is down are queued and deferred; tern
is stopped; their files are damaged one way each; the smarthost (a
scripted aiosmtpd server) comes up and tern restarts ([queue]
retry_interval 1s, max_retry_interval 2s). Proves:
- a queue file's envelope has a `size` line: the body length, zero-padded
  to a fixed width;
- a queue file whose body is shorter than its `size` (the last 100 bytes
  cut off) is not delivered: it is moved to queue/corrupt/<id>, kept there,
  and logged as event=queue_file_corrupt;
- so is one 100 bytes longer than its `size`, and one whose first line is
  not `tern-queue 1`; their state files go along as corrupt/<id>.state;
- a queue file that cannot be read for now (a directory in its place:
  read fails with EISDIR) is logged as event=queue_file_error and stays
  scheduled: once the real file is back it is delivered within seconds,
  without a restart;
- a state file whose `attempt` time is garbage, 20 digits, or far beyond
  max_retry_interval (the year 2100) does not hold the message back: it is
  delivered within seconds;
- the other messages are delivered as usual.
"""
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from scripted import Scripted  # noqa: E402
from ternlib import Tern, check  # noqa: E402

NAMES = ["ok", "truncated", "appended", "garbage_header", "directory", "attempt_20_digits",
         "attempt_word", "attempt_2100"]


def framed(record):
    """A state file line as tern writes it: the record, " #", its FNV-1a checksum."""
    h = 2166136261
    for c in record:
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return record + b" #%08x\n" % h


STATE_LINES = {"attempt_20_digits": framed(b"attempt 99999999999999999999"),
               "attempt_word": framed(b"attempt garbage"),
               "attempt_2100": framed(b"attempt 4102444800")}


def body(name):
    lines = b"".join(b"line %03d of message %s, long enough to be cut\r\n" % (i, name.encode())
                     for i in range(60))
    return (b"Subject: t-21 " + name.encode() + b"\r\nX-T21: " + name.encode() + b"\r\n\r\n"
            + lines + b"last line of " + name.encode() + b"\r\n")


def wait_for(predicate, what, timeout=12):
    return ternlib.wait_for(predicate, timeout, 0.1, what)


class QueueFiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sink_port = ternlib.free_port()  # nothing listens there yet
        extra = (f'[relay]\nsmarthost = "127.0.0.1:{sink_port}"\n'
                 '[queue]\nretry_interval = "1s"\nmax_retry_interval = "2s"')
        cls.tern = t = Tern(users=["alice"], extra_toml=extra).start()
        cls.sink = None
        cls.ids = {}
        d = ternlib.session(t.port)
        try:
            for name in NAMES:
                reply = ternlib.transaction(d, "alice@example.test", ["bob@remote.test"], body(name))
                check(reply, 250, "2.0.0", name)
                cls.ids[name] = ternlib.queue_id(reply)
        finally:
            d.close()
        state = t.data_dir / "queue" / "state"
        for name, qid in cls.ids.items():
            t.wait_log_events("deferred", 1, queue_id=qid)
            wait_for(lambda: (state / qid).is_file(), f"the state file of {name}")
        status = t.stop()
        if status != 0:
            raise AssertionError(f"tern stop: {status}\n{t.log_tail()}")
        active = t.data_dir / "queue" / "active"
        cls.original = {name: (active / qid).read_bytes() for name, qid in cls.ids.items()}
        cls.states = {name: (state / qid).read_bytes() for name, qid in cls.ids.items()}

        # Damage.
        path = active / cls.ids["truncated"]
        cls.truncated = cls.original["truncated"][:-100]
        path.write_bytes(cls.truncated)
        path = active / cls.ids["appended"]
        cls.appended = cls.original["appended"] + b"appended after the end: " + b"z" * 74 + b"\r\n"
        path.write_bytes(cls.appended)
        path = active / cls.ids["garbage_header"]
        cls.garbage = b"garbage header\n" + cls.original["garbage_header"].split(b"\n", 1)[1]
        path.write_bytes(cls.garbage)
        cls.aside = t.dir / "aside"
        os.rename(active / cls.ids["directory"], cls.aside)
        os.mkdir(active / cls.ids["directory"])
        for name, line in STATE_LINES.items():
            (state / cls.ids[name]).write_bytes(line)

        cls.sink = Scripted("--port", str(sink_port))
        t.restart()
        cls.restarted_at = time.monotonic()

    @classmethod
    def tearDownClass(cls):
        cls.tern.stop()
        if cls.sink:
            cls.sink.stop()

    # -- helpers -----------------------------------------------------------
    def at_sink(self, name):
        marker = b"X-T21: " + name.encode() + b"\r\n"
        return [m for m in self.sink.messages() if marker in m]

    def wait_delivered(self, name, timeout=12):
        wait_for(lambda: self.at_sink(name), f"message '{name}' at the smarthost", timeout)
        got = self.at_sink(name)
        self.assertEqual(len(got), 1, f"{name} arrived {len(got)} times")
        self.assertTrue(got[0].endswith(body(name)), got[0][-300:])

    def settle(self):
        """Waits until the untouched message is delivered and a few retry
        intervals have passed since the restart."""
        self.wait_delivered("ok")
        time.sleep(max(0.0, self.restarted_at + 5 - time.monotonic()))

    def corrupt_path(self, name):
        return self.tern.data_dir / "queue" / "corrupt" / self.ids[name]

    def check_moved_to_corrupt(self, name, content):
        qid = self.ids[name]
        wait_for(lambda: self.corrupt_path(name).is_file(), f"queue/corrupt/{qid} ({name})")
        self.tern.wait_log_events("queue_file_corrupt", 1, queue_id=qid)
        self.settle()
        self.assertEqual(self.at_sink(name), [], f"{name} must not be delivered")
        self.assertFalse((self.tern.data_dir / "queue" / "active" / qid).exists())
        self.assertEqual(self.corrupt_path(name).read_bytes(), content, "kept as it was")
        # Its state file goes with it.
        moved_state = self.corrupt_path(name).with_name(qid + ".state")
        self.assertTrue(moved_state.is_file(), f"queue/corrupt/{qid}.state")
        self.assertTrue(moved_state.read_bytes().startswith(self.states[name]), moved_state.read_bytes())
        self.assertFalse((self.tern.data_dir / "queue" / "state" / qid).exists())

    # -- tests -------------------------------------------------------------
    def test_size_line(self):
        content = self.original["ok"]
        head, sep, rest = content.partition(b"\n\n")
        self.assertTrue(head.startswith(b"tern-queue 1\n"), head[:100])
        sizes = re.findall(rb"^size (\S+)$", head, re.M)
        self.assertEqual(len(sizes), 1, head)
        # A fixed width (tern fills it in at commit): 19 digits, zero-padded.
        self.assertRegex(sizes[0], rb"^[0-9]{19,20}$")
        self.assertEqual(int(sizes[0]), len(rest), "size = octets after the envelope")

    def test_truncated(self):
        self.check_moved_to_corrupt("truncated", self.truncated)

    def test_longer_than_size(self):
        self.assertEqual(len(self.appended) - len(self.original["appended"]), 100)
        self.check_moved_to_corrupt("appended", self.appended)

    def test_garbage_header(self):
        self.check_moved_to_corrupt("garbage_header", self.garbage)

    def test_unreadable_for_now(self):
        qid = self.ids["directory"]
        self.tern.wait_log_events("queue_file_error", 1, queue_id=qid)
        path = self.tern.data_dir / "queue" / "active" / qid
        self.assertTrue(path.is_dir())
        self.assertEqual(self.at_sink("directory"), [])
        os.rmdir(path)
        os.rename(self.aside, path)
        self.wait_delivered("directory", timeout=12)
        self.assertFalse(self.corrupt_path("directory").exists())

    def test_bad_attempt_times(self):
        for name in STATE_LINES:
            self.wait_delivered(name, timeout=12)



if __name__ == "__main__":
    ternlib.run_tests()
