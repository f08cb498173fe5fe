#!/usr/bin/python3
"""Self-test of private_dovecot.py (not part of `make test`): starts a private
Dovecot, delivers with smtplib.LMTP over the unix socket and over TCP, checks
the replies, the stored messages and the listeners, stops and starts it again,
and prints what Dovecot 2.3 really answers (the facts the LMTP delivery agent
of issue 16 is written against).

    /usr/bin/python3 tests/lib/private_dovecot_selftest.py     # as root, like the tests

Exit status 0 when every check passed. TERN_KEEP=1 keeps the temp dirs.
"""
import os
import re
import smtplib
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ternlib  # noqa: E402
from private_dovecot import PrivateDovecot, _group_members  # noqa: E402

failures = []
facts = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)
    return cond


def fact(what, value):
    facts.append((what, value))


def fmt(reply):
    code, text = reply
    return f"{code} {text.decode('utf-8', 'replace')}"


def connect(d, over):
    c = smtplib.LMTP(d.socket_path) if over == "unix" else smtplib.LMTP("127.0.0.1", d.lmtp_port)
    c.ehlo("client.example.test")  # LHLO
    return c


def crlf(msg):
    msg = re.sub(rb"\r?\n", b"\r\n", msg)
    return msg if msg.endswith(b"\r\n") else msg + b"\r\n"


def transaction(c, sender, rcpts, msg, mail_options=(), rcpt_options=()):
    """MAIL, RCPT each, DATA; returns (mail reply, [rcpt replies], [data
    replies]): LMTP gives one reply after DATA per accepted recipient."""
    mail = c.mail(sender, list(mail_options))
    rcpt = [c.rcpt(r, list(rcpt_options)) for r in rcpts]
    accepted = sum(1 for code, _ in rcpt if code == 250)
    data = []
    if mail[0] == 250 and accepted:
        code, text = c.docmd("DATA")
        if code != 354:
            check(False, f"DATA -> 354 (got {code} {text!r})")
            return mail, rcpt, data
        body = re.sub(rb"(?m)^\.", b"..", crlf(msg))
        c.send(body + b".\r\n")
        data = [c.getreply() for _ in range(accepted)]
    else:
        c.rset()
    return mail, rcpt, data


def message(subject, size=0):
    body = b"".join(b"%07d %s\n" % (i, b"x" * 62) for i in range(size // 72 + 1)) if size else b"hello\n"
    return (b"From: sender@client.example.test\nTo: someone@example.test\n"
            b"Subject: " + subject.encode() + b"\nMessage-ID: <" + subject.encode()
            + b"@client.example.test>\n\n" + body)


def subjects(msgs):
    out = []
    for m in msgs:
        g = re.search(rb"(?m)^Subject: (.*)$", m)
        out.append(g.group(1).decode() if g else None)
    return out


def listeners(pgid):
    """(kind, address) of every listening socket the Dovecot processes hold."""
    inodes = set()
    for pid in _group_members(pgid):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            pass
    out = set()
    for name in ("tcp", "tcp6"):
        with open(f"/proc/net/{name}") as f:
            next(f)
            for line in f:
                p = line.split()
                if p[3] == "0A" and p[9] in inodes:
                    addr, port = p[1].rsplit(":", 1)
                    if name == "tcp":
                        host = socket.inet_ntoa(bytes.fromhex(addr)[::-1])
                    else:
                        host = "ipv6:" + addr
                    out.add(("tcp", f"{host}:{int(port, 16)}"))
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            p = line.split()
            # Num RefCount Protocol Flags Type St Inode [Path]; St 01 = listening
            if len(p) >= 8 and p[6] in inodes and p[3] == "00010000":
                out.add(("unix", p[7]))
    return out


def main():
    if os.geteuid() != 0:
        print("note: not root: mail is stored as the current user (the tests run as root: as user 'mail')")
    work = ternlib.make_tempdir("tern-dovecot-selftest-")
    port = ternlib.free_port()
    quota = 4000
    d = PrivateDovecot(work / "a", users={"alice": "pw-a", "bob": "pw-b", "carol": "pw-c"},
                       lmtp_port=port, quota_bytes=quota, quota_users=["carol"])
    start_times = []
    with d:
        start_times.append(d.start_seconds)
        pgid = d.proc.pid

        # -- listeners: only the socket in the workdir and 127.0.0.1:port ------------
        ls = listeners(pgid)
        fact("listening sockets", sorted(a for k, a in ls if k == "tcp")
             + [f"{sum(1 for k, _ in ls if k == 'unix')} unix sockets, all under the workdir"])
        check(("tcp", f"127.0.0.1:{port}") in ls, f"LMTP listens on 127.0.0.1:{port}")
        check(("unix", d.socket_path) in ls, f"LMTP listens on {d.socket_path}")
        check(all(k == "unix" or a == f"127.0.0.1:{port}" for k, a in ls),
              "no other TCP listener (no 143/993, no 0.0.0.0, no ::)")
        check(all(k == "tcp" or a.startswith(str(d.dir)) for k, a in ls),
              "every unix socket is under the workdir (nothing in /run/dovecot)")

        # -- LHLO ---------------------------------------------------------------------
        caps = {}
        for over in ("unix", "tcp"):
            c = connect(d, over)
            caps[over] = c.ehlo_resp.decode().split("\n")
            c.quit()
        fact("LHLO reply (unix socket)", caps["unix"])
        check(caps["unix"][1:] == caps["tcp"][1:], "same LHLO capabilities over unix and TCP")
        kw = {line.split()[0].upper() for line in caps["unix"][1:]}
        check(kw == {"8BITMIME", "CHUNKING", "ENHANCEDSTATUSCODES", "PIPELINING"},
              f"capabilities are exactly 8BITMIME CHUNKING ENHANCEDSTATUSCODES PIPELINING ({sorted(kw)})")

        # -- unix socket: two users and an unknown one ------------------------------------
        c = connect(d, "unix")
        mail, rcpt, data = transaction(c, "sender@client.example.test",
                                       ["alice@example.test", "nosuch@example.test", "bob@example.test"],
                                       message("m1 unix two users"))
        check(mail[0] == 250, f"MAIL -> {fmt(mail)}")
        check(rcpt[0][0] == 250 and rcpt[2][0] == 250, "RCPT alice, bob -> 250")
        check(rcpt[1][0] == 550 and rcpt[1][1].startswith(b"5.1.1 "),
              f"RCPT unknown -> 550 5.1.1: {fmt(rcpt[1])}")
        fact("RCPT unknown user", fmt(rcpt[1]))
        fact("RCPT known user", fmt(rcpt[0]))
        check(len(data) == 2 and all(r[0] == 250 for r in data), "after DATA: one 250 per accepted RCPT")
        check(b"<alice@example.test>" in data[0][1] and b"<bob@example.test>" in data[1][1],
              "the DATA replies come in RCPT order and name the recipient")
        fact("after DATA, per recipient", [fmt(r) for r in data])
        c.quit()

        # -- TCP: one recipient, with a +detail ------------------------------------------
        c = connect(d, "tcp")
        mail, rcpt, data = transaction(c, "sender@client.example.test", ["alice+lists@example.test"],
                                       message("m2 tcp one user"))
        check(rcpt[0][0] == 250 and data and data[0][0] == 250,
              f"TCP: alice+lists -> {fmt(rcpt[0])}, after DATA {data and fmt(data[0])}")
        mail, rcpt, data = transaction(c, "", ["bob@example.test"], message("m3 tcp null sender"))
        check(mail[0] == 250 and data and data[0][0] == 250, "TCP: MAIL FROM:<> accepted and delivered")
        c.quit()

        # -- CHUNKING: BDAT (raw, smtplib has none) ----------------------------------------
        c = connect(d, "unix")
        c.mail("sender@client.example.test")
        c.rcpt("alice@example.test")
        c.rcpt("bob@example.test")
        chunk = crlf(message("m4 bdat"))
        c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        bdat = [c.getreply() for _ in range(2)]
        check(all(r[0] == 250 for r in bdat), f"BDAT LAST -> one 250 per recipient: {[fmt(r) for r in bdat]}")
        c.quit()

        # -- parameters a client might send (informational) ---------------------------------
        c = connect(d, "unix")
        probes = {}
        for label, opts in (("MAIL SIZE=100", ["SIZE=100"]), ("MAIL BODY=8BITMIME", ["BODY=8BITMIME"]),
                            ("MAIL BODY=BINARYMIME", ["BODY=BINARYMIME"]), ("MAIL SMTPUTF8", ["SMTPUTF8"]),
                            ("MAIL RET=HDRS ENVID=x", ["RET=HDRS", "ENVID=x"])):
            # docmd: smtplib itself refuses options the server did not announce
            probes[label] = fmt(c.docmd("MAIL", "FROM:<sender@client.example.test> " + " ".join(opts)))
            c.rset()
        c.mail("sender@client.example.test")
        probes["RCPT NOTIFY=NEVER"] = fmt(c.docmd("RCPT", "TO:<alice@example.test> NOTIFY=NEVER"))
        probes["RCPT ORCPT=rfc822;alice@example.test"] = fmt(
            c.docmd("RCPT", "TO:<alice@example.test> ORCPT=rfc822;alice@example.test"))
        c.rset()
        c.quit()
        raw = socket.socket(socket.AF_UNIX)
        raw.connect(d.socket_path)
        f = raw.makefile("rb")
        f.readline()
        raw.sendall(b"MAIL FROM:<a@b.test>\r\n")
        probes["MAIL without LHLO"] = f.readline().decode().strip()
        raw.sendall(b"LHLO x\r\nMAIL FROM:<a@b.test>\r\nDATA\r\n")
        lines = []
        while len([x for x in lines if x[3:4] == b" "]) < 3:
            lines.append(f.readline())
        probes["DATA without RCPT"] = lines[-1].decode().strip()
        raw.close()
        fact("parameter probes", probes)

        # -- quota: a message that does not fit ------------------------------------------
        c = connect(d, "unix")
        mail, rcpt, data = transaction(c, "sender@client.example.test",
                                       ["carol@example.test", "alice@example.test"],
                                       message("m5 too big for carol", 2 * quota))
        check(rcpt[0][0] == 250, f"quota: RCPT carol (empty mailbox) -> {fmt(rcpt[0])}")
        check(len(data) == 2 and data[0][0] == 552 and data[0][1].startswith(b"5.2.2 "),
              f"quota: after DATA, carol -> 552 5.2.2: {data and fmt(data[0])}")
        check(len(data) == 2 and data[1][0] == 250, "quota: after DATA, alice (no quota) -> 250")
        fact("over quota, after DATA", fmt(data[0]))
        fact("over quota, RCPT while the mailbox is not yet full", fmt(rcpt[0]))
        mail, rcpt, data = transaction(c, "sender@client.example.test", ["carol@example.test"],
                                       message("m6 fits carol", quota // 2))
        check(data and data[0][0] == 250, "quota: a message that fits -> 250")
        c.quit()
        check(subjects(d.messages("carol")) == ["m6 fits carol"], "carol holds only the one that fit")

        # -- messages() and fetch() ------------------------------------------------------
        alice = d.messages("alice")
        check(subjects(alice) == ["m1 unix two users", "m2 tcp one user", "m4 bdat",
                                  "m5 too big for carol"],
              f"alice's INBOX in delivery order: {subjects(alice)}")
        check(subjects(d.messages("bob@example.test"))
              == ["m1 unix two users", "m3 tcp null sender", "m4 bdat"],
              "bob's INBOX (address form of the name works too)")
        check(all(m.startswith(b"Return-Path: <") for m in alice),
              "every stored message starts with Return-Path")
        check(b"\r\n" not in b"".join(alice), "stored with LF line ends")
        single = alice[1]
        multi = alice[0]
        check(b"\nDelivered-To: alice+lists@example.test\n" in single,
              "one recipient: Delivered-To: with the RCPT address as given (+detail kept)")
        check(b"Delivered-To:" not in multi, "two recipients: no Delivered-To")
        check(single.endswith(message("m2 tcp one user")),
              "after Dovecot's headers, the message as sent (LF line ends)")
        check(re.match(rb"Return-Path: <>\nDelivered-To: bob@example.test\nReceived: ",
                       d.messages("bob")[1]) is not None, "null sender: Return-Path: <>")
        fact("stored message, one recipient (headers Dovecot added)",
             single.split(b"From: sender")[0].decode())
        fact("stored message, two recipients (headers Dovecot added)",
             multi.split(b"From: sender")[0].decode())
        try:
            fetched = d.fetch("alice")
            check(fetched == alice, "doveadm fetch returns the same bytes as the Maildir files")
        except AssertionError as e:
            check(False, f"doveadm fetch: {e}")

        # -- stop: a session in progress is cut, nothing listens ---------------------------
        c = connect(d, "tcp")
        c.mail("sender@client.example.test")
        t0 = time.monotonic()
        d.stop()
        fact("stop() took", f"{time.monotonic() - t0:.3f} s")
        try:
            r = c.rcpt("alice@example.test")
            cut = fmt(r)
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            cut = f"{type(e).__name__}: {e}"
        fact("a session open during stop() then gets", cut)
        for over, addr in (("unix", d.socket_path), ("tcp", ("127.0.0.1", port))):
            s = socket.socket(socket.AF_UNIX if over == "unix" else socket.AF_INET)
            try:
                s.connect(addr)
                refused = False
            except OSError:
                refused = True
            s.close()
            check(refused, f"stopped: {over} connection refused")
        check(not _group_members(pgid), "no Dovecot process left after stop()")

        # -- start again on the same workdir; lower carol's quota below her usage -------------
        d.quota_bytes = quota // 4
        d.start()
        start_times.append(d.start_seconds)
        check(d.lmtp_port == port and ("tcp", f"127.0.0.1:{port}") in listeners(d.proc.pid),
              "restarted on the same port")
        c = connect(d, "tcp")
        mail, rcpt, data = transaction(c, "sender@client.example.test",
                                       ["carol@example.test", "alice@example.test"],
                                       message("m7 after restart"))
        check(rcpt[0][0] == 552 and rcpt[0][1].startswith(b"5.2.2 "),
              f"quota: RCPT to a mailbox already over quota -> 552 5.2.2: {fmt(rcpt[0])}")
        fact("over quota, RCPT when the mailbox is already full (lmtp_rcpt_check_quota = yes)", fmt(rcpt[0]))
        check(data and data[0][0] == 250, "after restart: alice delivered over TCP")
        check(b"\nDelivered-To: alice@example.test\n" in d.messages("alice")[-1],
              "one recipient accepted of two RCPTs: Delivered-To is added")
        c.quit()
        c = connect(d, "unix")
        mail, rcpt, data = transaction(c, "sender@client.example.test", ["bob@example.test"],
                                       message("m8 after restart"))
        check(data and data[0][0] == 250, "after restart: bob delivered over the socket")
        c.quit()
        check(subjects(d.messages("alice"))[-2:] == ["m5 too big for carol", "m7 after restart"],
              "alice keeps her mail across the restart")
        check(len(d.messages("bob")) == 4, "bob has 4 messages")
        check(d.fetch("bob") == d.messages("bob"), "doveadm fetch after restart")

        # -- a second instance at the same time: quota for everyone, tempfail ---------------
        e = PrivateDovecot(work / "b", users={"dave": "pw"}, quota_bytes=1000, quota_tempfail=True)
        with e:
            start_times.append(e.start_seconds)
            c = connect(e, "unix")
            mail, rcpt, data = transaction(c, "sender@client.example.test", ["dave@example.test"],
                                           message("too big for dave", 3000))
            check(data and data[0][0] == 452 and data[0][1].startswith(b"4.2.2 "),
                  f"quota_tempfail: after DATA -> 452 4.2.2: {data and fmt(data[0])}")
            fact("over quota with quota_tempfail = yes, after DATA", data and fmt(data[0]))
            c.quit()
            check(e.lmtp_port is None and all(k == "unix" for k, _ in listeners(e.proc.pid)),
                  "lmtp_port=None: no TCP listener at all")
        check(d.running(), "the first instance kept running")

        # -- restart() a few times for the start time ----------------------------------
        for _ in range(3):
            d.restart()
            start_times.append(d.start_seconds)
        t0 = time.monotonic()
        d.stop(graceful=True)
        fact("stop(graceful=True) took", f"{time.monotonic() - t0:.3f} s")
        d.start()
        start_times.append(d.start_seconds)
        check(len(d.messages("alice")) == 5, "mail intact after several restarts")
        log = d.log()
        check("saved mail to INBOX" in log and "Quota exceeded" in log, "log() has Dovecot's log")
    check(not d.running(), "__exit__ stopped it")
    fact("start() times (s)", [round(t, 3) for t in start_times])

    print("\n--- facts ---")
    for what, value in facts:
        if isinstance(value, dict):
            print(f"{what}:")
            for k, v in value.items():
                print(f"    {k}: {v}")
        elif isinstance(value, list):
            print(f"{what}:")
            for v in value:
                print(f"    {v}")
        else:
            print(f"{what}: {value.rstrip() if isinstance(value, str) else value}")
    if failures:
        print(f"\n{len(failures)} check(s) failed; kept {work}\n--- dovecot log ---\n{d.log_tail(60)}")
        ternlib.cleanup_all(keep=True)
        return 1
    print("\nall checks passed")
    ternlib.cleanup_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
