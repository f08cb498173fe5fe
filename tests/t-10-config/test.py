#!/usr/bin/python3
"""t-10-config: `tern check-config`, `tern serve` with a bad config, --version.

Proves: a config with every documented key passes check-config (exit 0,
`config ok`); an unknown key, a bad integer, a bad duration, a bad log level
and an unknown section each fail (exit 1) with
`tern: config FILE:LINE:COL: <message naming the key>` on stderr, LINE being
the line of the offending key; `tern serve` with such a config exits non-zero
without listening; `tern --version` prints `tern 0.1.0`.
"""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402

GOOD = """\
hostname = "mx.example.test"
data_dir = "{data_dir}"
log_level = "info"

[[listener]]
address = "127.0.0.1:{port}"

[[listener]]
address = "[::1]:{port6}"

[local]
domains = ["example.test", "example.net"]
users = ["alice", "bob"]
accept_any_user = false

[limits]
max_message_size = 26214400
max_recipients = 100
max_connections = 1000
max_connections_per_ip = 50
max_command_line_length = 512
max_line_length = 1000
max_errors = 20
max_received_headers = 100
command_timeout = "5m"
data_timeout = "10m"
"""

ERR_RE = re.compile(r"tern: config (.+):(\d+):(\d+): (.+)")


class Config(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = ternlib.make_tempdir()

    def write(self, name, text):
        p = self.dir / name
        p.write_text(text, encoding="utf-8")
        return p

    def good_text(self):
        return GOOD.format(data_dir=self.dir / "data", port=ternlib.free_port(), port6=ternlib.free_port())

    def run_tern(self, *args, timeout=30):
        return subprocess.run([ternlib.tern_bin(), *args], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout, cwd=str(self.dir))

    def check_config(self, path):
        return self.run_tern("check-config", "--config", str(path))

    def assert_config_error(self, text, key, line, name):
        path = self.write(name, text)
        p = self.check_config(path)
        err = p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 1, f"check-config exit status; stderr: {err}")
        m = ERR_RE.search(err)
        self.assertTrue(m, f"stderr has no 'tern: config FILE:LINE:COL: message': {err!r}")
        self.assertTrue(m.group(1).endswith(name), err)
        self.assertEqual(int(m.group(2)), line, f"line number in {err!r}")
        self.assertIn(key, m.group(4), f"message names {key}: {err!r}")
        self.assertNotIn("config ok", p.stdout.decode("utf-8", "replace"))
        return err

    def test_version(self):
        p = self.run_tern("--version")
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stdout.decode().strip(), "tern 0.1.0")

    def test_good_config(self):
        p = self.check_config(self.write("good.toml", self.good_text()))
        self.assertEqual(p.returncode, 0, p.stderr.decode("utf-8", "replace"))
        self.assertEqual(p.stdout.decode().strip(), "config ok")
        # check-config does not create the data_dir nor listen
        self.assertFalse((self.dir / "data").exists())

    def test_minimal_config(self):
        p = self.check_config(self.write("minimal.toml", 'hostname = "mx.example.test"\n'))
        self.assertEqual(p.returncode, 0, p.stderr.decode("utf-8", "replace"))
        self.assertEqual(p.stdout.decode().strip(), "config ok")

    def test_unknown_key(self):
        text = self.good_text() + "max_foo = 1\n"  # inside [limits], last line
        line = text.count("\n")
        self.assert_config_error(text, "max_foo", line, "unknown-key.toml")

    def test_unknown_key_mid_file(self):
        lines = self.good_text().splitlines()
        i = lines.index("[limits]")
        lines.insert(i + 1, "max_foo = 1")
        self.assert_config_error("\n".join(lines) + "\n", "max_foo", i + 2, "unknown-key-mid.toml")

    def test_bad_integer(self):
        text = self.good_text().replace("max_recipients = 100", 'max_recipients = "x"')
        line = text.splitlines().index('max_recipients = "x"') + 1
        self.assert_config_error(text, "max_recipients", line, "bad-int.toml")

    def test_bad_duration(self):
        text = self.good_text().replace('command_timeout = "5m"', 'command_timeout = "5x"')
        line = text.splitlines().index('command_timeout = "5x"') + 1
        self.assert_config_error(text, "command_timeout", line, "bad-duration.toml")

    def test_bad_log_level(self):
        text = self.good_text().replace('log_level = "info"', 'log_level = "loud"')
        self.assert_config_error(text, "log_level", 3, "bad-level.toml")

    def test_unknown_section(self):
        text = self.good_text() + "\n[bogus]\nx = 1\n"
        err = self.write("unknown-section.toml", text)
        p = self.check_config(err)
        msg = p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 1, msg)
        self.assertIn("bogus", msg)

    def test_toml_syntax_error(self):
        text = self.good_text().replace("max_errors = 20", "max_errors = = 20")
        path = self.write("syntax.toml", text)
        p = self.check_config(path)
        err = p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 1, err)
        m = ERR_RE.search(err)
        self.assertTrue(m, err)
        self.assertEqual(int(m.group(2)), text.splitlines().index("max_errors = = 20") + 1, err)

    def test_missing_file(self):
        p = self.check_config(self.dir / "does-not-exist.toml")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("does-not-exist.toml", p.stderr.decode("utf-8", "replace"))

    def test_serve_with_bad_config(self):
        text = self.good_text() + "max_foo = 1\n"
        path = self.write("serve-bad.toml", text)
        proc = subprocess.Popen([ternlib.tern_bin(), "serve", "--config", str(path)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=str(self.dir))
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=10)
            self.fail("tern serve kept running with a bad config")
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("max_foo", err.decode("utf-8", "replace"))


if __name__ == "__main__":
    ternlib.run_tests()
