#!/usr/bin/python3
"""t-35-reload: SIGHUP and `tern reload --config FILE` read the whole
configuration again (src/app/reload.h), through the real binary.

Proves:
- settings: a session opened before a reload finishes on the old
  configuration, one opened after gets the new one: a user added to [local]
  users (RCPT 550 5.1.1 before, 250 after), a domain added to [local]
  domains (and mail for it is delivered to its Maildir), [relay] networks
  ([] -> 127.0.0.0/8: 554 5.7.1 before, 250 after), [local] aliases moved to
  another file (the old session expands the old file, the new one the new),
  limits.max_recipients (2 -> 5: 452 4.5.3 at the third before, at the
  sixth after). `tern reload` prints "reloaded: 1 listener" and exits 0;
- listeners: an added [[listener]] is bound (event=listen) and serves, a
  removed one is closed (event=unlisten, new connections refused) while a
  session already open on it still sends a message; a listener whose role
  goes mx -> submission keeps its socket (no second event=listen) and a new
  session on it gets 530 5.7.0 to MAIL (event=connect role=submission)
  while the one opened before still gets 250; a removed listener can be
  added back;
- refusals, the old configuration staying whole each time (the old
  listeners answer, role mx, the old users, aliases and limits hold, and no
  listener of the refused file is bound): `tern reload` exits 1 with "reload
  refused: ..." naming a listener port held by another process, an aliases
  file with a loop (file:line), a missing TLS certificate with none before
  ('tls.certificate'); SIGHUP with a TOML syntax error and with an unknown
  key (event=reload_failed naming it; `tern reload` with the syntax error
  exits 1 itself, as it reads the file to find data_dir); each one logs
  event=reload_failed with the reason, and a valid reload afterwards works;
- keys that only a restart applies (log_level, log_format, queue.*,
  relay.smarthost, outbound.*, dns.servers, http.address, auth.users_file;
  data_dir by SIGHUP): the reload still happens (a user added in the same
  file is accepted), the log says event=reloaded ... restart_needed=<keys>
  and `tern reload` prints "a restart is needed for: <keys>" naming exactly
  the changed ones; the log stays in the text format, http.address is not
  bound; a message deferred in the queue keeps its id, attempts and next
  attempt (queued mail is not touched); after a second reload of the same
  file the restart is still needed, and said;
- hostname: a reload names it among the keys a restart needs, and until
  then the old name is said everywhere (greeting and outbound EHLO);
- limits.max_message_size raised: a message of a size between the old and
  the new limit given to `tern sendmail` (which reads the file) is
  delivered by the pickup, not thrown away;
- a session that saw STARTTLS offered before a reload that removes [tls]
  can still send STARTTLS without taking the server down;
- with NOTIFY_SOCKET: every reload (SIGHUP, `tern reload`, refused or not)
  sends RELOADING=1 with MONOTONIC_USEC (CLOCK_MONOTONIC, microseconds) then
  a separate READY=1, from tern's pid;
- `tern reload` with no server running exits 1 saying "not running".
"""
import json
import os
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
from ternlib import Tern, check, session  # noqa: E402

# The notification socket of whatever runs this test must not reach tern.
for _var in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
    os.environ.pop(_var, None)

MESSAGE = b"Subject: t-35\r\n\r\nreloaded or not\r\n"


def wait_for(predicate, what, timeout=10):
    return ternlib.wait_for(predicate, timeout, 0.05, what)


class ReloadTern(Tern):
    """A Tern whose file can say more, and be written again for a reload:
    the first listener's role, more listeners [(port, role)], raw lines at
    the top and in [local]; `env` is set for the process (NOTIFY_SOCKET)."""

    def __init__(self, role="mx", more_listeners=(), top_extra="", local_extra="", env=None, **kw):
        super().__init__(**kw)
        self.role = role
        self.more_listeners = list(more_listeners)
        self.top_extra = top_extra
        self.local_extra = local_extra
        self.env = dict(env or {})

    def config_text(self):
        out = [f"hostname = {ternlib.toml_value(self.hostname)}",
               f"data_dir = {ternlib.toml_value(str(self.data_dir))}",
               f"log_level = {ternlib.toml_value(self.log_level)}"]
        if self.top_extra:
            out.append(self.top_extra)
        for port, role in [(self.port, self.role)] + self.more_listeners:
            out += ["", "[[listener]]", f'address = "127.0.0.1:{port}"', f"role = {ternlib.toml_value(role)}"]
        out += ["", "[local]",
                f"domains = {ternlib.toml_value(self.domains)}",
                f"users = {ternlib.toml_value(self.users)}",
                f"accept_any_user = {ternlib.toml_value(self.accept_any_user)}"]
        if self.local_extra:
            out.append(self.local_extra)
        if self.limits:
            out += ["", "[limits]"] + [f"{k} = {ternlib.toml_value(v)}" for k, v in self.limits.items()]
        if self.extra_toml:
            out += ["", self.extra_toml]
        out += self._no_mail_checks("\n".join(out))
        return "\n".join(out) + "\n"

    def start(self, *args, **kw):
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            super().start(*args, **kw)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        wait_for(lambda: set(p for p, _ in self.more_listeners) <= ternlib._listening_ports(),
                 f"the other listeners {self.more_listeners}")
        self.wait_log_events("started")
        return self

    def reload_cli(self, config_path=None):
        """`tern reload --config FILE`: (status, stdout, stderr)."""
        p = subprocess.run([ternlib.tern_bin(), "reload", "--config", str(config_path or self.config_path)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=20, cwd=str(self.dir))
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def sighup(self, outcome):
        """SIGHUP, then waits for one more log line event=<outcome>
        (reloaded or reload_failed) and returns it."""
        n = len(self.log_events(outcome))
        self.proc.send_signal(signal.SIGHUP)
        return self.wait_log_events(outcome, n + 1)[-1]


def rcpt(d, address):
    return d.cmd(f"RCPT TO:<{address}>")


def listening(port):
    return port in ternlib._listening_ports()


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


class ReloadCase(unittest.TestCase):
    def tern(self, **kw):
        t = ReloadTern(**kw)
        self.addCleanup(t.stop)
        return t

    def session(self, port):
        d = session(port)
        self.addCleanup(d.close)
        return d

    def reload_ok(self, t):
        rc, out, err = t.reload_cli()
        self.assertEqual(rc, 0, f"tern reload: exit {rc}\nstdout: {out}\nstderr: {err}\n{t.log_tail(15)}")
        self.assertEqual(err, "")
        return out

    def reload_refused(self, t, *reasons):
        """`tern reload` must exit 1 with "reload refused: ..." naming every
        one of reasons; the log line event=reload_failed too."""
        n = len(t.log_events("reload_failed"))
        rc, out, err = t.reload_cli()
        self.assertEqual(rc, 1, f"tern reload of a bad config: exit {rc}\nstdout: {out}\nstderr: {err}")
        self.assertIn("reload refused: ", err)
        self.assertNotIn("reloaded", out)
        failed = t.wait_log_events("reload_failed", n + 1)[-1]
        for reason in reasons:
            self.assertIn(reason, err)
            self.assertIn(reason, failed.get("detail", ""), failed)
        return err

    def local_transaction(self, d, rcpts, expect_data=250):
        check(d.cmd("MAIL FROM:<sender@client.example>"), 250, what="MAIL")
        for r in rcpts:
            check(rcpt(d, r), 250, what=f"RCPT {r}")
        return check(ternlib.send_data(d, MESSAGE), expect_data, what="DATA")


# --------------------------------------------------------------------------


class Settings(ReloadCase):
    def test_old_sessions_old_settings_new_sessions_new(self):
        t = self.tern(users=["alice"], limits={"max_recipients": 2}, extra_toml="[relay]\nnetworks = []")
        aliases1 = t.dir / "aliases1"
        aliases1.write_text("sales: alice\n")
        aliases2 = t.dir / "aliases2"
        aliases2.write_text("team: carol\n")
        t.local_extra = f"aliases = {ternlib.toml_value(str(aliases1))}"
        t.start()

        old = self.session(t.port)
        check(old.cmd("MAIL FROM:<sender@client.example>"), 250)
        check(rcpt(old, "carol@example.test"), 550, "5.1.1", "carol before the reload")

        t.users = ["alice", "carol", "dave", "erin"]
        t.domains = ["example.test", "new.test"]
        t.limits = {"max_recipients": 5}
        t.extra_toml = '[relay]\nnetworks = ["127.0.0.0/8"]'
        t.local_extra = f"aliases = {ternlib.toml_value(str(aliases2))}"
        t.write_config()
        self.assertEqual(self.reload_ok(t).strip(), "reloaded: 1 listener")
        t.wait_log_events("reloaded")

        new = self.session(t.port)
        # The session opened before: the old users, domains, networks, aliases, limit.
        check(rcpt(old, "carol@example.test"), 550, "5.1.1", "carol, old session, after the reload")
        check(rcpt(old, "carol@new.test"), 554, "5.7.1", "new.test, old session")
        check(rcpt(old, "x@remote.test"), 554, "5.7.1", "relay, old session")
        check(rcpt(old, "team@example.test"), 550, "5.1.1", "alias of the new file, old session")
        check(rcpt(old, "sales@example.test"), 250, what="alias of the old file, old session")
        check(rcpt(old, "alice@example.test"), 250, what="alice, old session")
        check(rcpt(old, "dave@example.test"), 452, "4.5.3", "third recipient, old session (max 2)")
        check(ternlib.send_data(old, MESSAGE), 250, what="DATA, old session")

        # The session opened after: the new ones.
        check(new.cmd("MAIL FROM:<sender@client.example>"), 250)
        check(rcpt(new, "x@remote.test"), 250, what="relay, new session")
        check(new.cmd("RSET"), 250)
        check(new.cmd("MAIL FROM:<sender@client.example>"), 250)
        check(rcpt(new, "sales@example.test"), 550, "5.1.1", "alias of the old file, new session")
        for r in ("carol@example.test", "carol@new.test", "team@example.test", "alice@example.test",
                  "dave@example.test"):
            check(rcpt(new, r), 250, what=f"{r}, new session")
        check(rcpt(new, "erin@example.test"), 452, "4.5.3", "sixth recipient, new session (max 5)")
        check(ternlib.send_data(new, MESSAGE), 250, what="DATA, new session")

        # Delivery routes with the new domains.
        t.wait_maildir_count("carol", 1, domain="new.test")
        t.wait_maildir_count("carol", 1)
        t.wait_maildir_count("alice", 2)  # sales + alice (old session: one copy), alice (new)
        t.wait_maildir_count("dave", 1)


class Listeners(ReloadCase):
    def test_added_removed_role_changed(self):
        port_b, port_c = ternlib.free_port(), ternlib.free_port()
        t = self.tern(more_listeners=[(port_b, "mx")]).start()
        a_before = self.session(t.port)
        b_before = self.session(port_b)

        t.role = "submission"
        t.more_listeners = [(port_c, "mx")]
        t.write_config()
        self.assertEqual(self.reload_ok(t).strip(), "reloaded: 2 listeners")
        t.wait_log_events("unlisten", address=f"127.0.0.1:{port_b}")
        t.wait_log_events("listen", address=f"127.0.0.1:{port_c}", role="mx")
        self.assertTrue(listening(port_c), f"added listener {port_c} not in LISTEN")
        wait_for(lambda: not listening(port_b), f"removed listener {port_b} to leave LISTEN")
        self.assertTrue(refused(port_b), f"a new connection to the removed listener {port_b} was accepted")
        a_listens = t.log_events("listen")
        self.assertEqual(len([e for e in a_listens if e.get("address") == f"127.0.0.1:{t.port}"]), 1,
                         f"the kept listener was bound again: {a_listens}")

        # Open on the removed listener: goes on to the end.
        self.local_transaction(b_before, ["alice@example.test"])
        # Open on the role-changed listener before the reload: still mx.
        check(a_before.cmd("MAIL FROM:<sender@client.example>"), 250, what="MAIL, session opened as mx")
        check(a_before.cmd("RSET"), 250)
        # New on the role-changed listener: submission, MAIL needs AUTH.
        a_after = self.session(t.port)
        check(a_after.cmd("MAIL FROM:<alice@example.test>"), 530, "5.7.0", "MAIL on the listener now submission")
        # New on the added listener.
        c = self.session(port_c)
        self.local_transaction(c, ["bob@example.test"])
        roles = {}
        for e in t.log_events("connect"):
            roles.setdefault(e["session"], e["role"])
        self.assertEqual(sorted(roles.values()), ["mx", "mx", "mx", "submission"], t.log_events("connect"))
        t.wait_maildir_count("alice", 1)
        t.wait_maildir_count("bob", 1)

        # The removed listener added back, the role back to mx.
        t.role = "mx"
        t.more_listeners = [(port_b, "mx"), (port_c, "mx")]
        t.write_config()
        self.assertEqual(self.reload_ok(t).strip(), "reloaded: 3 listeners")
        wait_for(lambda: listening(port_b), f"listener {port_b} added back")
        self.local_transaction(self.session(port_b), ["alice@example.test"])
        self.local_transaction(self.session(t.port), ["alice@example.test"])
        t.wait_maildir_count("alice", 3)


class Refused(ReloadCase):
    def assert_old_config_whole(self, t):
        """The configuration of start: its listener answers as mx, alice
        (and the alias sales) are users, carol is not, max_recipients 2."""
        d = self.session(t.port)
        check(d.cmd("MAIL FROM:<sender@client.example>"), 250, what="MAIL (role mx)")
        check(rcpt(d, "carol@example.test"), 550, "5.1.1", "carol of the refused config")
        check(rcpt(d, "alice@example.test"), 250, what="alice of the old config")
        check(rcpt(d, "sales@example.test"), 250, what="alias sales of the old config")
        check(rcpt(d, "bob@example.test"), 452, "4.5.3", "max_recipients (2) of the old config")
        d.cmd("RSET")

    def test_refused_configs_keep_the_old_one(self):
        t = self.tern(users=["alice", "bob"], limits={"max_recipients": 2})
        aliases = t.dir / "aliases"
        aliases.write_text("sales: alice\n")
        t.local_extra = f"aliases = {ternlib.toml_value(str(aliases))}"
        t.start()
        good = t.config_text()

        # Every refused file adds carol, raises max_recipients, makes the
        # first listener submission and adds a free listener, besides its fault.
        free = ternlib.free_port()
        t.users = ["alice", "bob", "carol"]
        t.limits = {"max_recipients": 10}
        t.role = "submission"

        # 1. A listener port that another process holds.
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        taken = holder.getsockname()[1]
        t.more_listeners = [(free, "mx"), (taken, "mx")]
        t.write_config()
        self.reload_refused(t, f"127.0.0.1:{taken}")
        self.assertFalse(listening(free), f"listener {free} of the refused config is bound")
        self.assert_old_config_whole(t)
        holder.close()

        # 2. An aliases file with a loop (the running file edited in place).
        t.more_listeners = [(free, "mx")]
        t.write_config()
        aliases.write_text("sales: alice\nloop1: loop2\nloop2: loop1\n")
        self.reload_refused(t, str(aliases), "loop")
        self.assertFalse(listening(free))
        time.sleep(1.1)  # the running aliases file looks at the file again after a second
        self.assert_old_config_whole(t)
        aliases.write_text("sales: alice\n")

        # 3. A TLS certificate that does not exist, and none before.
        t.extra_toml = (f'[tls]\ncertificate = "{t.dir / "no-such-cert.pem"}"\n'
                        f'key = "{t.dir / "no-such-key.pem"}"')
        t.write_config()
        self.reload_refused(t, "tls.certificate")
        self.assertFalse(listening(free))
        self.assert_old_config_whole(t)
        d = self.session(t.port)
        self.assertNotIn("STARTTLS", d.cmd("EHLO client.example").text)
        t.extra_toml = ""

        # 4. TOML syntax errors, by SIGHUP (`tern reload` reads the file first).
        t.config_path.write_text(t.config_text() + "[limits\n")
        failed = t.sighup("reload_failed")
        self.assertIn(str(t.config_path), failed.get("detail", ""), failed)
        rc, out, err = t.reload_cli()
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("tern: config", err)
        self.assertFalse(listening(free))
        self.assert_old_config_whole(t)
        t.config_path.write_text(t.config_text().replace("[limits]", "[limits]\nmax_foo = 3"))
        failed = t.sighup("reload_failed")
        self.assertIn("limits.max_foo", failed.get("detail", ""), failed)
        self.assertFalse(listening(free))
        self.assert_old_config_whole(t)
        self.assertEqual(t.log_events("reloaded"), [], "a refused config was reported reloaded")
        self.assertTrue(t.running())

        # The good file of start: reloads; then the valid new one too.
        t.config_path.write_text(good)
        self.assertEqual(self.reload_ok(t).strip(), "reloaded: 1 listener")
        self.assert_old_config_whole(t)
        t.write_config()
        self.assertEqual(self.reload_ok(t).strip(), "reloaded: 2 listeners")
        wait_for(lambda: listening(free), f"listener {free}")
        check(self.session(t.port).cmd("MAIL FROM:<alice@example.test>"), 530, "5.7.0")
        d = self.session(free)
        check(d.cmd("MAIL FROM:<sender@client.example>"), 250)
        for r in ("carol@example.test", "alice@example.test", "sales@example.test", "bob@example.test"):
            check(rcpt(d, r), 250, what=f"{r} after the valid reload")


# --------------------------------------------------------------------------


class RestartNeeded(ReloadCase):
    def queue_cli(self, t, *args):
        p = subprocess.run([ternlib.tern_bin(), "queue", *args, "--config", str(t.config_path)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.decode()

    def deferred_message(self, t):
        with smtplib.SMTP("127.0.0.1", t.port, timeout=10) as s:
            s.ehlo("client.example")
            s.sendmail("alice@example.test", ["bob@remote.test"], MESSAGE)
        t.wait_log_events("deferred", rcpt="bob@remote.test")

        def listed():
            msgs = json.loads(self.queue_cli(t, "list", "--json"))["messages"]
            return msgs if msgs and msgs[0]["state"] == "deferred" else None
        return wait_for(listed, "the deferred message in tern queue list")

    def start_file(self, t, smarthost):
        t.extra_toml = "\n".join([
            '[queue]\nretry_interval = "1h"\nmax_retry_interval = "1h"',
            f'[relay]\nsmarthost = "127.0.0.1:{smarthost}"',
            '[outbound]\nconnect_timeout = "5s"',
        ])

    def test_restart_keys_named_reload_still_done(self):
        nobody = ternlib.free_port()  # a smarthost that refuses connections
        t = self.tern(users=["alice"])
        self.start_file(t, nobody)
        t.start()
        before = self.deferred_message(t)

        http = ternlib.free_port()
        t.users = ["alice", "carol"]
        t.log_level = "debug"
        t.top_extra = 'log_format = "json"'
        t.extra_toml = "\n".join([
            '[queue]\nretry_interval = "2h"\nmax_retry_interval = "2h"',
            f'[relay]\nsmarthost = "127.0.0.1:{ternlib.free_port()}"',
            '[outbound]\nconnect_timeout = "7s"',
            '[dns]\nservers = ["127.0.0.1:53"]',
            f'[http]\naddress = "127.0.0.1:{http}"',
            f'[auth]\nusers_file = "{t.dir / "other-users"}"',
        ])
        t.write_config()
        changed = {"log_level", "log_format", "queue.retry_interval", "queue.max_retry_interval",
                   "relay.smarthost", "outbound.connect_timeout", "dns.servers", "http.address",
                   "auth.users_file"}
        out = self.reload_ok(t)
        self.assertRegex(out, r"^reloaded: 1 listener; a restart is needed for: ")
        printed = out.strip().split("a restart is needed for: ", 1)[1].split(", ")
        self.assert_names(printed, changed)
        reloaded = t.wait_log_events("reloaded")[-1]
        self.assertEqual(reloaded.get("listeners"), "1", reloaded)
        self.assert_names(reloaded.get("restart_needed", "").split(","), changed)

        # The reload happened: carol is a user in a new session.
        rcpts = len([e for e in t.log_events("command") if (e.get("verb"), e.get("reply")) == ("RCPT", "250")])
        d = self.session(t.port)
        check(d.cmd("MAIL FROM:<sender@client.example>"), 250)
        check(rcpt(d, "carol@example.test"), 250, what="carol after a reload that needs a restart")
        # What needs a restart did not change: text log, no HTTP listener.
        t.wait_log_events("command", rcpts + 1, verb="RCPT", reply="250")
        self.assertFalse(listening(http), "http.address bound by a reload")
        # Queued mail is not touched.
        after = json.loads(self.queue_cli(t, "list", "--json"))["messages"]
        self.assertEqual([(m["id"], m["state"], m["attempts"], m["next_attempt"]) for m in after],
                         [(m["id"], m["state"], m["attempts"], m["next_attempt"]) for m in before])

        # data_dir, by SIGHUP (`tern reload` would look in the new data_dir).
        t.data_dir = t.dir / "other-data"
        t.write_config()
        ev = t.sighup("reloaded")
        self.assertIn("data_dir", ev.get("restart_needed", "").split(","), ev)
        self.assertFalse(t.data_dir.exists(), "the new data_dir was made by a reload")

    def test_restart_still_needed_on_second_reload(self):
        t = self.tern(users=["alice"]).start()
        t.log_level = "debug"
        t.write_config()
        self.assertIn("a restart is needed for: log_level", self.reload_ok(t))
        # Nothing edited since; tern still logs at info: still a restart to do.
        out = self.reload_ok(t)
        self.assertIn("a restart is needed for: log_level", out,
                      "a second `tern reload` of the same file no longer says a restart is needed "
                      "although log_level still has its value of start")

    def assert_names(self, names, changed):
        """names: what tern said needs a restart; each changed key must be
        named (itself or its table, as "queue" for queue.retry_interval),
        and nothing else."""
        for key in changed:
            self.assertTrue(any(key == n or key.startswith(n + ".") for n in names),
                            f"{key} changed, not named among {names}")
        for n in names:
            self.assertTrue(any(key == n or key.startswith(n + ".") for key in changed),
                            f"{n} named among {names} but not changed")

    def test_hostname(self):
        from aiosmtpd.controller import Controller

        class Remote:
            def __init__(self):
                self.ehlo = []

            async def handle_EHLO(self, server, session, envelope, hostname, responses):
                self.ehlo.append(hostname)
                session.host_name = hostname
                return responses

            async def handle_DATA(self, server, session, envelope):
                return "250 2.0.0 OK"

        remote = Remote()
        controller = Controller(remote, hostname="127.0.0.1", port=ternlib.free_port())
        controller.start()
        self.addCleanup(controller.stop)
        t = self.tern(users=["alice"], extra_toml=f'[relay]\nsmarthost = "127.0.0.1:{controller.port}"').start()
        t.hostname = "renamed.example.test"
        t.write_config()
        out = self.reload_ok(t)
        # A new host name needs a restart, and until then one name is said
        # everywhere: the greeting of new sessions and outbound EHLO alike.
        self.assertIn("hostname", out)
        with smtplib.SMTP("127.0.0.1", t.port, timeout=10) as s:
            ehlo = s.ehlo("client.example")[1].decode()
            self.assertIn("mx.example.test", ehlo)
            self.assertNotIn("renamed.example.test", ehlo)
            s.sendmail("alice@example.test", ["bob@remote.test"], MESSAGE)
        t.wait_log_events("delivered", rcpt="bob@remote.test")
        self.assertEqual(remote.ehlo, ["mx.example.test"])


class Pickup(ReloadCase):
    def test_max_message_size_raised(self):
        t = self.tern(users=["alice"], limits={"max_message_size": 2000}).start()
        t.limits = {"max_message_size": 100000}
        t.write_config()
        self.reload_ok(t)
        with smtplib.SMTP("127.0.0.1", t.port, timeout=10) as s:
            self.assertIn("SIZE 100000", s.ehlo("client.example")[1].decode())
        message = b"Subject: t-35 big\n\n" + (b"x" * 70 + b"\n") * 70  # ~5000 octets
        p = subprocess.run([ternlib.tern_bin(), "sendmail", "-C", str(t.config_path), "alice@example.test"],
                           input=message, capture_output=True, timeout=20)
        self.assertEqual(p.returncode, 0, p.stderr)
        rejected = lambda: t.log_events("maildrop_rejected")  # noqa: E731
        wait_for(lambda: t.maildir("alice") or rejected(), "the message delivered or rejected")
        self.assertEqual(rejected(), [], "tern sendmail took the message (exit 0) under the new limit, "
                                         "then the pickup deleted it under the old one")
        t.wait_maildir_count("alice", 1)


class Tls(ReloadCase):
    def test_starttls_after_tls_removed(self):
        from testca import TestCA
        t = self.tern(users=["alice"])
        leaf = TestCA(t.dir / "ca").issue("one", ternlib.DEFAULT_HOSTNAME)
        t.extra_toml = f'[tls]\ncertificate = "{leaf.chain}"\nkey = "{leaf.key}"'
        t.start()
        old = self.session(t.port)
        self.assertIn("STARTTLS", old.cmd("EHLO client.example").text)
        t.extra_toml = ""
        t.write_config()
        self.reload_ok(t)
        self.assertNotIn("STARTTLS", self.session(t.port).cmd("EHLO client.example").text)
        try:
            old.cmd("STARTTLS")  # whatever the reply: the server must live on
        except (ternlib.ConnectionClosed, OSError):
            pass
        time.sleep(0.3)
        self.assertTrue(t.running(), f"tern died (status {t.proc.poll()}) on STARTTLS in a session "
                                     f"opened with [tls], after a reload that removed [tls]")
        check(self.session(t.port).cmd("NOOP"), 250)


# --------------------------------------------------------------------------


class NotifySocket:
    """A Unix datagram socket standing in for systemd's: every datagram is
    kept as (sender pid, {key: value})."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.settimeout(0.05)
        self.messages = []
        self.lock = threading.Lock()
        self.stopped = False
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        size = struct.calcsize("3i")
        while not self.stopped:
            try:
                raw, anc, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(size))
            except socket.timeout:
                continue
            except OSError:
                return
            pid = None
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", data[:size])[0]
            fields = dict(line.partition("=")[::2] for line in raw.decode().split("\n") if line)
            with self.lock:
                self.messages.append((pid, fields))

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def close(self):
        self.stopped = True
        self.thread.join(timeout=5)
        self.sock.close()


class Notify(ReloadCase):
    def test_reloading_then_ready(self):
        directory = ternlib.make_tempdir()
        ns = NotifySocket(directory / "notify.sock")
        self.addCleanup(ns.close)
        t = self.tern(users=["alice"], env={"NOTIFY_SOCKET": ns.path}).start()
        wait_for(lambda: any("READY" in f for _, f in ns.snapshot()), "READY=1 at start")

        def reload(action, outcome):
            n = len(ns.snapshot())
            logged = len(t.log_events(outcome))
            before = time.monotonic_ns() // 1000
            action()
            t.wait_log_events(outcome, logged + 1)
            wait_for(lambda: len(ns.snapshot()) >= n + 2, f"two datagrams after {outcome}")
            after = time.monotonic_ns() // 1000
            time.sleep(0.2)  # nothing more comes
            got = ns.snapshot()[n:]
            self.assertEqual(len(got), 2, f"{outcome}: {got}")
            (pid1, reloading), (pid2, ready) = got
            self.assertEqual((pid1, pid2), (t.proc.pid, t.proc.pid), got)
            self.assertEqual(reloading.get("RELOADING"), "1", got)
            self.assertNotIn("READY", reloading, got)
            usec = reloading.get("MONOTONIC_USEC", "")
            self.assertRegex(usec, r"^\d+$", got)
            self.assertTrue(before - 1_000_000 <= int(usec) <= after + 1_000_000, (before, usec, after))
            self.assertEqual(ready.get("READY"), "1", got)
            self.assertNotIn("RELOADING", ready, got)

        t.users = ["alice", "carol"]
        t.write_config()
        reload(lambda: t.proc.send_signal(signal.SIGHUP), "reloaded")
        t.config_path.write_text(t.config_text() + "[limits\n")
        reload(lambda: t.proc.send_signal(signal.SIGHUP), "reload_failed")
        t.write_config()
        reload(lambda: self.reload_ok(t), "reloaded")
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        t.more_listeners = [(holder.getsockname()[1], "mx")]
        t.write_config()
        reload(lambda: self.reload_refused(t, str(holder.getsockname()[1])), "reload_failed")
        self.assertEqual(len(t.log_events("reloaded")), 2)
        self.assertEqual(len(t.log_events("reload_failed")), 2)


class NotRunning(ReloadCase):
    def test_not_running(self):
        t = ReloadTern(users=["alice"])
        t.pick_ports()
        t.data_dir.mkdir(parents=True)
        t.write_config()
        rc, out, err = t.reload_cli()
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("not running", err)
        self.assertEqual(out, "")


if __name__ == "__main__":
    ternlib.run_tests()
