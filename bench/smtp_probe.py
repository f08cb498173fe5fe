#!/usr/bin/python3
"""bench/smtp_probe.py — SMTP latency probe for bench/queue_scale.sh (not a benchmark).

Runs complete small transactions against HOST:PORT for SECONDS seconds, one after the
other, PAUSE seconds apart: connect, 220, EHLO, MAIL FROM, RCPT TO, DATA, a 3-line
message, QUIT. Each transaction is timed from connect() to the reply to QUIT
(time.perf_counter). Prints one line:
    n=COUNT errors=E p50=MS p99=MS max=MS mean=MS
(milliseconds; errors are transactions that raised or got an unexpected reply: they
are counted, their time is not). With --out FILE, also writes every latency (ms), one a
line. A transaction that takes longer than 30 s counts as an error.

Usage: smtp_probe.py HOST PORT SECONDS RCPT [--pause 0.02] [--out FILE]
"""
import argparse
import smtplib
import sys
import time


def percentile(sorted_values, p):
    """Nearest-rank percentile (p in 0..100) of a sorted, non-empty list."""
    k = max(0, min(len(sorted_values) - 1, int(-(-p * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


def transaction(host, port, rcpt, serial):
    msg = ("From: probe@example.test\r\nTo: %s\r\nSubject: probe %d\r\n\r\nprobe\r\n" % (rcpt, serial))
    t0 = time.perf_counter()
    s = smtplib.SMTP(timeout=30)
    try:
        code, _ = s.connect(host, port)
        if code != 220:
            raise smtplib.SMTPException("greeting %d" % code)
        code, _ = s.ehlo("probe.example.test")
        if code != 250:
            raise smtplib.SMTPException("EHLO %d" % code)
        s.sendmail("probe@example.test", [rcpt], msg)   # raises unless 250s
        code, _ = s.docmd("QUIT")
        if code != 221:
            raise smtplib.SMTPException("QUIT %d" % code)
    finally:
        s.close()
    return (time.perf_counter() - t0) * 1000.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("seconds", type=float)
    ap.add_argument("rcpt")
    ap.add_argument("--pause", type=float, default=0.02)
    ap.add_argument("--out")
    a = ap.parse_args()
    lat, errors, first_error = [], 0, ""
    end = time.monotonic() + a.seconds
    serial = 0
    while time.monotonic() < end and serial < 1_000_000:
        serial += 1
        try:
            lat.append(transaction(a.host, a.port, a.rcpt, serial))
        except (OSError, smtplib.SMTPException) as e:
            errors += 1
            first_error = first_error or repr(e)
        time.sleep(a.pause)
    if a.out:
        with open(a.out, "w") as f:
            f.writelines("%.3f\n" % v for v in lat)
    if not lat:
        print("n=0 errors=%d first_error=%s" % (errors, first_error))
        return 1
    s = sorted(lat)
    print("n=%d errors=%d p50=%.2f p99=%.2f max=%.2f mean=%.2f%s" % (
        len(s), errors, percentile(s, 50), percentile(s, 99), s[-1], sum(s) / len(s),
        (" first_error=" + first_error.replace(" ", "_")) if errors else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
