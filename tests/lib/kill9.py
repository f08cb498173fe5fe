"""Load, then kill -9: shared by t-09-kill9 (local delivery) and
t-14-relay_kill9 (relaying).

send_then_kill() runs `threads` smtplib senders over messages 0..n-1 (each
with Message-ID <{tag}-{i}@example.org>), kills tern with SIGKILL once
`kill_after` messages got their 250, and returns what was accepted.
send_all() sends without a kill (the rest, after the restart).
"""
import re
import smtplib
import threading
import time


def message(tag, i, rcpt):
    return (f"From: sender@example.org\r\nTo: {rcpt}\r\n"
            f"Subject: {tag} message {i}\r\nMessage-ID: <{tag}-{i}@example.org>\r\n\r\n"
            f"body of message {i}\r\n" + "x" * 200 + "\r\n").encode()


def message_ids(tag, contents):
    """Counts of our message numbers found in stored messages."""
    counts = {}
    for content in contents:
        m = re.search(rb"(?im)^Message-ID: <" + tag.encode() + rb"-(\d+)@example\.org>", content)
        if m:
            i = int(m.group(1))
            counts[i] = counts.get(i, 0) + 1
    return counts


def _sender(t, tag, rcpt, indexes, accepted, unsure, lock):
    """A thread's work: sends messages `indexes` over one session; stops at
    the first error (the server is gone, or refused)."""
    s = None
    try:
        for i in indexes:
            try:
                if s is None:
                    s = smtplib.SMTP("127.0.0.1", t.port, local_hostname="client.example", timeout=30)
                refused = s.sendmail("sender@example.org", [rcpt], message(tag, i, rcpt))
                if refused:
                    raise smtplib.SMTPException(f"refused {refused}")
                with lock:
                    accepted.add(i)
            except (smtplib.SMTPException, OSError) as e:
                with lock:
                    unsure[i] = repr(e)
                return
    finally:
        if s is not None:
            try:
                s.close()
            except OSError:
                pass


def _start(t, tag, rcpt, indexes, threads):
    accepted, unsure, lock = set(), {}, threading.Lock()
    workers = [threading.Thread(target=_sender, daemon=True,
                                args=(t, tag, rcpt, indexes[k::threads], accepted, unsure, lock))
               for k in range(threads)]
    for w in workers:
        w.start()
    return workers, accepted, unsure, lock


def _join(workers):
    for w in workers:
        w.join(timeout=60)
    if any(w.is_alive() for w in workers):
        raise AssertionError("client threads did not stop")


def send_all(t, tag, rcpt, indexes, threads):
    """Sends messages `indexes` with `threads` senders; returns the set that
    got 250 and {index: error} for the others."""
    workers, accepted, unsure, lock = _start(t, tag, rcpt, list(indexes), threads)
    _join(workers)
    return set(accepted), dict(unsure)


def send_then_kill(t, tag, rcpt, n, threads, kill_after, limit=90):
    workers, accepted, unsure, lock = _start(t, tag, rcpt, list(range(n)), threads)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with lock:
            done = len(accepted)
        if done >= kill_after or not any(w.is_alive() for w in workers):
            break
        time.sleep(0.005)
    t.kill9()
    at_kill = t.queue_files("active")
    _join(workers)
    with lock:
        return set(accepted), dict(unsure), at_kill
