"""The scripted SMTP server (scripted_smtp.py) as a test's remote peer:
started on a free port with the given options, one dump file per message
it took, stopped by stop()."""
import subprocess
from pathlib import Path

import ternlib

SCRIPT = Path(__file__).resolve().parent / "scripted_smtp.py"


class Scripted:
    def __init__(self, *options):
        """options: scripted_smtp.py arguments, e.g. "--delay", "1.0"."""
        self.dump = ternlib.make_tempdir("tern-scripted-")
        args = ["/usr/bin/python3", str(SCRIPT), "--dump", str(self.dump), "--lifetime", "100", *options]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     preexec_fn=ternlib._die_with_parent)
        line = self.proc.stdout.readline()
        try:
            self.port = int(line)
        except ValueError:
            self.stop()
            raise AssertionError(f"scripted_smtp.py printed no port: {line!r}")

    def messages(self):
        # Dot names are files still being written.
        return [p.read_bytes() for p in sorted(self.dump.iterdir()) if not p.name.startswith(".")]

    def envelopes(self):
        """Per message: the dump's envelope lines as {key: [values]}."""
        out = []
        for m in self.messages():
            fields = {}
            for line in m.split(b"\n\n", 1)[0].decode("utf-8", "replace").split("\n"):
                key, _, value = line.partition(" ")
                fields.setdefault(key, []).append(value)
            out.append(fields)
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc.stdout.close()
