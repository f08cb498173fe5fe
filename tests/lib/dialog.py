"""SMTP over a raw socket for tern's integration tests: a Dialog sends lines
and reads replies (multiline, enhanced status codes); helpers for the common
steps (session, transaction, check). ternlib re-exports all of it.
"""

import re
import socket

QUEUE_ID_RE = re.compile(r"queued as ([0-9A-Z]{15})\b")


# --------------------------------------------------------------------------
# SMTP dialog over a raw socket


class Reply:
    """One SMTP reply: code, lines (text after 'ddd-'/'ddd '), enhanced code
    of the last line (or None)."""

    def __init__(self, code, lines, raw):
        self.code = code
        self.lines = lines
        self.raw = raw
        m = re.match(r"^([245]\.\d{1,3}\.\d{1,3})(?: |$)", lines[-1]) if lines else None
        self.enhanced = m.group(1) if m else None

    @property
    def text(self):
        return self.lines[-1] if self.lines else ""

    def __str__(self):
        return " | ".join(f"{self.code} {l}" for l in self.lines)

    __repr__ = __str__


class ConnectionClosed(Exception):
    pass


class Dialog:
    """A raw SMTP client: write lines or bytes, read replies."""

    def __init__(self, port, host="127.0.0.1", timeout=20.0, read_greeting=True):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.greeting = self.read_reply() if read_greeting else None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
        return False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def line(self, text):
        self.send((text.encode("utf-8") if isinstance(text, str) else text) + b"\r\n")

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise ConnectionClosed(f"connection closed by server; unread={self.buf!r}")
        self.buf += chunk

    def read_line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 100000:
                raise AssertionError(f"reply line without CRLF: {self.buf[:200]!r}")
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_reply(self):
        lines = []
        raw = []
        code = None
        while True:
            l = self.read_line()
            raw.append(l)
            s = l.decode("utf-8", "replace")
            m = re.match(r"^(\d{3})([ -])(.*)$", s) or re.match(r"^(\d{3})()$", s)
            if not m:
                raise AssertionError(f"malformed reply line {l!r}")
            c = int(m.group(1))
            if code is not None and c != code:
                raise AssertionError(f"reply code changed inside a multiline reply: {raw!r}")
            code = c
            lines.append(m.group(3))
            if m.group(2) != "-":
                return Reply(code, lines, raw)

    def cmd(self, text):
        self.line(text)
        return self.read_reply()

    def read_replies(self, n):
        return [self.read_reply() for _ in range(n)]

    def read_until_closed(self, timeout=20.0, max_replies=50):
        """Reads replies until the server closes the connection (bounded)."""
        self.sock.settimeout(timeout)
        out = []
        try:
            for _ in range(max_replies):
                out.append(self.read_reply())
        except ConnectionClosed:
            return out
        raise AssertionError(f"server kept talking: {out}")

    def expect_closed(self, timeout=20.0):
        """Asserts the server closes the connection with nothing more sent."""
        self.sock.settimeout(timeout)
        if self.buf:
            raise AssertionError(f"unexpected data before close: {self.buf!r}")
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        except socket.timeout:
            raise AssertionError("connection still open")
        if chunk:
            raise AssertionError(f"unexpected data instead of close: {chunk!r}")

    def pending(self, wait=0.3):
        """Returns bytes the server sent without being asked (waits briefly).
        b'' when nothing came; None when the connection is closed."""
        if self.buf:
            return self.buf
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return b""
        except ConnectionResetError:
            return None
        finally:
            self.sock.settimeout(20.0)
        if not chunk:
            return None
        self.buf += chunk
        return self.buf


def check(reply, code, enhanced=None, what=""):
    """Asserts a reply's code (int, or a str like '5' for the class) and,
    when given, its enhanced status code."""
    ok = str(reply.code).startswith(code) if isinstance(code, str) else reply.code == code
    if ok and enhanced is not None:
        ok = reply.enhanced == enhanced
    if not ok:
        want = f"{code}" + (f" {enhanced}" if enhanced else "")
        raise AssertionError(f"{what + ': ' if what else ''}expected {want}, got {reply}")
    return reply


def session(port, ehlo="client.example", host="127.0.0.1"):
    """Connect, check the 220 greeting, EHLO; returns the Dialog."""
    d = Dialog(port, host=host)
    check(d.greeting, 220, what="greeting")
    if ehlo:
        check(d.cmd(f"EHLO {ehlo}"), 250, what="EHLO")
    return d


def queue_id(reply):
    m = QUEUE_ID_RE.search(reply.text)
    if not m:
        raise AssertionError(f"no 'queued as <15 chars [0-9A-Z]>' in {reply}")
    return m.group(1)


def send_data(d, message):
    """DATA, 354, the message (already dot-stuffed, CRLF, without the final
    '.'), then '.'; returns the final reply."""
    check(d.cmd("DATA"), 354, what="DATA")
    if isinstance(message, str):
        message = message.encode("utf-8")
    if message and not message.endswith(b"\r\n"):
        message += b"\r\n"
    d.send(message + b".\r\n")
    return d.read_reply()


def send_mail(port, sender, rcpts, message):
    """One message in a session of its own, then QUIT; the reply to the
    end of the data. `message` is str or bytes (UTF-8)."""
    d = session(port)
    try:
        reply = transaction(d, sender, rcpts, message.decode() if isinstance(message, bytes) else message)
        check(d.cmd("QUIT"), 221)
        return reply
    finally:
        d.close()


def transaction(d, sender, rcpts, message):
    check(d.cmd(f"MAIL FROM:<{sender}>"), 250, what="MAIL")
    for r in rcpts:
        check(d.cmd(f"RCPT TO:<{r}>"), 250, what=f"RCPT {r}")
    return send_data(d, message)
