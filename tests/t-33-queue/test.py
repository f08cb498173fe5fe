#!/usr/bin/python3
"""t-33-queue: `tern queue list|show|summary|flush|hold|release|delete|bounce`
through the real binary and its control socket.

The smarthost is an aiosmtpd server inside this test that answers RCPT with
451 (REMOTE_TEXT) until the test switches it to 250; local parts starting
with "ok" always get 250. retry_interval is an hour, so nothing is retried
unless a command asks for it.

Proves:
- deferred messages are listed (`list --json`, source "server") with state
  deferred, attempts >= 1, a next attempt, the sender ("" for <>), the size,
  each recipient's status (deferred with the remote's 451 text, delivered
  for a recipient already done); `--domain` keeps only messages with a
  recipient not yet done in that domain, `--state` filters by state; the
  text list shows the ids; `summary --json` counts messages per domain of
  pending recipients in the age buckets; control.sock is a 0660 socket;
- `show ID --json` ({"source", "message"}) has the header section as sent
  (not the body), the sender, the recipients and a history; the text form
  shows every header line, the recipients and the remote's reply;
- `hold`: the message is "held", `flush --all` delivers the others but not
  it (counted at the remote), it is still held after a restart (and in the
  spool while tern is down), and `release` delivers it, once;
- `hold --domain D` holds the messages with a recipient there not yet done;
  `flush ID` of a held message does not deliver it; `release --domain D`
  and `release --all` deliver;
- `delete`: gone from the list, never delivered by a later flush, no DSN;
- `bounce`: gone from the queue, the sender gets a multipart/report naming
  the recipients not yet done with status 5.0.0 and the administrator, and
  not the recipient already delivered;
- errors: an unknown id exits 1 naming it while the other ids given are
  still acted on; with tern stopped, list/summary/show read the spool
  (source "spool", a "not running" note on stderr) and flush/hold exit 1
  with "not running";
- `flush ID` delivers that message at once and not the others;
  `flush --domain D` only that domain's.
"""
import json
import os
import re
import smtplib
import stat
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from ternlib import QUEUE_ID_RE, Tern  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402

QUEUE = '[queue]\nretry_interval = "1h"\nmax_retry_interval = "1h"'
REMOTE_TEXT = "Greylisted by the t-33 remote, come back later"
BUCKETS = ["0-5m", "5-10m", "10-20m", "20-40m", "40-80m", "80-160m", "160-320m",
           "320-640m", "640-1280m", "1280m+"]
BODY = "This is the body of a t-33 test message; it is not part of the headers."


def wait_for(predicate, what, timeout=10):
    return ternlib.wait_for(predicate, timeout, 0.05, what)


class Remote:
    """The smarthost: aiosmtpd in this process (stopped by stop()). RCPT
    gets 451 while `accepting` is false, except local parts starting with
    "ok"; each message taken is kept as (recipients, content)."""

    def __init__(self):
        self.accepting = False
        self.lock = threading.Lock()
        self.taken = []
        self.port = ternlib.free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if not self.accepting and not address.lower().startswith("ok"):
            return f"451 4.3.0 {REMOTE_TEXT}"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.taken.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 Queued"

    def deliveries(self, rcpt):
        """How many messages the remote took for rcpt."""
        with self.lock:
            return sum(1 for rcpts, _ in self.taken if rcpt in rcpts)

    def stop(self):
        self.controller.stop()


def send(port, sender, rcpts, tag):
    """Sends one message through tern; returns its queue id."""
    headers = (f"From: <{sender or 'nobody@example.test'}>\r\nTo: <{rcpts[0]}>\r\n"
               f"Subject: {tag}\r\nX-Check: {tag}\r\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
        s.ehlo("client.example")
        code, text = s.mail(sender)
        assert code == 250, (code, text)
        for r in rcpts:
            code, text = s.rcpt(r)
            assert code == 250, (r, code, text)
        code, text = s.data(f"{headers}\r\n{BODY}\r\n{tag}\r\n".encode())
        assert code == 250, (code, text)
    m = QUEUE_ID_RE.search(text.decode("utf-8", "replace"))
    assert m, f"no queue id in {text!r}"
    return m.group(1)


class Queue(unittest.TestCase):
    def setUp(self):
        self.remote = Remote()
        self.addCleanup(self.remote.stop)
        self.tern = Tern(users=["alice"], extra_toml=f'[relay]\nsmarthost = "127.0.0.1:{self.remote.port}"\n{QUEUE}')
        self.start_tern()
        self.addCleanup(self.tern.stop)

    # -- helpers -----------------------------------------------------------
    @property
    def control_sock(self):
        return self.tern.data_dir / "control.sock"

    def start_tern(self, restart=False):
        # Tern.start returns once control.sock is listening.
        self.tern.restart() if restart else self.tern.start()

    def cli(self, *args):
        """Runs `tern queue ARGS --config FILE`: (status, stdout, stderr)."""
        p = subprocess.run([ternlib.tern_bin(), "queue", *args, "--config", str(self.tern.config_path)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def ok(self, *args):
        """Runs a command that must succeed; returns its stdout."""
        rc, out, err = self.cli(*args)
        self.assertEqual(rc, 0, f"tern queue {' '.join(args)}: exit {rc}\nstdout: {out}\nstderr: {err}")
        return out

    def json_of(self, *args):
        out = self.ok(*args, "--json")
        try:
            return json.loads(out)
        except ValueError as e:
            self.fail(f"tern queue {' '.join(args)} --json: not one JSON document ({e}): {out!r}")

    def listing(self, *args, source="server"):
        """`list --json ARGS`: {id: entry}; checks the source."""
        doc = self.json_of("list", *args)
        self.assertEqual(doc.get("source"), source, doc)
        self.assertIsInstance(doc.get("messages"), list, doc)
        return {m["id"]: m for m in doc["messages"]}

    def states(self, *args):
        return {i: m["state"] for i, m in self.listing(*args).items()}

    def wait_states(self, expected, what):
        """Waits until list shows exactly these {id: state} (the log line of
        an attempt is written before the attempt is recorded)."""
        deadline = time.monotonic() + 10
        while True:
            last = self.states()
            if last == expected:
                return
            if time.monotonic() > deadline:
                self.fail(f"{what}: list shows {last}, expected {expected}")
            time.sleep(0.1)

    def deferred(self, sender, rcpts, tag):
        """Sends a message whose recipients (except ok*) are deferred and
        waits for the deferrals; returns its id."""
        qid = send(self.tern.port, sender, rcpts, tag)
        for r in rcpts:
            if r.startswith("ok"):
                self.tern.wait_log_events("delivered", 1, queue_id=qid, rcpt=r)
            else:
                self.tern.wait_log_events("deferred", 1, queue_id=qid, rcpt=r)
        return qid

    def dsns(self):
        return self.tern.reports("alice", "example.test")

    # -- 1. list, filters, summary ----------------------------------------
    def test_list_filters_and_summary(self):
        t0 = int(time.time())
        m1 = self.deferred("alice@example.test", ["bob@one.test"], "list-one")
        m2 = self.deferred("", ["carol@two.test"], "list-two")
        m3 = self.deferred("alice@example.test", ["dan@one.test", "ok-erin@three.test"], "list-three")
        t1 = int(time.time())
        self.wait_states({m1: "deferred", m2: "deferred", m3: "deferred"}, "three deferred messages")

        mode = self.control_sock.stat().st_mode
        self.assertTrue(stat.S_ISSOCK(mode), f"{self.control_sock} is no socket")
        self.assertEqual(stat.S_IMODE(mode), 0o660, oct(stat.S_IMODE(mode)))

        msgs = self.listing()
        now = int(time.time())
        for qid, sender in ((m1, "alice@example.test"), (m2, ""), (m3, "alice@example.test")):
            m = msgs[qid]
            self.assertEqual(m["sender"], sender, m)
            self.assertEqual(m["state"], "deferred", m)
            for key in ("arrival", "age", "size", "attempts"):
                self.assertIs(type(m[key]), int, f"{key}: {m}")
            self.assertGreaterEqual(m["attempts"], 1, m)
            self.assertTrue(t0 - 2 <= m["arrival"] <= t1 + 2, (t0, t1, m))
            self.assertTrue(0 <= m["age"] <= now - t0 + 5, m)
            self.assertGreater(m["size"], len(BODY), m)
            self.assertLess(m["size"], 4000, m)
            self.assertIs(type(m["next_attempt"]), int, m)
            self.assertGreater(m["next_attempt"], now + 1800, f"retry_interval is 1h: {m}")
        self.assertEqual([r["address"] for r in msgs[m1]["recipients"]], ["bob@one.test"])
        self.assertEqual([r["address"] for r in msgs[m2]["recipients"]], ["carol@two.test"])
        rcpts3 = {r["address"]: r for r in msgs[m3]["recipients"]}
        self.assertEqual(set(rcpts3), {"dan@one.test", "ok-erin@three.test"}, msgs[m3])
        self.assertEqual(rcpts3["ok-erin@three.test"]["status"], "delivered", msgs[m3])
        for r in (msgs[m1]["recipients"][0], msgs[m2]["recipients"][0], rcpts3["dan@one.test"]):
            self.assertEqual(r["status"], "deferred", r)
            self.assertIsInstance(r["reply"], str, r)
            self.assertIn(REMOTE_TEXT, r["reply"], r)

        # --domain: a recipient not yet done in that domain
        self.assertEqual(set(self.listing("--domain", "one.test")), {m1, m3})
        self.assertEqual(set(self.listing("--domain", "two.test")), {m2})
        self.assertEqual(set(self.listing("--domain", "three.test")), set(), "ok-erin@three.test is done")
        self.assertEqual(set(self.listing("--domain", "nowhere.test")), set())
        # --state
        self.assertEqual(set(self.listing("--state", "deferred")), {m1, m2, m3})
        self.assertEqual(set(self.listing("--state", "held")), set())
        self.assertEqual(set(self.listing("--state", "active")), set())
        self.assertEqual(set(self.listing("--state", "deferred", "--domain", "two.test")), {m2})

        text = self.ok("list")
        for qid in (m1, m2, m3):
            self.assertIn(qid, text)

        doc = self.json_of("summary")
        self.assertEqual(doc.get("source"), "server", doc)
        self.assertEqual(doc["buckets"], BUCKETS, doc)
        domains = {d["domain"]: d for d in doc["domains"]}
        self.assertEqual(set(domains), {"one.test", "two.test"}, f"domains of pending recipients: {doc}")
        self.assertEqual(domains["one.test"]["total"], 2, f"messages, not recipients: {doc}")
        self.assertEqual(domains["one.test"]["counts"], [2] + [0] * 9, doc)
        self.assertEqual(domains["two.test"]["total"], 1, doc)
        self.assertEqual(domains["two.test"]["counts"], [1] + [0] * 9, doc)
        self.assertEqual(doc["total"]["total"], 3, doc)
        self.assertEqual(doc["total"]["counts"], [3] + [0] * 9, doc)
        self.ok("summary")

    # -- 2. show ----------------------------------------------------------
    def test_show(self):
        qid = self.deferred("alice@example.test", ["bob@one.test", "carol@two.test"], "show-subject-42")
        self.wait_states({qid: "deferred"}, "a deferred message")
        doc = self.json_of("show", qid)
        self.assertEqual(doc.get("source"), "server", doc)
        m = doc["message"]
        self.assertEqual(m["id"], qid, m)
        self.assertEqual(m["sender"], "alice@example.test", m)
        self.assertEqual(m["state"], "deferred", m)
        self.assertEqual(sorted(r["address"] for r in m["recipients"]), ["bob@one.test", "carol@two.test"], m)
        self.assertIsInstance(m["headers"], str, m)
        self.assertIn("Subject: show-subject-42", m["headers"], m)
        self.assertIn("X-Check: show-subject-42", m["headers"], m)
        self.assertNotIn(BODY, m["headers"], "the header section only")
        self.assertIsInstance(m["history"], list, m)
        for h in m["history"]:
            self.assertIn("time", h, m["history"])
            self.assertIn("text", h, m["history"])
        p = subprocess.run([ternlib.tern_bin(), "queue", "show", qid, "--config", str(self.tern.config_path)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        self.assertEqual(p.returncode, 0, p.stderr)
        text = p.stdout.decode("utf-8")  # strict: no stray bytes
        for s in ["bob@one.test", "carol@two.test", "deferred", REMOTE_TEXT] + m["headers"].splitlines():
            self.assertIn(s.strip(), text)

    # -- 3. hold, flush, restart, release ---------------------------------
    def test_hold_survives_flush_and_restart(self):
        held = self.deferred("alice@example.test", ["held@one.test"], "hold-me")
        x = self.deferred("alice@example.test", ["x@one.test"], "hold-x")
        y = self.deferred("alice@example.test", ["y@two.test"], "hold-y")
        self.wait_states({held: "deferred", x: "deferred", y: "deferred"}, "three deferred messages")

        self.ok("hold", held)
        self.assertEqual(self.states(), {held: "held", x: "deferred", y: "deferred"})
        self.assertEqual(set(self.listing("--state", "held")), {held})
        self.assertEqual(set(self.listing("--state", "deferred")), {x, y})

        self.remote.accepting = True
        self.ok("flush", "--all")
        wait_for(lambda: self.remote.deliveries("x@one.test") and self.remote.deliveries("y@two.test"),
                 "flush --all to deliver the two messages not held")
        self.wait_states({held: "held"}, "only the held message left")
        self.assertEqual(self.remote.deliveries("held@one.test"), 0, "the held message was delivered by flush --all")

        self.assertEqual(self.tern.stop(), 0, self.tern.log_tail())
        rc, out, err = self.cli("list", "--json")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc["source"], "spool", doc)
        self.assertEqual({m["id"]: m["state"] for m in doc["messages"]}, {held: "held"}, doc)

        self.start_tern(restart=True)
        self.ok("flush", "--all")
        probe = send(self.tern.port, "alice@example.test", ["probe@two.test"], "hold-probe")
        wait_for(lambda: self.remote.deliveries("probe@two.test"), "a new message to be delivered after the restart")
        self.tern.wait_log_events("delivered", 1, queue_id=probe)
        time.sleep(1)  # room for a (wrong) delivery of the held message
        self.assertEqual(self.remote.deliveries("held@one.test"), 0, "the held message was delivered after a restart")
        self.assertEqual(self.states(), {held: "held"})

        self.ok("release", held)
        wait_for(lambda: self.remote.deliveries("held@one.test"), "release to deliver the held message")
        self.wait_states({}, "an empty queue")
        self.tern.wait_queue_empty(10)
        for r in ("held@one.test", "x@one.test", "y@two.test", "probe@two.test"):
            self.assertEqual(self.remote.deliveries(r), 1, r)
        self.assertEqual(self.dsns(), [])

    def test_hold_and_release_by_domain(self):
        a = self.deferred("alice@example.test", ["ha@one.test"], "hd-a")
        b = self.deferred("alice@example.test", ["hb@two.test"], "hd-b")
        c = self.deferred("alice@example.test", ["hc@two.test", "hc@one.test"], "hd-c")
        self.wait_states({a: "deferred", b: "deferred", c: "deferred"}, "three deferred messages")

        self.ok("hold", "--domain", "two.test")
        self.assertEqual(self.states(), {a: "deferred", b: "held", c: "held"})
        self.remote.accepting = True
        self.ok("flush")  # no id: everything, as postqueue -f
        wait_for(lambda: self.remote.deliveries("ha@one.test"), "flush --all to deliver the message not held")
        self.cli("flush", b)  # a held message stays held, whatever flush answers
        self.wait_states({b: "held", c: "held"}, "the held messages left")
        time.sleep(0.5)
        for r in ("hb@two.test", "hc@two.test", "hc@one.test"):
            self.assertEqual(self.remote.deliveries(r), 0, f"held {r} delivered")

        self.ok("release", "--domain", "one.test")  # c has a recipient there
        wait_for(lambda: self.remote.deliveries("hc@two.test") and self.remote.deliveries("hc@one.test"),
                 "release --domain one.test to deliver the message for both domains")
        self.wait_states({b: "held"}, "the message for two.test only still held")
        self.assertEqual(self.remote.deliveries("hb@two.test"), 0)
        self.ok("release", "--all")
        wait_for(lambda: self.remote.deliveries("hb@two.test"), "release --all to deliver the last one")
        self.wait_states({}, "an empty queue")

    # -- 4. delete --------------------------------------------------------
    def test_delete(self):
        gone = self.deferred("alice@example.test", ["gone@one.test"], "delete-me")
        keep = self.deferred("alice@example.test", ["keep@one.test"], "delete-keep")
        self.wait_states({gone: "deferred", keep: "deferred"}, "two deferred messages")
        self.ok("delete", gone)
        self.assertEqual(self.states(), {keep: "deferred"})
        self.remote.accepting = True
        self.ok("flush", "--all")
        wait_for(lambda: self.remote.deliveries("keep@one.test"), "the message kept to be delivered")
        self.wait_states({}, "an empty queue")
        self.tern.wait_queue_empty(10)
        self.assertEqual(self.remote.deliveries("gone@one.test"), 0, "a deleted message was delivered")
        rc, out, err = self.cli("show", gone)
        self.assertEqual(rc, 1, out)
        self.assertEqual(self.dsns(), [], "delete sends no DSN")
        self.assertEqual(self.tern.log_events("dsn"), [])

    # -- 5. bounce --------------------------------------------------------
    def test_bounce(self):
        qid = self.deferred("alice@example.test", ["bounce-me@one.test", "ok-done@two.test", "bounce-too@two.test"],
                            "bounce-this")
        self.wait_states({qid: "deferred"}, "a deferred message")
        self.assertEqual(self.dsns(), [])
        self.ok("bounce", qid)
        wait_for(self.dsns, "a DSN in alice's Maildir")
        self.wait_states({}, "an empty queue")
        reports = self.dsns()
        self.assertEqual(len(reports), 1, reports)
        r = reports[0]
        self.assertIn("multipart/report", r)
        self.assertIn("X-Check: bounce-this", r, "the DSN returns the headers")
        fields = re.sub(r"\r?\n[ \t]+", " ", r)  # unfolded
        self.assertRegex(fields, r"(?im)^Final-Recipient:\s*rfc822;\s*bounce-me@one\.test\s*$")
        self.assertRegex(fields, r"(?im)^Final-Recipient:\s*rfc822;\s*bounce-too@two\.test\s*$")
        self.assertNotRegex(fields, r"(?im)^Final-Recipient:\s*rfc822;\s*ok-done@two\.test",
                            "a recipient already delivered is not in the bounce")
        self.assertEqual(len(re.findall(r"(?im)^Status:\s*5\.0\.0\s*$", fields)), 2, r)
        self.assertRegex(fields, r"(?im)^Action:\s*failed\s*$")
        self.assertIn("administrator", r.lower())
        # nothing left to deliver
        self.remote.accepting = True
        self.ok("flush", "--all")
        probe = send(self.tern.port, "alice@example.test", ["probe@one.test"], "bounce-probe")
        wait_for(lambda: self.remote.deliveries("probe@one.test"), "a new message to be delivered")
        self.tern.wait_log_events("delivered", 1, queue_id=probe)
        self.assertEqual(self.remote.deliveries("bounce-me@one.test"), 0)
        self.assertEqual(self.remote.deliveries("bounce-too@two.test"), 0)
        self.assertEqual(self.remote.deliveries("ok-done@two.test"), 1)

    # -- 6. errors and a stopped server -----------------------------------
    def test_control_socket_protocol(self):
        """The socket itself: JSON lines both ways, several requests on one
        connection, a malformed or unknown request answered with ok=false
        (the connection goes on), a request line over 64 KiB refused and
        the connection closed."""
        import socket
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(10)
            c.connect(str(self.control_sock))
            f = c.makefile("rwb")

            def ask(line):
                f.write(line + b"\n")
                f.flush()
                reply = f.readline()
                self.assertTrue(reply.endswith(b"\n"), reply)
                return json.loads(reply)

            listed = ask(b'{"command":"list"}')
            self.assertTrue(listed["ok"])
            self.assertEqual(listed["source"], "server")
            for bad in (b"{", b"[1]", b'{"command":"explode"}', b'{"command":"hold","ids":"x"}', b"\xff\xfe"):
                reply = ask(bad)
                self.assertFalse(reply["ok"], bad)
                self.assertIsInstance(reply["error"], str)
            self.assertTrue(ask(b'{"command":"summary"}')["ok"])  # still talking
            self.assertTrue(ask(b'{"command":"stats"}')["ok"])
            f.write(b"x" * 70000 + b"\n")
            f.flush()
            reply = json.loads(f.readline())
            self.assertFalse(reply["ok"])
            self.assertIn("65536", reply["error"])
            try:  # closed (a reset: what was not read of the line is dropped)
                self.assertEqual(f.readline(), b"")
            except ConnectionResetError:
                pass

    def test_errors_and_server_down(self):
        a = self.deferred("alice@example.test", ["a@one.test"], "err-a")
        b = self.deferred("alice@example.test", ["b@two.test"], "err-b")
        self.wait_states({a: "deferred", b: "deferred"}, "two deferred messages")

        rc, out, err = self.cli("show", "NOSUCHID")
        self.assertEqual(rc, 1, out)
        self.assertIn("NOSUCHID", err)
        rc, out, err = self.cli("show", "NOSUCHID", "--json")
        self.assertEqual(rc, 1, out)
        self.assertIn("NOSUCHID", err)
        rc, out, err = self.cli("delete", "NOSUCHID", b)
        self.assertEqual(rc, 1, out)
        self.assertIn("NOSUCHID", err)
        self.assertEqual(self.states(), {a: "deferred"}, "the known id given with an unknown one is deleted")

        self.assertEqual(self.tern.stop(), 0, self.tern.log_tail())
        rc, out, err = self.cli("list", "--json")
        self.assertEqual(rc, 0, err)
        self.assertIn("not running", err)
        doc = json.loads(out)
        self.assertEqual(doc["source"], "spool", doc)
        msgs = {m["id"]: m for m in doc["messages"]}
        self.assertEqual(set(msgs), {a}, doc)
        self.assertEqual(msgs[a]["state"], "deferred", doc)
        self.assertEqual(msgs[a]["sender"], "alice@example.test", doc)
        self.assertEqual([r["address"] for r in msgs[a]["recipients"]], ["a@one.test"], doc)
        self.assertEqual(msgs[a]["recipients"][0]["status"], "deferred", doc)
        self.assertEqual(set(self.listing("--domain", "one.test", source="spool")), {a})
        self.assertEqual(set(self.listing("--domain", "two.test", source="spool")), set())

        rc, out, err = self.cli("list")
        self.assertEqual(rc, 0, err)
        self.assertIn(a, out)
        self.assertIn("not running", err)

        rc, out, err = self.cli("summary", "--json")
        self.assertEqual(rc, 0, err)
        self.assertIn("not running", err)
        doc = json.loads(out)
        self.assertEqual(doc["source"], "spool", doc)
        self.assertEqual(doc["total"]["total"], 1, doc)
        self.assertEqual([(d["domain"], d["total"]) for d in doc["domains"]], [("one.test", 1)], doc)

        rc, out, err = self.cli("show", a, "--json")
        self.assertEqual(rc, 0, err)
        self.assertIn("not running", err)
        doc = json.loads(out)
        self.assertEqual(doc["source"], "spool", doc)
        self.assertEqual(doc["message"]["id"], a, doc)
        self.assertIn("Subject: err-a", doc["message"]["headers"])

        for args in (("flush", "--all"), ("flush", a), ("hold", a), ("release", "--all"),
                     ("delete", a), ("bounce", a)):
            rc, out, err = self.cli(*args)
            self.assertEqual(rc, 1, f"{args} with tern stopped: exit {rc}, {out} {err}")
            self.assertIn("not running", err, args)
        self.assertEqual(set(self.listing(source="spool")), {a}, "nothing was changed while tern was down")

    # -- 7. flush one message, one domain ---------------------------------
    def test_flush_id_and_domain(self):
        a = self.deferred("alice@example.test", ["fa@one.test"], "flush-a")
        b = self.deferred("alice@example.test", ["fb@one.test"], "flush-b")
        c = self.deferred("alice@example.test", ["fc@two.test"], "flush-c")
        self.wait_states({a: "deferred", b: "deferred", c: "deferred"}, "three deferred messages")
        self.remote.accepting = True

        out = self.ok("flush", a)
        self.assertRegex(out, r"\b1\b", "flush prints a count")
        wait_for(lambda: self.remote.deliveries("fa@one.test"), "flush ID to deliver it", timeout=5)
        self.wait_states({b: "deferred", c: "deferred"}, "the two messages not flushed")
        self.assertEqual(self.remote.deliveries("fb@one.test"), 0, "flush ID delivered another message")
        self.assertEqual(self.remote.deliveries("fc@two.test"), 0, "flush ID delivered another message")

        out = self.ok("flush", "--domain", "two.test")
        self.assertRegex(out, r"\b1\b", "flush prints a count")
        wait_for(lambda: self.remote.deliveries("fc@two.test"), "flush --domain two.test to deliver", timeout=5)
        self.wait_states({b: "deferred"}, "the message for one.test left")
        self.assertEqual(self.remote.deliveries("fb@one.test"), 0, "flush --domain delivered another domain")
        self.assertEqual(self.remote.deliveries("fa@one.test"), 1)


if __name__ == "__main__":
    ternlib.run_tests()
