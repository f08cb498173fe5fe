#!/usr/bin/python3
"""t-25-user_cli: `tern user add/passwd/del/list`, the users file of SMTP AUTH.

Proves: `tern user` with --config/-c creates the users file (and the missing
data_dir, mode 0755, so that local users reach maildrop/) at [auth] users_file, default data_dir/users; the file
is mode 0600 and holds one `address:$y$...` line per user, lower-cased, and
never the password; the hash verifies the first line piped on stdin (without
its line end) and nothing else; `list` prints the users; a duplicate add, a
passwd or del of a missing user, a bad address, an empty password and a
password given as an argument each exit 1 with one line on stderr and leave
the file as it was; comments and malformed lines are kept (with a warning
naming the line); eight concurrent adds lose nothing (flock); at a terminal
the password is prompted for twice without echo, and a mismatch exits 1.
"""
import os
import pty
import select
import stat
import subprocess
import sys
import time
import unittest
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # libxcrypt's crypt(3): checks the hashes tern wrote


def hash_matches(password, hashed):
    return crypt.crypt(password, hashed) == hashed


class UserCli(unittest.TestCase):
    def setUp(self):
        self.dir = ternlib.make_tempdir()
        self.data_dir = self.dir / "data"  # does not exist yet
        self.config = self.dir / "tern.toml"
        self.write_config()
        self.users = self.data_dir / "users"

    def write_config(self, extra=""):
        self.config.write_text(
            f'hostname = "mx.example.test"\ndata_dir = {ternlib.toml_value(str(self.data_dir))}\n{extra}',
            encoding="utf-8")

    def tern_user(self, *args, password=None, option="--config"):
        """Runs `tern user ARGS --config FILE` with `password` (str or bytes) on stdin."""
        data = password.encode() if isinstance(password, str) else password
        p = subprocess.run([ternlib.tern_bin(), "user", *args, option, str(self.config)],
                           input=data if data is not None else b"", capture_output=True,
                           timeout=60, cwd=str(self.dir))
        p.err = p.stderr.decode("utf-8", "replace")
        p.out = p.stdout.decode("utf-8", "replace")
        return p

    def ok(self, *args, **kw):
        p = self.tern_user(*args, **kw)
        self.assertEqual(p.returncode, 0, f"tern user {args}: {p.err}")
        return p

    def fails(self, *args, says, **kw):
        before = self.users.read_bytes() if self.users.exists() else None
        p = self.tern_user(*args, **kw)
        self.assertEqual(p.returncode, 1, f"tern user {args}: exit status; stderr: {p.err!r}")
        lines = p.err.splitlines()
        self.assertEqual(len(lines), 1, f"one line on stderr: {p.err!r}")
        self.assertTrue(lines[0].startswith("tern: user "), lines[0])
        self.assertIn(says, lines[0])
        after = self.users.read_bytes() if self.users.exists() else None
        self.assertEqual(after, before, "a failed command changed the users file")
        return p

    def user_lines(self, path=None):
        text = (path or self.users).read_text(encoding="utf-8")
        return dict(line.split(":", 1) for line in text.splitlines()
                    if line.strip() and not line.startswith("#"))

    def listed(self):
        return self.ok("list").out.splitlines()

    def test_add_creates_a_private_file_of_yescrypt_hashes(self):
        self.ok("add", "Alice@Example.TEST", password="correct horse battery\n")
        self.assertEqual(stat.S_IMODE(self.users.stat().st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(self.data_dir.stat().st_mode), 0o755)
        self.ok("add", "bob@example.test", password="hunter2", option="-c")  # no line end at all
        users = self.user_lines()
        self.assertEqual(list(users), ["alice@example.test", "bob@example.test"])
        for h in users.values():
            self.assertTrue(h.startswith("$y$"), h)
        raw = self.users.read_bytes()
        self.assertNotIn(b"correct horse", raw)
        self.assertNotIn(b"hunter2", raw)
        self.assertTrue(hash_matches("correct horse battery", users["alice@example.test"]))
        self.assertFalse(hash_matches("correct horse battery\n", users["alice@example.test"]))
        self.assertTrue(hash_matches("hunter2", users["bob@example.test"]))
        self.assertEqual(self.listed(), ["alice@example.test", "bob@example.test"])
        self.assertEqual(stat.S_IMODE(self.users.stat().st_mode), 0o600)

    def test_only_the_first_line_without_its_line_end(self):
        self.ok("add", "carol@example.test", password="first line\r\nsecond line\n")
        h = self.user_lines()["carol@example.test"]
        self.assertTrue(hash_matches("first line", h))
        self.assertFalse(hash_matches("first line\r", h))

    def test_passwd_and_del(self):
        self.ok("add", "alice@example.test", password="old password\n")
        self.ok("add", "bob@example.test", password="bobs password\n")
        old = self.user_lines()["alice@example.test"]
        self.ok("passwd", "ALICE@example.test", password="new password\n")
        users = self.user_lines()
        self.assertNotEqual(users["alice@example.test"], old)
        self.assertTrue(hash_matches("new password", users["alice@example.test"]))
        self.assertFalse(hash_matches("old password", users["alice@example.test"]))
        self.assertEqual(list(users), ["alice@example.test", "bob@example.test"])  # kept in place
        self.ok("del", "alice@example.test")
        self.assertEqual(self.listed(), ["bob@example.test"])
        self.assertEqual(stat.S_IMODE(self.users.stat().st_mode), 0o600)

    def test_errors_exit_1_and_change_nothing(self):
        self.ok("add", "alice@example.test", password="pw one\n")
        self.fails("add", "alice@example.test", password="pw two\n", says="exists already")
        self.fails("add", "Alice@EXAMPLE.test", password="pw two\n", says="exists already")
        self.fails("passwd", "nobody@example.test", password="pw\n", says="no user nobody@example.test")
        self.fails("del", "nobody@example.test", says="no user nobody@example.test")
        for bad in ["alice", "alice@", "@example.test", "a b@example.test", '"a"@example.test',
                    "a..b@example.test", "a@b@example.test", "a@exa_mple.test", "a@[127.0.0.1]",
                    "a:b@example.test", "a\x01@example.test"]:
            self.fails("add", bad, password="pw\n", says="")
        self.fails("add", "bob@example.test", password="", says="empty password")
        self.fails("add", "bob@example.test", password="\n", says="empty password")
        self.fails("add", "bob@example.test", password="x" * 600 + "\n", says="too long")
        self.fails("add", says="address is required")
        self.assertEqual(self.listed(), ["alice@example.test"])

    def test_password_is_never_an_argument(self):
        p = self.tern_user("add", "alice@example.test", "secret", password="pw\n")
        self.assertNotEqual(p.returncode, 0)
        self.assertFalse(self.users.exists())

    def test_missing_file_lists_nothing(self):
        self.assertEqual(self.listed(), [])
        self.assertFalse(self.data_dir.exists(), "list must not create anything")

    def test_users_file_from_the_config(self):
        path = self.dir / "etc" / "tern" / "users"
        self.write_config(f"\n[auth]\nusers_file = {ternlib.toml_value(str(path))}\n")
        self.ok("add", "alice@example.test", password="pw\n")
        self.assertEqual(list(self.user_lines(path)), ["alice@example.test"])
        self.assertEqual(stat.S_IMODE(path.stat().st_mode), 0o600)
        self.assertFalse(self.users.exists())

    def test_comments_and_malformed_lines_are_kept(self):
        self.data_dir.mkdir()
        text = ("# my users\n"
                "\n"
                "garbage without colon\n"
                "dave@example.test:plaintext-password\n")
        self.users.write_text(text, encoding="utf-8")
        p = self.ok("add", "alice@example.test", password="pw\n")
        self.assertIn("users:3: no ':'", p.err)
        self.assertIn("users:4: unsupported or malformed password hash for dave@example.test", p.err)
        self.assertNotIn("plaintext-password", p.err)
        after = self.users.read_text(encoding="utf-8")
        self.assertTrue(after.startswith(text), after)
        self.assertEqual(self.listed(), ["alice@example.test"])
        # Adding dave replaces his malformed line.
        self.ok("add", "dave@example.test", password="pw\n")
        self.assertNotIn("plaintext-password", self.users.read_text(encoding="utf-8"))

    def test_concurrent_adds_lose_nothing(self):
        names = [f"user{i}@example.test" for i in range(8)]
        procs = [subprocess.Popen([ternlib.tern_bin(), "user", "add", n, "-c", str(self.config)],
                                  stdin=subprocess.PIPE, stderr=subprocess.PIPE) for n in names]
        for p in procs:
            p.stdin.write(b"pw\n")
            p.stdin.close()
        for p in procs:
            self.assertEqual(p.wait(timeout=60), 0, p.stderr.read())
            p.stderr.close()
        self.assertEqual(sorted(self.listed()), sorted(names))

    # -- at a terminal ----------------------------------------------------
    def run_at_terminal(self, args, answers):
        """Runs tern with a pseudo-terminal as stdin/stdout/stderr; answers
        each prompt (text ending in ': ') with the next answer. Returns (exit
        status, everything the terminal showed)."""
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execv(ternlib.tern_bin(), [ternlib.tern_bin(), "user", *args, "-c", str(self.config)])
            finally:
                os._exit(127)
        shown = b""
        answers = list(answers)
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], 0.5)
                if not ready:
                    continue
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
                if answers and shown.endswith(b": "):
                    os.write(fd, answers.pop(0).encode() + b"\n")
        finally:
            _, status = os.waitpid(pid, 0)
            os.close(fd)
        return os.waitstatus_to_exitcode(status), shown.decode("utf-8", "replace")

    def test_prompted_twice_without_echo(self):
        status, shown = self.run_at_terminal(["add", "erin@example.test"], ["typed secret", "typed secret"])
        self.assertEqual(status, 0, shown)
        self.assertIn("Password for erin@example.test: ", shown)
        self.assertIn("Password again: ", shown)
        self.assertNotIn("typed secret", shown, "the password was echoed")
        self.assertTrue(hash_matches("typed secret", self.user_lines()["erin@example.test"]))
        status, shown = self.run_at_terminal(["passwd", "erin@example.test"], ["changed", "changed"])
        self.assertEqual(status, 0, shown)
        self.assertTrue(hash_matches("changed", self.user_lines()["erin@example.test"]))

    def test_prompt_mismatch_exits_1(self):
        status, shown = self.run_at_terminal(["add", "frank@example.test"], ["one", "two"])
        self.assertEqual(status, 1, shown)
        self.assertIn("do not match", shown)
        self.assertFalse(self.users.exists())
        status, shown = self.run_at_terminal(["add", "frank@example.test"], ["", ""])
        self.assertEqual(status, 1, shown)
        self.assertIn("empty password", shown)


if __name__ == "__main__":
    ternlib.run_tests()
