"""Messages through tern for t-36: building them (a unique Message-ID to
find each delivery), one SMTP session per message over a raw socket, the
stored file read back with tern's Authentication-Results parsed (peers.py),
and the DMARC verdict the references give for the same message.
"""
import re
import time
import uuid

import ternlib
import peers
from ternlib import check, send_data

HOSTNAME = ternlib.DEFAULT_HOSTNAME
RCPT = "alice@example.test"


# --------------------------------------------------------------------------
# messages


def message(from_addr, subject="t-36", body=b"hello world\r\n.leading dot\r\nbye\r\n", extra=b""):
    """A CRLF message with a unique Message-ID (to find its delivery)."""
    token = uuid.uuid4().hex
    head = (f"From: Test Sender <{from_addr}>\r\nTo: {RCPT}\r\nSubject: {subject}\r\n"
            f"Date: Mon, 07 Dec 2026 09:00:00 +0000\r\nMessage-ID: <{token}@t36.test>\r\n").encode()
    return head + extra + b"\r\n" + body


def dot_stuff(msg):
    return re.sub(rb"(?m)^\.", b"..", msg)


def b_prefix(signature):
    """The first 8 characters of b= of a DKIM-Signature field (RFC 6008)."""
    b = re.search(rb"\bb=([^;]*)", re.sub(rb"\s+", b"", signature.split(b":", 1)[1])).group(1)
    return b[:8].decode()


def rewhitespace(msg):
    """What a relay may do in transit: white space inside a signed header
    and inside body lines changed, empty lines added at the end. Relaxed
    canonicalization ignores it; simple does not."""
    head, body = msg.split(b"\r\n\r\n", 1)
    head = head.replace(b"Subject: ", b"Subject:\t  ")
    body = body.replace(b"hello world", b"hello \t world  ")
    return head + b"\r\n\r\n" + body + b"\r\n\r\n"


def unquote_pairs(value):
    return re.sub(r"\\(.)", r"\1", value)


class Delivery:
    """One message through tern: the final reply, and when delivered the
    stored file, tern's parsed Authentication-Results and its
    event=authentication line."""

    def __init__(self, reply, content=None, ours=(), others=(), event=None):
        self.reply = reply
        self.content = content
        self.ours = list(ours)
        self.others = list(others)
        self.event = event

    @property
    def ar(self):
        if len(self.ours) != 1:
            raise AssertionError(f"expected one Authentication-Results by {HOSTNAME}, "
                                 f"found {len(self.ours)}: {self.content[:1500]!r}")
        return self.ours[0]

    def result(self, method):
        return self.ar.one(method).result

    def prop(self, method, ptype, name):
        return peers.AuthResults.prop(self.ar.one(method), ptype, name)


def send(tern, mail_from, msg, helo="client.sender.test", rcpt=RCPT, timeout=20.0):
    """One SMTP session: EHLO helo, MAIL, RCPT, DATA msg; returns the final
    reply to the message."""
    d = ternlib.Dialog(tern.port, timeout=timeout)
    try:
        check(d.greeting, 220)
        check(d.cmd(f"EHLO {helo}"), 250, what="EHLO")
        check(d.cmd(f"MAIL FROM:<{mail_from}>"), 250, what="MAIL")
        check(d.cmd(f"RCPT TO:<{rcpt}>"), 250, what="RCPT")
        reply = send_data(d, dot_stuff(msg))
        d.cmd("QUIT")
        return reply
    finally:
        d.close()


def deliver(tern, mail_from, msg, helo="client.sender.test"):
    """Sends msg, asserts 250 and waits for the stored file (named after the
    queue id); returns a Delivery."""
    reply = send(tern, mail_from, msg, helo)
    check(reply, 250, "2.0.0", what="end of data")
    qid = ternlib.queue_id(reply)
    path = ternlib.wait_for(
        lambda: [p for p in tern.maildir("alice") if p.name.startswith(qid)],
        20, what=f"delivery of {qid}")[0]
    content = path.read_bytes()
    ours, others = peers.authentication_results(content, HOSTNAME)
    event = tern.wait_log_events("authentication", queue_id=qid)[0]
    return Delivery(reply, content, ours, others, event)


def refused(test, tern, mail_from, msg, code, enhanced, helo="client.sender.test"):
    """Sends msg, asserts the refusal at end of data, and that it was not
    delivered. Returns the reply and the time it took."""
    start = time.monotonic()
    reply = send(tern, mail_from, msg, helo)
    elapsed = time.monotonic() - start
    check(reply, code, enhanced, what="end of data")
    token = re.search(rb"Message-ID: <(\w+)@", msg).group(1)
    tern.wait_queue_empty(20)
    test.assertFalse([p for p in tern.maildir("alice") if token in p.read_bytes()],
                     "a refused message was delivered")
    return reply, elapsed


def reference_dmarc(msg, mail_from, helo):
    """authheaders' DMARC verdict for a message, fed pyspf's SPF result of
    the MAIL FROM identity and the d= of the signatures dkimpy verifies."""
    from_domain = re.search(rb"^From:[^\r]*@([\w.-]+)>", msg, re.M).group(1).decode()
    spf_result, _ = peers.pyspf(mail_from, helo)
    identity = mail_from or f"postmaster@{helo}"
    passing = []
    sigs = re.findall(rb"(?ms)^DKIM-Signature:.*?(?=^\S)", msg)
    for ok, sig in zip(peers.dkimpy_verify(msg), sigs):
        if ok:
            passing.append(re.search(rb"\bd=([\w.-]+)", sig).group(1).decode())
    return peers.authheaders_dmarc(from_domain, spf_result, identity, passing), from_domain
