#!/usr/bin/python3
# Computes SRS test vectors independently of tern's C++ code, from the
# algorithm as libsrs2 (and postsrsd, which carries it) defines it: the hash is
# the first 4 characters of URL-safe base64 of HMAC-SHA1(secret, the fields
# concatenated, each ASCII-lowercased); the timestamp is the day number mod
# 1024 as two base32 characters. srs_test.cpp holds the output; rerun with
#   /usr/bin/python3 src/srs/srs_vectors.py
import base64
import hashlib
import hmac

B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def lower(s):
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in s)


def hash4(secret, *fields):
    data = "".join(lower(f) for f in fields).encode()
    mac = hmac.new(secret.encode(), data, hashlib.sha1).digest()
    return base64.urlsafe_b64encode(mac).decode()[:4]


def stamp(now):
    day = (now // 86400) % 1024
    return B32[day >> 5] + B32[day & 31]


def srs0(secret, now, local, domain, srs_domain):
    tt = stamp(now)
    return f"SRS0={hash4(secret, tt, domain, local)}={tt}={domain}={local}@{srs_domain}"


def srs1(secret, first_domain, srs0_local, srs_domain):
    rest = srs0_local[4:]  # from the separator after "SRS0" on
    return f"SRS1={hash4(secret, first_domain, rest)}={first_domain}={rest}@{srs_domain}"


if __name__ == "__main__":
    # postsrsd's own unit test (tests/unit/test_srs2.c) expects
    # SRS0=vmyz=2W=otherdomain.com=test@example.com: a check on this script.
    print(srs0("tops3cr3t", 1577836860, "test", "otherdomain.com", "example.com"))
    secret = "tern-srs-test-secret"
    now = 1700000000  # 2023-11-14 22:13:20 UTC
    print(srs0(secret, now, "alice", "example.org", "srs.example.net"))
    print(srs0(secret, now, "Bob.Smith", "Example.COM", "srs.example.net"))
    print(srs0(secret, now, "a=b+c", "example.org", "srs.example.net"))
    print(srs0(secret, 0, "x", "example.org", "srs.example.net"))
    print(srs1(secret, "fwd1.example", "SRS0=AbCd=XY=example.org=carol", "srs.example.net"))
    print(srs1(secret, "fwd1.example", "SRS0+AbCd=XY=example.org=carol", "srs.example.net"))
    # Quoted local parts: the fields hold the content, the result is quoted
    # again (local_part.h); printed here unquoted.
    print(srs0(secret, now, "a b", "example.org", "srs.example.net"))
    print(srs0(secret, now, 'a@b"c', "example.org", "srs.example.net"))
