#!/usr/bin/python3
"""t-34-metrics_dashboard: `[http] address` serves /metrics (Prometheus text),
the dashboard at / and the read-only control API under /api/, checked
against a known scripted load.

The load, each message in its own SMTP session over a raw socket that
records every reply code the client sees:
- 5 messages to local users (Maildir);
- 3 messages to far.test, relayed via the smarthost (aiosmtpd inside this
  test) that answers RCPT with 451 for them (retry_interval is an hour, so
  they stay queued, tried once);
- 2 messages to dead.test from <> that the smarthost answers 550 for
  (bounced; no DSN, the sender being null);
- one extra RCPT to an unknown local user (a 5xx the client sees).

Proves:
- before the load every counter is 0 (messages received, connections,
  replies, deliveries);
- /metrics (fetched with curl, parsed by prometheus_client) has every family
  with its type; after the load: received 10, delivered{maildir} 5 and
  nothing else delivered, deferred{smtp} 3 (one per deferral logged),
  bounced{smtp} 2, nothing expired, queue_messages 3, the oldest age in
  bounds, replies by class equal to what the clients saw (3xx == the DATA
  commands), connections_total 10, the latency histogram counting one per
  recipient delivered, group commits summing to the messages received;
- [limits] max_connections_per_ip = 2: with 2 sessions open, 2 more get 421
  at once; refused{reason="max_connections_per_ip"} goes up by 2,
  connections_total by 4, replies 4xx by 2, connections_open is 2 meanwhile
  and 0 once all are closed;
- the dashboard in headless Chromium (--dump-dom once body data-loaded=yes):
  the queue total equals `tern queue list --json` (3), the far.test row and
  the TOTAL row show 3, received/delivered/failed cards, the recent table
  has each deferred queue id with the 451 text and each bounced one with
  the 550 text; a screenshot is a PNG of more than 10 KB;
- /api/stats: queue 3, received 10, delivered 5, bounced 2; /api/list has
  the three deferred ids; /nope and /api/show are 404;
- without [http], the tern process listens on its SMTP port only and the
  HTTP port is refused;
- four idle keep-alive HTTP connections (a browser on the dashboard keeps
  some) do not hold up a scrape: /metrics answers within 2 s.
"""
import collections
import html.parser
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from ternlib import Dialog, Tern, check, queue_id  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

QUEUE = '[queue]\nretry_interval = "1h"\nmax_retry_interval = "1h"'
GREY_TEXT = "Greylisted by the t-34 remote, come back later"
GONE_TEXT = "No such mailbox at the t-34 remote"
LOCAL = ["alice@example.test", "bob@example.test", "alice@example.test", "bob@example.test", "alice@example.test"]
DEFERRED = ["grey1@far.test", "grey2@far.test", "grey3@far.test"]
BOUNCED = ["gone1@dead.test", "gone2@dead.test"]
PER_IP = 2

# family name as prometheus_client reports it (counters lose "_total") -> type
FAMILIES = {
    "tern_connections_open": "gauge",
    "tern_connections": "counter",
    "tern_connections_refused": "counter",
    "tern_tls_sessions": "counter",
    "tern_replies": "counter",
    "tern_messages_received": "counter",
    "tern_delivered": "counter",
    "tern_deferred": "counter",
    "tern_bounced": "counter",
    "tern_expired": "counter",
    "tern_queue_messages": "gauge",
    "tern_queue_oldest_message_age_seconds": "gauge",
    "tern_delivery_latency_seconds": "histogram",
    "tern_group_commit_size": "histogram",
    "tern_dns_failures": "counter",
}
KINDS = ("maildir", "lmtp", "smtp")
CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


def wait_for(predicate, what, timeout=10):
    return ternlib.wait_for(predicate, timeout, 0.05, what)


class Remote:
    """The smarthost: aiosmtpd in this process (stopped by stop()). RCPT to
    grey* gets 451, to gone* 550, anything else 250."""

    def __init__(self):
        self.lock = threading.Lock()
        self.taken = []
        self.port = ternlib.free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("grey"):
            return f"451 4.3.0 {GREY_TEXT}"
        if address.lower().startswith("gone"):
            return f"550 5.1.1 {GONE_TEXT}"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.taken.append(list(envelope.rcpt_tos))
        return "250 2.0.0 Queued"

    def stop(self):
        self.controller.stop()


class Client(Dialog):
    """A raw SMTP session that counts the final code of every reply read,
    by class, into `seen`."""

    def __init__(self, port, seen):
        self.seen = seen
        super().__init__(port)

    def read_reply(self):
        r = super().read_reply()
        self.seen[f"{r.code // 100}xx"] += 1
        return r


class Scrape:
    """One /metrics document parsed by prometheus_client: families by name,
    samples by (name, frozenset(labels))."""

    def __init__(self, text):
        self.text = text
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = {}
        for f in self.families.values():
            for s in f.samples:
                self.samples[(s.name, frozenset(s.labels.items()))] = s.value

    def value(self, name, **labels):
        key = (name, frozenset(labels.items()))
        if key not in self.samples:
            raise AssertionError(f"no sample {name}{labels} in /metrics:\n{self.text}")
        return self.samples[key]


class DomOf(html.parser.HTMLParser):
    """What the tests read from the dumped DOM: the text of each element
    with an id, the body's attributes, and the rows of each table by table
    id: (tr attributes, [(cell class, cell text)])."""

    VOID = {"meta", "link", "br", "img", "input", "hr", "col", "area", "base", "source", "wbr", "embed", "param", "track"}

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.stack = []  # [tag, attrs, text parts]
        self.by_id = {}
        self.body = {}
        self.tables = collections.defaultdict(list)
        self.table = None
        self.row = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "body":
            self.body = attrs
        if tag == "table":
            self.table = attrs.get("id")
        if tag == "tr" and self.table:
            self.row = (attrs, [])
            self.tables[self.table].append(self.row)
        if tag not in self.VOID:
            self.stack.append([tag, attrs, []])

    def handle_endtag(self, tag):
        while self.stack:
            t, attrs, parts = self.stack.pop()
            text = "".join(parts)
            if self.stack:
                self.stack[-1][2].append(text)
            if "id" in attrs:
                self.by_id[attrs["id"]] = text.strip()
            if t in ("td", "th") and self.row is not None:
                self.row[1].append((attrs.get("class", ""), text.strip()))
            if t == "table":
                self.table = None
            if t == "tr":
                self.row = None
            if t == tag:
                break

    def handle_data(self, data):
        if self.stack:
            self.stack[-1][2].append(data)


def curl(url, timeout=10):
    """(HTTP status, body) of a GET with curl."""
    p = subprocess.run(["curl", "-sS", "--max-time", str(timeout), "-o", "-", "-w", "\n%{http_code}", url],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout + 5)
    if p.returncode != 0:
        raise AssertionError(f"curl {url}: exit {p.returncode}: {p.stderr!r}")
    body, _, status = p.stdout.decode("utf-8", "replace").rpartition("\n")
    return int(status), body


def listening_sockets_of(pid):
    """TCP ports in LISTEN state whose socket is one of pid's descriptors."""
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[3] == "0A" and parts[9] in inodes:
                    ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


class MetricsDashboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.remote = Remote()
        cls.addClassCleanup(cls.remote.stop)
        cls.http_port = ternlib.free_port()
        cls.tern = Tern(users=["alice", "bob"], limits={"max_connections_per_ip": PER_IP},
                        extra_toml=(f'[relay]\nsmarthost = "127.0.0.1:{cls.remote.port}"\n{QUEUE}\n'
                                    f'[http]\naddress = "127.0.0.1:{cls.http_port}"'))
        cls.tern.start()
        cls.addClassCleanup(cls.tern.stop)
        wait_for(lambda: cls.http_port in ternlib._listening_ports(), f"tern to listen on http port {cls.http_port}")
        cls.before = cls.scrape()
        cls.seen = collections.Counter()
        cls.data_commands = 0
        cls.t_load = time.time()
        cls.local_ids = [cls.send("alice@example.test", [r], f"local-{i}") for i, r in enumerate(LOCAL)]
        cls.deferred_ids = [cls.send("alice@example.test", [r], f"deferred-{i}") for i, r in enumerate(DEFERRED)]
        cls.bounced_ids = [cls.send("", [r], f"bounced-{i}") for i, r in enumerate(BOUNCED)]
        for qid in cls.local_ids:
            cls.tern.wait_log_events("delivered", 1, queue_id=qid)
        for qid in cls.deferred_ids:
            cls.tern.wait_log_events("deferred", 1, queue_id=qid)
        for qid in cls.bounced_ids:
            cls.tern.wait_log_events("failed", 1, queue_id=qid)

        # The log line may come before the counter it goes with: wait
        # (bounded) until the load shows in the counters, then the tests
        # compare the exact numbers.
        def settled():
            s = cls.scrape()
            done = (s.value("tern_messages_received_total") >= 10
                    and sum(s.value("tern_delivered_total", kind=k) for k in KINDS) >= 5
                    and sum(s.value("tern_deferred_total", kind=k) for k in KINDS) >= 3
                    and sum(s.value("tern_bounced_total", kind=k) for k in KINDS) >= 2
                    and s.value("tern_queue_messages") <= 3
                    and s.value("tern_connections_open") == 0)
            return s if done else None
        cls.after = wait_for(settled, "the load to show in /metrics")
        cls.t_after = time.time()

    @classmethod
    def scrape(cls):
        status, body = curl(f"http://127.0.0.1:{cls.http_port}/metrics")
        if status != 200:
            raise AssertionError(f"/metrics: HTTP {status}: {body!r}")
        return Scrape(body)

    @classmethod
    def send(cls, sender, rcpts, tag):
        """One message in its own session; returns its queue id."""
        with Client(cls.tern.port, cls.seen) as d:
            check(d.greeting, 220, what="greeting")
            check(d.cmd("EHLO client.example"), 250, what="EHLO")
            check(d.cmd(f"MAIL FROM:<{sender}>"), 250, what="MAIL")
            for r in rcpts:
                check(d.cmd(f"RCPT TO:<{r}>"), 250, what=f"RCPT {r}")
            if tag == "local-0":
                check(d.cmd("RCPT TO:<nosuch@example.test>"), "5", what="RCPT to an unknown user")
            check(d.cmd("DATA"), 354, what="DATA")
            cls.data_commands += 1
            d.send(f"From: <{sender or 'nobody@example.test'}>\r\nTo: <{rcpts[0]}>\r\nSubject: {tag}\r\n\r\n"
                   f"t-34 body {tag}\r\n.\r\n")
            qid = queue_id(check(d.read_reply(), 250, what="end of data"))
            check(d.cmd("QUIT"), 221, what="QUIT")
        return qid

    def cli_list(self):
        p = subprocess.run([ternlib.tern_bin(), "queue", "list", "--json", "--config", str(self.tern.config_path)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["source"], "server", doc)
        return doc["messages"]

    # -- 1. families and counters against the load ------------------------
    def test_1_families_and_types(self):
        for s in (self.before, self.after):
            for name, kind in FAMILIES.items():
                self.assertIn(name, set(s.families), f"family {name} missing:\n{s.text}")
                self.assertEqual(s.families[name].type, kind, name)
            for k in KINDS:
                for fam in ("delivered", "deferred", "bounced", "expired"):
                    s.value(f"tern_{fam}_total", kind=k)
            for c in CLASSES:
                s.value("tern_replies_total", **{"class": c})
            for reason in ("max_connections", "max_connections_per_ip"):
                s.value("tern_connections_refused_total", reason=reason)

    def test_2_zero_before_the_load(self):
        b = self.before
        self.assertEqual(b.value("tern_messages_received_total"), 0)
        self.assertEqual(b.value("tern_connections_total"), 0)
        self.assertEqual(b.value("tern_connections_open"), 0)
        for c in CLASSES:
            self.assertEqual(b.value("tern_replies_total", **{"class": c}), 0, c)
        for k in KINDS:
            self.assertEqual(b.value("tern_delivered_total", kind=k), 0, k)
        self.assertEqual(b.value("tern_queue_messages"), 0)
        self.assertEqual(b.value("tern_delivery_latency_seconds_count"), 0)
        self.assertEqual(b.value("tern_group_commit_size_count"), 0)

    def test_3_counters_after_the_load(self):
        a = self.after
        self.assertEqual(a.value("tern_messages_received_total"), 10)
        self.assertEqual(a.value("tern_delivered_total", kind="maildir"), 5)
        self.assertEqual(a.value("tern_delivered_total", kind="lmtp"), 0)
        self.assertEqual(a.value("tern_delivered_total", kind="smtp"), 0)
        deferrals = len(self.tern.log_events("deferred"))
        self.assertGreaterEqual(a.value("tern_deferred_total", kind="smtp"), 3)
        self.assertEqual(a.value("tern_deferred_total", kind="smtp"), deferrals, "one per deferral logged")
        self.assertEqual(a.value("tern_deferred_total", kind="maildir"), 0)
        self.assertEqual(a.value("tern_bounced_total", kind="smtp"), 2)
        self.assertEqual(a.value("tern_bounced_total", kind="maildir"), 0)
        for k in KINDS:
            self.assertEqual(a.value("tern_expired_total", kind=k), 0, k)
        self.assertEqual(a.value("tern_queue_messages"), 3)
        oldest = a.value("tern_queue_oldest_message_age_seconds")
        self.assertTrue(0 <= oldest <= self.t_after - self.t_load + 2, (oldest, self.t_after - self.t_load))
        self.assertEqual(a.value("tern_tls_sessions_total"), 0)
        self.assertEqual(a.value("tern_dns_failures_total"), 0, "the smarthost is an IP address")

        # replies: what the clients saw, class by class
        seen = {c: self.seen[c] for c in CLASSES}
        scraped = {c: a.value("tern_replies_total", **{"class": c}) for c in CLASSES}
        self.assertEqual(scraped, seen)
        self.assertEqual(scraped["3xx"], self.data_commands)
        self.assertEqual(self.data_commands, 10)
        self.assertGreaterEqual(scraped["5xx"], 1)
        self.assertEqual(a.value("tern_connections_total"), 10)
        self.assertEqual(a.value("tern_connections_open"), 0)
        for reason in ("max_connections", "max_connections_per_ip"):
            self.assertEqual(a.value("tern_connections_refused_total", reason=reason), 0, reason)

        # histograms
        delivered = sum(a.value("tern_delivered_total", kind=k) for k in KINDS)
        self.assertEqual(a.value("tern_delivery_latency_seconds_count"), delivered)
        self.assertEqual(a.value("tern_delivery_latency_seconds_bucket", le="+Inf"), delivered)
        self.assertLessEqual(a.value("tern_delivery_latency_seconds_sum"), delivered * (self.t_after - self.t_load + 2))
        commits = a.value("tern_group_commit_size_count")
        self.assertGreaterEqual(commits, 1)
        self.assertEqual(a.value("tern_group_commit_size_bucket", le="+Inf"), commits)
        self.assertGreaterEqual(a.value("tern_group_commit_size_sum"), 10)
        self.assertEqual(self.tern.log_events("dsn"), [], "no DSN expected: the bounced messages are from <>")
        self.assertEqual(a.value("tern_group_commit_size_sum"), 10, "10 messages, no DSN, were committed")
        self.assertLessEqual(commits, 10)
        # buckets are cumulative
        for fam in ("tern_delivery_latency_seconds", "tern_group_commit_size"):
            buckets = sorted((float(s.labels["le"]), s.value) for s in a.families[fam].samples
                             if s.name.endswith("_bucket"))
            values = [v for _, v in buckets]
            self.assertEqual(values, sorted(values), f"{fam} buckets not cumulative: {buckets}")

    # -- 2. connection limits ---------------------------------------------
    def test_4_refused_per_ip(self):
        wait_for(lambda: self.scrape().value("tern_connections_open") == 0, "no connection open")
        b = self.scrape()
        seen = collections.Counter()
        admitted = []
        try:
            for _ in range(PER_IP):
                d = Client(self.tern.port, seen)
                admitted.append(d)
                check(d.greeting, 220, what="an admitted connection")
            during = self.scrape()
            self.assertEqual(during.value("tern_connections_open"), PER_IP)
            for _ in range(2):
                with Client(self.tern.port, seen) as d:
                    check(d.greeting, 421, what="a connection over max_connections_per_ip")
                    d.expect_closed(timeout=5)
            for d in admitted:
                check(d.cmd("QUIT"), 221, what="QUIT")
        finally:
            for d in admitted:
                d.close()

        def closed():
            s = self.scrape()
            return s if s.value("tern_connections_open") == 0 else None
        a = ternlib.wait_for(closed, 5, 0.05, "connections_open to return to 0")
        delta = lambda name, **labels: a.value(name, **labels) - b.value(name, **labels)  # noqa: E731
        self.assertEqual(delta("tern_connections_refused_total", reason="max_connections_per_ip"), 2)
        self.assertEqual(delta("tern_connections_refused_total", reason="max_connections"), 0)
        self.assertEqual(delta("tern_connections_total"), PER_IP + 2)
        self.assertEqual({c: delta("tern_replies_total", **{"class": c}) for c in CLASSES},
                         {c: seen[c] for c in CLASSES})
        self.assertEqual(seen["4xx"], 2)
        self.assertEqual(a.value("tern_connections_open"), 0)

    # -- 3. the dashboard in headless Chromium ------------------------------
    def chromium(self, *args, timeout=12):
        """Runs headless Chromium on the dashboard (own HOME and profile,
        own process group, killed if still there); returns stdout."""
        home = ternlib.make_tempdir("tern-t34-chromium-")
        env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
                   XDG_CACHE_HOME=str(home / "cache"))
        cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--no-default-browser-check", "--disable-extensions",
               "--disable-background-networking", "--disable-sync", "--disable-component-update",
               f"--user-data-dir={home / 'profile'}", "--virtual-time-budget=6000", *args,
               f"http://127.0.0.1:{self.http_port}/"]
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env, cwd=str(home), start_new_session=True)

        def kill_group():
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.addCleanup(kill_group)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group()
            p.communicate(timeout=10)
            self.fail(f"chromium {args} did not finish within {timeout}s")
        finally:
            kill_group()  # helpers of the browser left behind
        self.assertEqual(p.returncode, 0, f"chromium {args}: exit {p.returncode}\n{err.decode('utf-8', 'replace')[-2000:]}")
        return out.decode("utf-8", "replace")

    def loaded_dom(self):
        """The dumped DOM once the page has its data (bounded retries)."""
        last = None
        for _ in range(2):
            dom = DomOf(self.chromium("--dump-dom"))
            if dom.body.get("data-loaded") == "yes":
                return dom
            last = dom
        self.fail(f"the dashboard never loaded its data: body {last.body}, "
                  f"updated={last.by_id.get('updated')!r} error={last.by_id.get('error')!r}")

    def test_5_dashboard(self):
        queued = self.cli_list()
        self.assertEqual(sorted(m["id"] for m in queued), sorted(self.deferred_ids))
        dom = self.loaded_dom()
        self.assertEqual(dom.by_id.get("error"), "", dom.by_id)
        self.assertEqual(dom.by_id.get("queue-total"), str(len(queued)), dom.by_id)
        self.assertEqual(dom.by_id.get("queue-total"), "3", dom.by_id)
        self.assertEqual(dom.by_id.get("received"), "10", dom.by_id)
        self.assertEqual(dom.by_id.get("delivered"), "5", dom.by_id)
        self.assertEqual(dom.by_id.get("bounced"), "2", dom.by_id)
        self.assertNotEqual(dom.by_id.get("oldest-age"), "-", dom.by_id)

        rows = dom.tables["summary"]
        by_domain = {attrs.get("data-domain"): cells for attrs, cells in rows if attrs.get("data-domain")}
        self.assertEqual(set(by_domain), {"far.test"}, f"domains with messages waiting: {rows}")
        totals = [text for cls, text in by_domain["far.test"] if cls == "total"]
        self.assertEqual(totals, ["3"], by_domain["far.test"])
        total_rows = [cells for attrs, cells in rows if cells and cells[0][1] == "TOTAL"]
        self.assertEqual(len(total_rows), 1, rows)
        self.assertEqual([text for cls, text in total_rows[0] if cls == "total"], ["3"], total_rows)

        recent = [[text for _, text in cells] for attrs, cells in dom.tables["recent"]
                  if len(cells) == 5 and cells[1][1] != "queue id"]
        by_id = collections.defaultdict(list)
        for time_, qid, rcpt, outcome, reply in recent:
            by_id[qid].append((rcpt, outcome, reply))
        for qid, rcpt in zip(self.deferred_ids, DEFERRED):
            self.assertIn(qid, by_id, f"deferred {qid} not in the recent table: {recent}")
            rcpt_, outcome, reply = by_id[qid][0]
            self.assertEqual((rcpt_, outcome), (rcpt, "deferred"), by_id[qid])
            self.assertIn("451", reply, by_id[qid])
            self.assertIn(GREY_TEXT, reply, by_id[qid])
        for qid, rcpt in zip(self.bounced_ids, BOUNCED):
            self.assertIn(qid, by_id, f"bounced {qid} not in the recent table: {recent}")
            rcpt_, outcome, reply = by_id[qid][0]
            self.assertEqual((rcpt_, outcome), (rcpt, "failed"), by_id[qid])
            self.assertIn("550", reply, by_id[qid])
            self.assertIn(GONE_TEXT, reply, by_id[qid])
        for qid in self.local_ids:
            self.assertNotIn(qid, by_id, "a message delivered is no deferral or failure")

        shot_dir = ternlib.make_tempdir("tern-t34-shot-")
        shot = shot_dir / "shot.png"
        self.chromium(f"--screenshot={shot}", "--window-size=1200,900")
        self.assertTrue(shot.is_file(), f"no screenshot at {shot}")
        data = shot.read_bytes()
        self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n", "not a PNG")
        self.assertGreater(len(data), 10 * 1024, f"a screenshot of {len(data)} bytes")

    # -- 4. the JSON API, 404, [http] off ----------------------------------
    def test_6_api(self):
        status, body = curl(f"http://127.0.0.1:{self.http_port}/api/stats")
        self.assertEqual(status, 200, body)
        stats = json.loads(body)
        self.assertEqual(stats["queue"], 3, stats)
        self.assertEqual(stats["received"], 10, stats)
        self.assertEqual(stats["delivered"], 5, stats)
        self.assertEqual(stats["bounced"], 2, stats)
        status, body = curl(f"http://127.0.0.1:{self.http_port}/api/list")
        self.assertEqual(status, 200, body)
        self.assertEqual(sorted(m["id"] for m in json.loads(body)["messages"]), sorted(self.deferred_ids))
        status, body = curl(f"http://127.0.0.1:{self.http_port}/api/list?domain=dead.test")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["messages"], [])
        for path in ("/nope", "/api/show", "/api/flush", "/metrics/x"):
            status, body = curl(f"http://127.0.0.1:{self.http_port}{path}")
            self.assertEqual(status, 404, f"{path}: {body!r}")

    def test_7_http_off_by_default(self):
        port = ternlib.free_port()
        plain = Tern(users=["alice"])
        plain.start()  # returns once control.sock listens too
        self.addCleanup(plain.stop)
        self.assertEqual(listening_sockets_of(plain.proc.pid), {plain.port}, "ports tern listens on")
        # and, for contrast, the server with [http] listens on both
        self.assertEqual(listening_sockets_of(self.tern.proc.pid), {self.tern.port, self.http_port})
        with socket.socket() as s:
            s.settimeout(5)
            with self.assertRaises(ConnectionRefusedError):
                s.connect(("127.0.0.1", port))

    def test_8_idle_keep_alive_connections_hold_nobody_up(self):
        """A browser showing the dashboard keeps its connections open (the
        page, then three fetches at a time every 2 s): four idle keep-alive
        connections must not hold up a scrape or the next fetch."""
        socks = []
        try:
            for _ in range(4):
                s = socket.create_connection(("127.0.0.1", self.http_port), timeout=10)
                socks.append(s)
                s.sendall(b"GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                got = b""
                while b"\r\n\r\n" not in got:
                    chunk = s.recv(65536)
                    self.assertTrue(chunk, f"connection closed: {got!r}")
                    got += chunk
                head, _, body = got.partition(b"\r\n\r\n")
                self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
                length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
                while len(body) < length:
                    chunk = s.recv(65536)
                    self.assertTrue(chunk, "connection closed in the body")
                    body += chunk
            t = time.monotonic()
            status, body = curl(f"http://127.0.0.1:{self.http_port}/metrics")
            elapsed = time.monotonic() - t
            self.assertEqual(status, 200, body)
            self.assertLess(elapsed, 2, f"GET /metrics took {elapsed:.1f}s with 4 idle keep-alive connections open")
        finally:
            for s in socks:
                s.close()


if __name__ == "__main__":
    ternlib.run_tests()
