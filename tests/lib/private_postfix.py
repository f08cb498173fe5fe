"""A private Postfix 3.7 in a temp dir, run with `postfix -c DIR` (see
bench/lib.sh start_postfix and ../shared/notes/dependencies.md): its own queue,
data directory and log file, chroot off (a private queue has no etc/ copies),
smtpd on a free loopback port. A test subclasses it with the main.cf lines and
master.cf services of its scenario."""
import os
import shutil
import subprocess
import time
import unittest

import ternlib

COMMON_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {dir}/data
maillog_file = {log}
maillog_file_prefixes = {dir}
myhostname = postfix.peer.example.test
mydomain = peer.example.test
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
readme_directory = no
"""


class PrivatePostfix:
    def __init__(self):
        self.dir = ternlib.make_tempdir("tern-postfix-")
        os.chmod(self.dir, 0o755)  # virtual(8) runs as nobody and must reach its Maildirs
        self.etc = self.dir / "etc"
        self.queue = self.dir / "queue"
        self.log_path = self.dir / "postfix.log"
        self.port = None
        self.started = False

    # What a scenario adds.
    def prepare(self):
        """Writes the scenario's own files (maps) into self.etc."""

    def main_cf(self):
        """main.cf lines after the common ones."""
        return ""

    def master_cf(self):
        """Services appended to master.cf."""
        return ""

    def check_requirements(self):
        """Raises unittest.SkipTest when something the scenario needs is missing."""

    def write_config(self):
        for d in (self.etc, self.queue):
            d.mkdir(parents=True, exist_ok=True)
        self.port = ternlib.free_port()
        self.prepare()
        common = COMMON_MAIN_CF.format(queue=self.queue, dir=self.dir, log=self.log_path)
        (self.etc / "main.cf").write_text(common + self.main_cf(), encoding="utf-8")
        master = []
        with open("/usr/share/postfix/master.cf.dist", encoding="utf-8") as f:
            for line in f:
                fields = line.split()
                if line[:1] not in ("#", " ", "\t", "\n") and len(fields) >= 8:
                    fields[4] = "n"  # chroot off
                    if fields[0] == "smtp" and fields[1] == "inet":
                        fields[0] = f"127.0.0.1:{self.port}"
                    line = " ".join(fields) + "\n"
                master.append(line)
        (self.etc / "master.cf").write_text("".join(master) + self.master_cf(), encoding="utf-8")

    def run(self, *args):
        return subprocess.run(["postfix", "-c", str(self.etc), *args], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)

    def start(self):
        """Raises unittest.SkipTest when this Postfix cannot run here."""
        if not shutil.which("postfix") or not shutil.which("postconf"):
            raise unittest.SkipTest("postfix is not installed")
        if not os.path.exists("/usr/share/postfix/master.cf.dist"):
            raise unittest.SkipTest("no /usr/share/postfix/master.cf.dist")
        self.check_requirements()
        if os.geteuid() != 0:
            raise unittest.SkipTest("a private Postfix instance needs root here")
        self.write_config()
        r = self.run("check")
        if r.returncode != 0:
            raise unittest.SkipTest(f"postfix check failed: {r.stdout.decode(errors='replace')}")
        r = self.run("start")
        self.started = True
        if r.returncode != 0:
            self.stop()
            raise unittest.SkipTest(f"postfix start failed: {r.stdout.decode(errors='replace')}")
        try:
            ternlib.wait_for(lambda: self.port in ternlib._listening_ports(), 15, 0.05,
                             f"Postfix smtpd to listen on {self.port}")
        except AssertionError:
            self.stop()
            raise

    def master_pid(self):
        try:
            return int((self.queue / "pid" / "master.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self):
        """postfix stop; if the master outlives it (10 s), postfix abort, then SIGKILL."""
        if not self.started:
            return
        self.started = False
        pid = self.master_pid()
        self.run("stop")
        if pid is None:
            return

        def alive():
            try:
                os.kill(pid, 0)
                return True
            except OSError:
                return False
        deadline = time.monotonic() + 10
        while alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if alive():
            self.run("abort")
            time.sleep(1)
            if alive():
                os.kill(pid, 9)

    def log_text(self):
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return ""
