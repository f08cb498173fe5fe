"""A private Dovecot 2.3 as an LMTP mail store for tests and benchmarks (issue 16).

`dovecot -c WORKDIR/dovecot.conf -F` runs in the foreground as a child of the
test (its own process group), from a generated config that names only paths
under WORKDIR: base_dir (run/), state_dir (state/), the log (dovecot.log), one
passwd-file as userdb and passdb (passwd) and the Maildirs
(mail/DOMAIN/USER/Maildir). Only LMTP is served (`protocols = lmtp`): on the
unix socket WORKDIR/lmtp (mode 0666) and, when asked, on 127.0.0.1:PORT, on no
other address. The system Dovecot (/etc/dovecot, /run/dovecot, 143/993) is
neither used nor needed.

    with PrivateDovecot(workdir, users={"alice": "pw"}, lmtp_port=0) as d:
        smtplib.LMTP(d.socket_path) ...         # or LMTP("127.0.0.1", d.lmtp_port)
        d.messages("alice")                     # raw bytes of each INBOX message
        d.stop(); ...; d.start()                # same workdir, socket, port, mail

Users are full addresses (a key without "@" gets "@" + domain). As root (the
way the tests run), mail is stored as Debian's unprivileged system user `mail`
(uid 8): Dovecot refuses uid 0 (passwd-file: "invalid UID '0'", which LMTP
then reports as 550 5.1.1), and its own `dovecot`/`dovenull` users are for its
internal and login processes. Not as root, everything runs as the current user.

What Dovecot 2.3.19 answers (private_dovecot_selftest.py checks it):
- LHLO: PIPELINING, CHUNKING, 8BITMIME, ENHANCEDSTATUSCODES; no SIZE, DSN or
  SMTPUTF8 (those MAIL/RCPT parameters get `555 5.5.4 Unsupported parameters`).
- unknown recipient, at RCPT: `550 5.1.1 <x@example.test> User doesn't exist: x@example.test`
- after DATA (or BDAT LAST): one reply per accepted RCPT, in RCPT order,
  `250 2.0.0 <alice@example.test> ID Saved`.
- quota (quota_bytes): a message that does not fit, after DATA:
  `552 5.2.2 <alice@example.test> Quota exceeded (mailbox for user is full)`
  (`452 4.2.2 ...` with quota_tempfail=True). With rcpt_check_quota (default)
  RCPT gets that same reply, but only once the mailbox is already over its
  limit: RCPT knows no message size.
- stop() during a session: the client gets `421 4.3.2 HOSTNAME Shutting down`.
- a stored message is `Return-Path: <sender>`, `Delivered-To: <RCPT address as
  given, +detail kept>` (only when the transaction has exactly one accepted
  recipient), a `Received:` header, then the message as sent, with LF line ends.
Use /usr/bin/python3.
"""
import grp
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

import ternlib

DEFAULT_DOMAIN = "example.test"
ROOT_MAIL_USER = "mail"  # Debian's base-passwd user 8: owns nothing else we touch


def _user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def _group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return None


class PrivateDovecot:
    """One private Dovecot. Context manager: __enter__ starts it (if not
    running), __exit__ always stops it.

    workdir: a directory for everything (created if missing; None = a new temp
      dir removed by ternlib.cleanup_all).
    users: {"alice" or "alice@example.test": password}.
    lmtp_port: a TCP port on 127.0.0.1 for LMTP as well as the socket; 0 picks
      a free one at the first start (kept across restarts); None = socket only.
    quota_bytes: enables the quota plugin with a storage limit of this many
      bytes, for every user, or only for quota_users (names as in users).
    rcpt_check_quota: `lmtp_rcpt_check_quota` (RCPT fails once already full).
    quota_tempfail: `quota_full_tempfail` (452 4.2.2 instead of 552 5.2.2).
    extra_config: raw dovecot.conf lines appended at the end.
    verbose: mail_debug and auth_debug in the log.

    start(timeout=10) / stop(timeout=10, graceful=False) / restart() / kill9()
    / running(); messages(user) (Maildir files), fetch(user) (doveadm),
    doveadm(*args); log(), log_tail(n); socket_path, lmtp_port, dir,
    config_path, log_path, maildir(user), start_seconds. Attributes such as
    users or quota_bytes may be changed between stop() and start().
    """

    def __init__(self, workdir=None, users=None, lmtp_port=None, quota_bytes=None,
                 quota_users=None, domain=DEFAULT_DOMAIN, hostname="lmtp.example.test",
                 rcpt_check_quota=True, quota_tempfail=False, extra_config="",
                 verbose=False):
        self.dir = Path(workdir).absolute() if workdir else ternlib.make_tempdir("tern-dovecot-")
        if not re.fullmatch(r"[A-Za-z0-9_./+-]+", str(self.dir)):
            raise ValueError(f"workdir {self.dir}: dovecot.conf needs a path without spaces or quotes")
        self.domain = domain
        self.hostname = hostname
        users = {"alice": "password"} if users is None else users
        self.users = {self.address(u): p for u, p in users.items()}
        self.lmtp_port = lmtp_port
        self._pick_port = lmtp_port == 0  # until the first successful start
        self.quota_bytes = quota_bytes
        self.quota_users = None if quota_users is None else {self.address(u) for u in quota_users}
        if self.quota_users and not self.quota_users <= set(self.users):
            raise ValueError(f"quota_users not in users: {sorted(self.quota_users - set(self.users))}")
        self.rcpt_check_quota = rcpt_check_quota
        self.quota_tempfail = quota_tempfail
        self.extra_config = extra_config
        self.verbose = verbose

        self.config_path = self.dir / "dovecot.conf"
        self.passwd_path = self.dir / "passwd"
        self.base_dir = self.dir / "run"
        self.state_dir = self.dir / "state"
        self.mail_root = self.dir / "mail"
        self.log_path = self.dir / "dovecot.log"
        self.stderr_path = self.dir / "dovecot.stderr"
        self.socket_path = str(self.dir / "lmtp")
        self.proc = None
        self.start_seconds = None  # how long the last start() took
        self._stderr_f = None

        if os.geteuid() == 0:
            pw = pwd.getpwnam(ROOT_MAIL_USER)
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
            self.internal_user, self.internal_group = "dovecot", "dovecot"
            self.login_user = "dovenull"
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
            me = _user_name(self.uid)
            if me is None:
                raise unittest.SkipTest(f"uid {self.uid} has no passwd entry (Dovecot needs one)")
            self.internal_user = self.login_user = me
            self.internal_group = _group_name(self.gid) or me
        ternlib._instances.append(self)  # killed at exit like a Tern

    # -- names and paths ----------------------------------------------------
    def address(self, user):
        return user if "@" in user else f"{user}@{self.domain}"

    def maildir(self, user):
        local, domain = self.address(user).rsplit("@", 1)
        return self.mail_root / domain / local / "Maildir"

    # -- config ---------------------------------------------------------------
    def passwd_text(self):
        lines = []
        for user, password in self.users.items():
            local, domain = user.rsplit("@", 1)
            home = self.mail_root / domain / local
            extra = ""
            if self.quota_bytes is not None and self.quota_users is not None \
                    and user in self.quota_users:
                extra = f"userdb_quota_rule=*:storage={int(self.quota_bytes)}B"
            for field in (user, password):
                if any(c in field for c in ":\n"):
                    raise ValueError(f"no ':' or newline in a passwd-file field: {field!r}")
            # user:password:uid:gid:gecos:home:shell:extra fields
            lines.append(f"{user}:{{PLAIN}}{password}:{self.uid}:{self.gid}::{home}::{extra}")
        return "\n".join(lines) + "\n"

    def config_text(self):
        d = self.dir
        c = f"""\
# Generated by tests/lib/private_dovecot.py: a private LMTP mail store.
protocols = lmtp
listen = 127.0.0.1
base_dir = {self.base_dir}
state_dir = {self.state_dir}
instance_name = tern-dovecot-{d.name}
log_path = {self.log_path}
info_log_path = {self.log_path}
debug_log_path = {self.log_path}
hostname = {self.hostname}
postmaster_address = postmaster@{self.domain}
ssl = no
shutdown_clients = yes

default_internal_user = {self.internal_user}
default_internal_group = {self.internal_group}
default_login_user = {self.login_user}
first_valid_uid = {self.uid}
last_valid_uid = {self.uid}
first_valid_gid = {self.gid}
last_valid_gid = {self.gid}

mail_location = maildir:{self.mail_root}/%d/%n/Maildir
mail_home = {self.mail_root}/%d/%n
recipient_delimiter = +
lmtp_save_to_detail_mailbox = no
mail_debug = {"yes" if self.verbose else "no"}
auth_debug = {"yes" if self.verbose else "no"}
auth_mechanisms = plain

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.passwd_path}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.passwd_path}
}}

service lmtp {{
  unix_listener {self.socket_path} {{
    mode = 0666
  }}
"""
        if self.lmtp_port is not None:
            c += f"""  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
"""
        c += "}\n"
        if os.geteuid() != 0:
            # Not root: every process runs as us; chroots cannot be entered.
            c += "service anvil {\n  chroot =\n}\n"
        if self.quota_bytes is not None:
            c += "mail_plugins = $mail_plugins quota\n"
            c += f"lmtp_rcpt_check_quota = {'yes' if self.rcpt_check_quota else 'no'}\n"
            c += f"quota_full_tempfail = {'yes' if self.quota_tempfail else 'no'}\n"
            c += "plugin {\n  quota = maildir:User quota\n"
            if self.quota_users is None:
                c += f"  quota_rule = *:storage={int(self.quota_bytes)}B\n"
            c += "}\n"
        if self.extra_config:
            c += self.extra_config.rstrip("\n") + "\n"
        return c

    def _make_reachable(self):
        """As root, Dovecot's auth process (user dovecot) reads the passwd file
        and lmtp (user mail) writes the Maildirs: every folder above the
        workdir must let others traverse it. A temp dir of ours (mkdtemp makes
        them 0700) gets o+x (traverse, not list); anything else is an error."""
        if os.geteuid() != 0:
            return
        tmp = Path(tempfile.gettempdir()).resolve()
        for folder in reversed(self.dir.resolve().parents):
            st = folder.stat()
            if st.st_mode & 0o001:
                continue
            if tmp in folder.parents and st.st_uid == 0:
                os.chmod(folder, (st.st_mode & 0o7777) | 0o001)
            else:
                raise AssertionError(
                    f"{folder} (mode {st.st_mode & 0o7777:o}) cannot be traversed by Dovecot's "
                    f"users {self.internal_user} and {ROOT_MAIL_USER}: use a workdir under {tmp}")

    def write_config(self):
        if self.lmtp_port == 0:
            self.lmtp_port = ternlib.free_port()  # once: restarts keep it
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)  # the mail user must reach mail/ and the socket
        self._make_reachable()
        for p in (self.base_dir, self.state_dir, self.mail_root):
            p.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            os.chown(self.mail_root, self.uid, self.gid)
        self.passwd_path.write_text(self.passwd_text(), encoding="utf-8")
        os.chmod(self.passwd_path, 0o644)
        self.config_path.write_text(self.config_text(), encoding="utf-8")

    # -- process --------------------------------------------------------------
    def start(self, timeout=10.0):
        """Writes the config and runs `dovecot -c CONF -F`; returns once the
        LMTP socket (and port) answer with a 220 greeting and RCPT TO the first
        user gets 250 (the userdb works), bounded by timeout.
        Raises unittest.SkipTest when Dovecot is not installed, AssertionError
        (with the log) when it does not come up. With lmtp_port=0, a port
        taken meanwhile is replaced by another one (first start only)."""
        if self.running():
            return self
        for attempt in range(3):
            try:
                return self._start(timeout)
            except AssertionError as e:
                # A port picked by free_port() can be taken before Dovecot binds it.
                if not (self._pick_port and "Address already in use" in str(e)) or attempt == 2:
                    raise
                self.lmtp_port = 0

    def _start(self, timeout):
        dovecot = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not os.path.exists(dovecot) or not os.path.exists("/usr/lib/dovecot/lmtp"):
            raise unittest.SkipTest("dovecot-core and dovecot-lmtpd are not installed "
                                    "(scripts/deps.sh)")
        t0 = time.monotonic()
        self.write_config()
        self._stderr_f = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(
            [dovecot, "-c", str(self.config_path), "-F"],
            stdin=subprocess.DEVNULL, stdout=self._stderr_f, stderr=self._stderr_f,
            cwd=str(self.dir), start_new_session=True, preexec_fn=ternlib._die_with_parent)
        deadline = t0 + timeout
        targets = [("unix", self.socket_path)]
        if self.lmtp_port is not None:
            targets.append(("tcp", ("127.0.0.1", self.lmtp_port)))
        for kind, addr in targets:
            while True:
                if self.proc.poll() is not None:
                    status = self.proc.returncode
                    self.stop()
                    raise AssertionError(f"dovecot exited with {status} at start\n"
                                         + self.log_tail())
                if self._greets(kind, addr, deadline):
                    break
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"dovecot: no LMTP greeting on {addr} within "
                                         f"{timeout}s\n" + self.log_tail())
                time.sleep(0.02)
        self._check_userdb(deadline)
        self.start_seconds = time.monotonic() - t0
        self._pick_port = False
        return self

    def _check_userdb(self, deadline):
        """An LMTP RCPT for the first user (then RSET): proves that the auth
        process reads the passwd file and accepts the user's uid; a greeting
        alone does not (an unreadable passwd file gives `451 4.3.0 Temporary
        internal error`, a refused uid `550 5.1.1`, both only at RCPT).
        Nothing is delivered."""
        if not self.users:
            return
        user = next(iter(self.users))
        try:
            c = smtplib.LMTP(self.socket_path, timeout=max(1.0, deadline - time.monotonic()))
            try:
                c.ehlo("start.check")
                c.mail("")
                code, text = c.rcpt(user)
                c.rset()
            finally:
                c.close()
        except (OSError, smtplib.SMTPException) as e:
            code, text = None, str(e).encode()
        if code not in (250, 452, 552):  # 452/552: that user is over quota
            self.stop()
            raise AssertionError(f"dovecot: RCPT TO:<{user}> at start got {code} "
                                 f"{text.decode(errors='replace')}\n" + self.log_tail())

    @staticmethod
    def _greets(kind, addr, deadline):
        """True when a connection to addr gets a `220 ` line."""
        family = socket.AF_UNIX if kind == "unix" else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(max(0.1, min(2.0, deadline - time.monotonic())))
                s.connect(addr)
                data = b""
                while b"\n" not in data:
                    chunk = s.recv(512)
                    if not chunk:
                        return False
                    data += chunk
                ok = data.startswith(b"220 ")
                try:
                    s.sendall(b"QUIT\r\n")
                    s.recv(512)
                except OSError:
                    pass
                return ok
        except OSError:
            return False

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0, graceful=False):
        """Stops Dovecot and waits; returns the master's exit status.

        Default: SIGTERM to the master and all its children at once (its own
        process group): gone in ~0.1 s; an LMTP session in progress is cut
        (the client sees the connection close; mail already acknowledged is
        in the Maildir). graceful=True: SIGTERM to the master only, which
        waits for its children to notice: ~1.1 s, and 6 s when an idle lmtp
        process does not (Dovecot's 5 s limit). Either way, what is still
        alive after `timeout` gets SIGKILL."""
        if self.proc is None:
            return None
        pid = self.proc.pid
        if self.proc.poll() is None:
            try:
                if graceful:
                    self.proc.send_signal(signal.SIGTERM)
                else:
                    os.killpg(pid, signal.SIGTERM)
            except OSError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # The children are in the master's own session and normally gone by
        # now; SIGKILL any that outlive it (by pid: they are ours).
        deadline = time.monotonic() + (timeout if self.proc.poll() is None else 2.0)
        while _group_members(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        for child in _group_members(pid):
            try:
                os.kill(child, signal.SIGKILL)
            except OSError:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self._close()
        return self.proc.returncode

    def kill9(self):
        """SIGKILL to the whole process group (a crash, for tests)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                self.proc.kill()
            self.proc.wait(timeout=10)
        self._close()

    def restart(self, timeout=10.0):
        self.stop()
        return self.start(timeout)

    def _close(self):
        if self._stderr_f:
            self._stderr_f.close()
            self._stderr_f = None

    def _close_log(self):  # for ternlib.cleanup_all
        self._close()

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        return False

    # -- mail -------------------------------------------------------------------
    def messages(self, user):
        """The raw bytes of each message in user's INBOX (Maildir new/ and cur/),
        in delivery order: sorted by the time in the Maildir file name
        (`SECONDS.M<microseconds>P<pid>...`; the microseconds are not
        zero-padded, so a plain sort by name could misorder a second), then name."""
        md = self.maildir(user)
        files = []
        for sub in ("new", "cur"):
            d = md / sub
            if d.is_dir():
                files += [p for p in d.iterdir() if p.is_file()]
        return [p.read_bytes() for p in sorted(files, key=_maildir_order)]

    def doveadm(self, *args, timeout=30):
        """Runs `doveadm -c CONF ARGS...` against this instance; returns stdout
        (bytes), raises AssertionError with stderr when it fails."""
        r = subprocess.run(["doveadm", "-c", str(self.config_path), *args],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError(f"doveadm {' '.join(args)} failed ({r.returncode}): "
                                 f"{r.stderr.decode(errors='replace')}")
        return r.stdout

    def fetch(self, user):
        """The INBOX messages as Dovecot itself reads them, in UID (delivery)
        order: a cross-check of messages(). One `doveadm fetch -u USER text
        mailbox INBOX uid N` per message: with several messages, the pager
        format has no separator when stdout is not a terminal, and the json
        format replaces bytes that are not UTF-8 with U+FFFD."""
        address = self.address(user)
        uids = self.doveadm("-f", "tab", "fetch", "-u", address, "uid", "mailbox", "INBOX", "ALL")
        out = []
        for uid in uids.decode().split()[1:]:  # the first line is the header "uid"
            text = self.doveadm("-f", "pager", "fetch", "-u", address, "text",
                                "mailbox", "INBOX", "uid", uid)
            if not text.startswith(b"text:\n"):
                raise AssertionError(f"unexpected doveadm fetch output: {text[:80]!r}")
            out.append(text[len(b"text:\n"):])
        return out

    # -- logs -------------------------------------------------------------------
    def log(self):
        """Dovecot's log file, then anything the master printed on stderr."""
        out = ""
        for p in (self.log_path, self.stderr_path):
            try:
                out += p.read_bytes().decode("utf-8", "replace")
            except OSError:
                pass
        return out

    log_text = log

    def log_tail(self, n=40):
        return "\n".join(self.log().splitlines()[-n:]) + "\n"


def _group_members(pgid):
    """Live (not zombie) processes in process group pgid, from /proc. An exited
    child of the master can stay a zombie for seconds after the master is gone
    (reparented to an init that reaps slowly), so kill(-pgid, 0) is no test."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()  # after "pid (comm) "
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid:
            pids.append(int(entry))
    return pids


def _maildir_order(path):
    m = re.match(r"(\d+)\.M(\d+)P", path.name)
    return (int(m.group(1)), int(m.group(2)), path.name) if m else (0, 0, path.name)
