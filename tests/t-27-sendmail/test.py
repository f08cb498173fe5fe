#!/usr/bin/python3
"""t-27-sendmail: `tern sendmail`, the /usr/sbin/sendmail of local programs.

Proves: a message piped into `tern sendmail -C cfg RCPT` (from a shell pipe)
is delivered, with Received (tern sendmail, uid N), Date, Message-ID and
From added when missing; `-t` takes To, Cc and Bcc (all three delivered,
Bcc removed from every copy) on top of the command-line recipients; without
-i a lone "." ends the message, with -i or -oi it is content; -f (also
attached, -r, '<>'), -F, and the default sender (the calling user @hostname);
a bare local name is qualified with @hostname; options real callers pass
(-oem -odi -v -bm -B8BITMIME -N never) are accepted; exit 64 for no
recipients, an unknown option, a bad address, -b modes we lack; 65 for a
message over max_message_size; 75 when the config cannot be read, data_dir
is relative, or maildrop/ is missing or not writable; a symlink named
sendmail; $TERN_CONFIG. With tern stopped, sendmail exits 0 and the message
is delivered when tern starts. With tern running as `daemon` and the
caller `nobody`: the caller can send, cannot list maildrop/ (mode 3733),
cannot read or remove another caller's drop file, cannot read the queue; a
symlink, a FIFO, a hard link, garbage and an unreadable file in maildrop/
are each rejected (event=maildrop_rejected) and removed, and tern keeps
running.
"""
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
from ternlib import Tern  # noqa: E402

HOST = "mx.example.test"
USERS = ["alice", "bob", "carol", "dave", "root", "nobody"]
DOMAINS = ["example.test", HOST]
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
DAEMON_UID = 1


def opened_up(tern):
    """Lets other users reach the config and data_dir (mkdtemp makes 0700)."""
    os.chmod(tern.dir, 0o755)


class SendmailTest(unittest.TestCase):
    tern = None

    def sendmail(self, args, data=b"", env=None, prefix=(), program=None, config=True):
        argv = list(prefix) + ([program] if program else [ternlib.tern_bin(), "sendmail"])
        if config:
            argv += ["-C", str(self.tern.config_path)]
        p = subprocess.run(argv + list(args), input=data, capture_output=True, timeout=60,
                           env=env, cwd="/")
        p.err = p.stderr.decode("utf-8", "replace")
        return p

    def ok(self, args, data, **kw):
        p = self.sendmail(args, data, **kw)
        self.assertEqual(p.returncode, 0, p.err)
        self.assertEqual(p.err, "")
        return p

    def fails(self, status, args, data=b"", **kw):
        p = self.sendmail(args, data, **kw)
        self.assertEqual(p.returncode, status, p.err)
        self.assertEqual(len(p.err.strip().splitlines()), 1, p.err)  # one line on stderr
        return p

    def delivered(self, token, user="alice", domain="example.test", count=1, timeout=30):
        """The delivered copies (bytes) in user's Maildir that hold `token`."""
        def find():
            found = [f.read_bytes() for f in self.tern.maildir(user, domain) if token.encode() in f.read_bytes()]
            return found if len(found) >= count else None
        return ternlib.wait_for(find, timeout, what=f"{count} message(s) with {token} for {user}@{domain}")

    def header(self, message):
        head, _ = ternlib.split_body(message)
        return ternlib.unfold(head.decode("utf-8", "replace"))


class Running(SendmailTest):
    @classmethod
    def setUpClass(cls):
        cls.tern = Tern(users=USERS, domains=DOMAINS, hostname=HOST, limits={"max_message_size": 100000})
        cls.tern.start()
        cls.tern.wait_log_events("pickup_started", timeout=30)  # maildrop/ exists
        opened_up(cls.tern)

    @classmethod
    def tearDownClass(cls):
        cls.tern.stop()

    def test_01_shell_pipe_adds_date_message_id_from(self):
        cmd = (f"printf 'Subject: t27-basic\\n\\nhello from a pipe\\n' | "
               f"{ternlib.tern_bin()} sendmail -C {self.tern.config_path} alice@example.test")
        p = subprocess.run(["/bin/sh", "-c", cmd], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        msg = self.delivered("t27-basic")[0]
        trace, rest = ternlib.split_trace(msg)
        self.assertEqual(ternlib.unfold(trace[0]), f"Return-Path: <root@{HOST}>")
        self.assertRegex(ternlib.unfold(trace[2]), rf"^Received: by {re.escape(HOST)} \(tern sendmail, uid 0\) "
                                                   r"id [0-9A-Z]{15}; \w{3}, \d\d \w{3} \d{4} ")
        head = rest.split(b"\n\n")[0].decode()
        self.assertRegex(head, r"(?m)^Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000$")
        self.assertRegex(head, rf"(?m)^Message-ID: <[0-9A-Z]{{15}}@{re.escape(HOST)}>$")
        self.assertRegex(head, rf"(?m)^From: root@{re.escape(HOST)}$")
        self.assertTrue(rest.endswith(b"\n\nhello from a pipe\n"), rest)
        self.assertTrue(ternlib.clean_line_ends(msg))
        pickup = self.tern.wait_log_events("pickup", uid="0")
        self.assertTrue(any(e.get("from") == f"<root@{HOST}>" for e in pickup))

    def test_02_existing_fields_kept(self):
        data = (b"From: Someone <someone@example.org>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0100\r\n"
                b"Message-ID: <keep@example.org>\r\nSubject: t27-keep\r\n\r\nbody\r\n")
        self.ok(["bob@example.test"], data)
        head = self.header(self.delivered("t27-keep", "bob")[0])
        self.assertEqual(head.count("From: "), 1)
        self.assertIn("From: Someone <someone@example.org>", head)
        self.assertEqual(head.count("\nDate: "), 1)
        self.assertIn("Message-ID: <keep@example.org>", head)

    def test_03_t_takes_to_cc_bcc_and_removes_bcc(self):
        data = (b"To: Alice <alice@example.test>\nCc: \"Bob B.\" <bob@example.test>,\n dave@example.test\n"
                b"Bcc: carol@example.test\nSubject: t27-minus-t\n\nbody\n")
        cmd = f"printf '{data.decode().replace(chr(10), chr(92) + 'n')}' | {ternlib.tern_bin()} sendmail -t -C {self.tern.config_path}"
        p = subprocess.run(["/bin/sh", "-c", cmd], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        for user in ("alice", "bob", "carol", "dave"):
            _, rest = ternlib.split_trace(self.delivered("t27-minus-t", user)[0])
            self.assertNotIn(b"Bcc", rest)
            self.assertNotIn(b"carol", rest)  # not even in the trace of carol's own copy
            self.assertIn(b"To: Alice <alice@example.test>", rest)

    def test_04_t_with_command_line_recipients_and_groups(self):
        data = b"To: undisclosed-recipients:;\nCc: Team: bob@example.test, carol@example.test;\nSubject: t27-both\n\nx\n"
        self.ok(["-t", "alice@example.test"], data)
        for user in ("alice", "bob", "carol"):
            self.delivered("t27-both", user)

    def test_05_lone_dot(self):
        data = b"Subject: t27-dot\n\nbefore\n.\nafter\n"
        self.ok(["alice@example.test"], data)
        msg = self.delivered("t27-dot")[0]
        self.assertTrue(msg.endswith(b"\nbefore\n"), msg)
        for option in (["-i"], ["-oi"]):
            token = f"t27-dot{option[0]}"
            self.ok(option + ["alice@example.test"], data.replace(b"t27-dot", token.encode()))
            msg = self.delivered(token)[0]
            self.assertTrue(msg.endswith(b"\nbefore\n.\nafter\n"), msg)
        # ".." is not unstuffed: this is not SMTP.
        self.ok(["alice@example.test"], b"Subject: t27-dots\n\n..x\n")
        self.assertTrue(self.delivered("t27-dots")[0].endswith(b"\n..x\n"))

    def test_06_sender_options(self):
        cases = [(["-f", "sender@example.org"], "<sender@example.org>"),
                 (["-fattached@example.org"], "<attached@example.org>"),
                 (["-r", "r@example.org"], "<r@example.org>"),
                 (["-f", "<angle@example.org>"], "<angle@example.org>"),
                 (["-f", "<>"], "<>"),
                 (["-f", ""], "<>")]
        for i, (args, return_path) in enumerate(cases):
            token = f"t27-sender-{i}"
            self.ok(args + ["alice@example.test"], f"Subject: {token}\n\nx\n".encode())
            trace, _ = ternlib.split_trace(self.delivered(token)[0])
            self.assertEqual(ternlib.unfold(trace[0]), f"Return-Path: {return_path}", args)

    def test_07_full_name(self):
        self.ok(["-F", "Alice Liddell", "-f", "alice@example.test", "bob@example.test"], b"Subject: t27-F\n\nx\n")
        self.assertIn("From: Alice Liddell <alice@example.test>", self.header(self.delivered("t27-F", "bob")[0]))
        self.ok(["-FCron Daemon", "bob@example.test"], b"Subject: t27-F2\n\nx\n")
        self.assertIn(f"From: Cron Daemon <root@{HOST}>", self.header(self.delivered("t27-F2", "bob")[0]))
        self.ok(["-F", "J\u00fcrgen", "bob@example.test"], b"Subject: t27-F3\n\nx\n")
        self.assertIn(f"From: =?UTF-8?B?SsO8cmdlbg==?= <root@{HOST}>",
                      self.header(self.delivered("t27-F3", "bob")[0]))

    def test_08_options_real_callers_pass(self):
        # cron: -FCronDaemon -i -B8BITMIME -oem; PHP: -t -i; others: -odi -v -bm -N never, --
        args = ["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "-odi", "-v", "-bm", "-N", "never", "-ti", "--",
                "alice@example.test"]
        self.ok(args, "Subject: t27-cron caf\u00e9\n\nx\n".encode())
        self.delivered("t27-cron")

    def test_09_local_name_qualified(self):
        self.ok(["alice"], b"Subject: t27-local\n\nx\n")
        self.delivered("t27-local", "alice", HOST)

    def test_10_exit_64(self):
        self.fails(64, [], b"Subject: x\n\nx\n")                                   # no recipients
        self.fails(64, ["-t"], b"Subject: x\n\nx\n")                               # none in the header
        self.fails(64, ["-Z", "alice@example.test"])                               # unknown option
        self.fails(64, ["alice@@example.test"])                                    # bad address
        self.fails(64, ["alice@example..test"])
        self.fails(64, ["-f", "bad address@", "alice@example.test"])
        self.fails(64, ["-t"], b"To: <broken\n\nx\n")
        self.fails(64, ["-bs"])                                                    # SMTP on stdin: not here
        self.fails(64, ["-f"])                                                     # needs a value
        self.fails(64, ["-F", "bad\tname", "alice@example.test"])

    def test_11_exit_65_too_big(self):
        p = self.fails(65, ["alice@example.test"], b"Subject: big\n\n" + b"x" * 100 + b"\n" * 60000)
        self.assertIn("max_message_size", p.err)

    def test_12_exit_75(self):
        self.fails(75, ["-C", "/nonexistent/tern.toml", "alice@example.test"], config=False)
        relative = self.tern.dir / "relative.toml"
        relative.write_text(f'hostname = "{HOST}"\ndata_dir = "var"\n')
        p = self.fails(75, ["-C", str(relative), "alice@example.test"], config=False)
        self.assertIn("absolute", p.err)
        missing = self.tern.dir / "missing.toml"
        missing.write_text(f'hostname = "{HOST}"\ndata_dir = "{self.tern.dir}/never-started"\n')
        self.fails(75, ["-C", str(missing), "alice@example.test"], b"x\n", config=False)

    def test_13_symlink_named_sendmail(self):
        link = self.tern.dir / "bin" / "sendmail"
        link.parent.mkdir(exist_ok=True)
        if not link.exists():
            link.symlink_to(ternlib.tern_bin())
        self.ok(["-oi", "alice@example.test"], b"Subject: t27-symlink\n\nx\n", program=str(link))
        self.delivered("t27-symlink")

    def test_14_tern_config_environment(self):
        env = dict(os.environ, TERN_CONFIG=str(self.tern.config_path))
        self.ok(["alice@example.test"], b"Subject: t27-env\n\nx\n", env=env, config=False)
        self.delivered("t27-env")

    def test_15_crlf_input_and_no_final_line_end(self):
        self.ok(["alice@example.test"], b"Subject: t27-crlf\r\n\r\nline1\r\nline2")
        msg = self.delivered("t27-crlf")[0]
        self.assertTrue(msg.endswith(b"\n\nline1\nline2\n"), msg)
        self.assertTrue(ternlib.clean_line_ends(msg))


class ServerDown(SendmailTest):
    def test_accepted_while_down_and_delivered_at_start(self):
        self.tern = Tern(users=USERS, domains=DOMAINS, hostname=HOST)
        self.tern.start()
        self.tern.wait_log_events("pickup_started", timeout=30)  # maildrop/ exists
        opened_up(self.tern)
        self.tern.stop()
        self.ok(["alice@example.test", "bob@example.test"], b"Subject: t27-down\n\nwhile tern was down\n")
        self.assertEqual(len(os.listdir(self.tern.data_dir / "maildrop")), 1)
        self.tern.restart()
        try:
            self.delivered("t27-down")
            self.delivered("t27-down", "bob")
            ternlib.wait_for(lambda: not os.listdir(self.tern.data_dir / "maildrop"), 10, what="maildrop empty")
        finally:
            self.tern.stop()


class DaemonTern(Tern):
    """tern serve as uid/gid 1 (daemon), as a packaged server would run."""

    def _preexec(self):
        os.setgroups([])
        os.setgid(DAEMON_UID)
        os.setuid(DAEMON_UID)
        super()._preexec()  # after: a change of uid clears the parent-death signal


class Unprivileged(SendmailTest):
    @classmethod
    def setUpClass(cls):
        cls.tern = DaemonTern(users=USERS, domains=DOMAINS, hostname=HOST)
        opened_up(cls.tern)
        os.chown(cls.tern.dir, DAEMON_UID, DAEMON_UID)
        cls.tern.start()
        cls.maildrop = cls.tern.data_dir / "maildrop"
        # The listeners open before the queue and the pickup (which makes
        # maildrop/): wait for the pickup, or a slow (ASan) start races us.
        cls.tern.wait_log_events("pickup_started", timeout=30)

    @classmethod
    def tearDownClass(cls):
        cls.tern.stop()

    def as_nobody(self, code):
        """Runs Python `code` as nobody; returns its exit status."""
        return subprocess.run(AS_NOBODY + ["/usr/bin/python3", "-c", code], capture_output=True,
                              timeout=30).returncode

    def test_1_modes(self):
        st = os.stat(self.maildrop)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o3733)
        self.assertEqual((st.st_uid, st.st_gid), (DAEMON_UID, DAEMON_UID))
        self.assertTrue(os.stat(self.tern.data_dir).st_mode & stat.S_IXOTH)
        self.assertEqual(stat.S_IMODE(os.stat(self.tern.data_dir / "queue").st_mode), 0o700)

    def test_2_nobody_sends(self):
        self.ok(["alice@example.test"], b"Subject: t27-nobody\n\nx\n", prefix=AS_NOBODY)
        msg = self.delivered("t27-nobody")[0]
        trace, _ = ternlib.split_trace(msg)
        self.assertEqual(ternlib.unfold(trace[0]), f"Return-Path: <nobody@{HOST}>")
        self.assertIn("(tern sendmail, uid 65534)", ternlib.unfold(trace[2]))

    def test_3_nobody_cannot_look(self):
        self.assertNotEqual(self.as_nobody(f"import os; os.listdir({str(self.maildrop)!r})"), 0)
        self.assertNotEqual(self.as_nobody(f"import os; os.listdir({str(self.tern.data_dir / 'queue')!r})"), 0)
        self.assertNotEqual(self.as_nobody(f"import os; os.listdir({str(self.tern.data_dir / 'mail')!r})"), 0)
        self.assertEqual(self.as_nobody("import sys; sys.exit(0)"), 0)  # the check itself works

    def test_4_other_callers_file(self):
        # tern stopped: a file dropped by another caller (root) stays put.
        self.tern.stop()
        try:
            self.ok(["alice@example.test"], b"Subject: t27-private\n\nsecret\n")
            names = os.listdir(self.maildrop)
            self.assertEqual(len(names), 1)
            path = self.maildrop / names[0]
            st = os.stat(path)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o640)
            self.assertEqual(st.st_gid, DAEMON_UID)  # the directory's group (setgid)
            self.assertNotEqual(self.as_nobody(f"open({str(path)!r}).read()"), 0)
            self.assertNotEqual(self.as_nobody(f"import os; os.unlink({str(path)!r})"), 0)
            self.assertNotEqual(self.as_nobody(f"import os; os.rename({str(path)!r}, {str(path) + 'x'!r})"), 0)
            self.assertTrue(path.exists())
        finally:
            self.tern.restart()
        self.delivered("t27-private")

    def test_5_maildrop_not_writable(self):
        os.chmod(self.maildrop, 0o3730)
        try:
            p = self.fails(75, ["alice@example.test"], b"x\n", prefix=AS_NOBODY)
            self.assertIn("Permission denied", p.err)
        finally:
            os.chmod(self.maildrop, 0o3733)

    def test_6_hostile_files_rejected(self):
        outside = self.tern.dir / "outside"
        outside.write_text("tern-maildrop 1\nsender a@example.test\nrecipient alice@example.test\n\nstolen\n")
        os.chown(outside, DAEMON_UID, DAEMON_UID)
        hostile = {
            "symlink": lambda p: os.symlink("/etc/passwd", p),
            "fifo": lambda p: os.mkfifo(p, 0o640),
            "hardlink": lambda p: os.link(outside, p),
            "garbage": lambda p: p.write_bytes(b"garbage\x00\xff"),
            "unreadable": lambda p: (p.write_bytes(b"x"), os.chmod(p, 0o600)),
            "badrcpt": lambda p: p.write_bytes(b"tern-maildrop 1\nsender a@example.test\nrecipient x@@y\n\nz\n"),
        }
        for name, make in hostile.items():
            tmp = self.tern.dir / f"{name}.tmp"
            make(tmp)
            if name in ("garbage", "badrcpt"):
                os.chmod(tmp, 0o640)
            os.rename(tmp, self.maildrop / name)  # as sendmail does: the rename wakes the pickup
        for name in hostile:
            self.tern.wait_log_events("maildrop_rejected", file=name)
        ternlib.wait_for(lambda: not os.listdir(self.maildrop), 10, what="maildrop emptied")
        self.assertTrue(outside.exists())
        self.assertTrue(self.tern.running())
        self.assertFalse(any(b"stolen" in f.read_bytes() for f in self.tern.all_delivered()))
        self.ok(["alice@example.test"], b"Subject: t27-after-hostile\n\nx\n", prefix=AS_NOBODY)
        self.delivered("t27-after-hostile")

    def test_7_stale_tmp_removed_fresh_kept(self):
        self.tern.stop()
        try:
            fresh, stale = self.maildrop / "fresh.tmp", self.maildrop / "stale.tmp"
            fresh.write_text("x")
            stale.write_text("x")
            old = time.time() - 2 * 86400
            os.utime(stale, (old, old))
        finally:
            self.tern.restart()
        self.tern.wait_log_events("maildrop_stale", file="stale.tmp")
        self.assertTrue(fresh.exists())
        self.assertFalse(stale.exists())
        fresh.unlink()


if __name__ == "__main__":
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        print("t-27 skipped: it needs root and setpriv (it runs tern as daemon and sendmail as nobody)")
        sys.exit(77)
    ternlib.run_tests()
