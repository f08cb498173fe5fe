"""t-37's peers and helpers: the keys and their DNS records, tern dkim keygen,
sending through tern, reading DKIM-Signature fields, and verifying with
dkimpy, Mail::DKIM (mail_dkim_verify.pl) and python3-nacl."""
import base64
import hashlib
import os
import re
import shutil
import smtplib
import ssl
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402
import testca  # noqa: E402
import tlstern  # noqa: E402
from scripted import Scripted  # noqa: E402
from ternlib import Tern  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PERL_VERIFIER = os.path.join(HERE, "mail_dkim_verify.pl")

DOMAIN = "example.test"
RSA_SELECTOR = "rsa2048"
ED_SELECTOR = "ed2026"
FROM_LINE = b"From: Alice <alice@example.test>\r\n"
SERVER_NAME = "mx.example.test"
LOGIN = "alice@example.test"
PASSWORD = "dkim-Subm1ssion-pw"

# Corpus messages tern refuses at DATA by its input policy, before signing.
REFUSED = {
    "syn-line-too-long.eml": "a 1500-octet line: over the 998-octet limit of RFC 5322 2.1.1",
    "syn-bare-cr.eml": "a bare CR in the data (tern refuses bare CR/LF: SMTP smuggling)",
}
# The Ed25519 SubjectPublicKeyInfo: this prefix, then the 32-octet key.
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")

KEYS = None  # Keys, made in setUpModule


# --------------------------------------------------------------------------
# keys and their DNS records


def keygen(*args, cwd):
    """`tern dkim keygen ARGS` in cwd: (exit status, stdout, stderr)."""
    p = subprocess.run([ternlib.tern_bin(), "dkim", "keygen", *args], cwd=str(cwd),
                       capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def public_der(pem_path):
    return testca.openssl("pkey", "-in", str(pem_path), "-pubout", "-outform", "DER")


def record_from_key(pem_path):
    """The TXT record of a key file, made from `openssl pkey -pubout`."""
    der = public_der(pem_path)
    if der.startswith(ED25519_SPKI_PREFIX) and len(der) == len(ED25519_SPKI_PREFIX) + 32:
        return "v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:]).decode()
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


class Dns:
    """TXT records by name, for dkimpy (dnsfunc) and the perl verifier."""

    def __init__(self, records):
        self.records = {k.rstrip(".").lower(): v for k, v in records.items()}
        self.asked = []

    def dnsfunc(self, name, timeout=5):
        key = name.decode("ascii").rstrip(".").lower()
        self.asked.append(key)
        value = self.records.get(key)
        return value.encode("ascii") if value is not None else None

    def args(self):
        return [f"{k}={v}" for k, v in self.records.items()]


class Keys:
    def __init__(self, directory):
        self.dir = directory
        self.rsa = directory / "rsa.pem"
        self.ed = directory / "ed.pem"
        for path, selector, kind in ((self.rsa, RSA_SELECTOR, "rsa"), (self.ed, ED_SELECTOR, "ed25519")):
            rc, out, err = keygen(DOMAIN, selector, "--type", kind, "--out", str(path), cwd=directory)
            if rc != 0:
                raise AssertionError(f"tern dkim keygen {kind}: exit {rc}: {err}")
        self.dns = Dns({f"{RSA_SELECTOR}._domainkey.{DOMAIN}": record_from_key(self.rsa),
                        f"{ED_SELECTOR}._domainkey.{DOMAIN}": record_from_key(self.ed)})

    def toml(self):
        """Both selectors for example.test, side by side (RSA first)."""
        return ("[dkim]\nverify = false\n"
                f'[[dkim."{DOMAIN}"]]\nselector = "{RSA_SELECTOR}"\nkey = "{self.rsa}"\n'
                f'[[dkim."{DOMAIN}"]]\nselector = "{ED_SELECTOR}"\nkey = "{self.ed}"\n')


def setUpModule():
    global KEYS
    for tool in ("openssl", "perl"):
        if not shutil.which(tool):
            raise unittest.SkipTest(f"{tool} is not installed")
    for module in ("dkim", "nacl"):
        try:
            __import__(module)
        except ImportError:
            raise unittest.SkipTest(f"python3 module {module} is not installed (scripts/deps.sh)")
    if subprocess.run(["perl", "-MMail::DKIM::Verifier", "-e", "1"], capture_output=True).returncode:
        raise unittest.SkipTest("Mail::DKIM is not installed (libmail-dkim-perl)")
    KEYS = Keys(ternlib.make_tempdir("tern-dkim-keys-"))


# --------------------------------------------------------------------------
# messages


def split_message(msg):
    """(header section without the empty line, body) of a CRLF message; a
    message without an empty line is all header."""
    i = msg.find(b"\r\n\r\n")
    if i < 0:
        return msg, b""
    return msg[:i + 2], msg[i + 4:]


def fields_of(head):
    """The header fields (name, whole field without the final CRLF) in order."""
    out = []
    for line in head.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and out:
            out[-1] += b"\r\n" + line
        else:
            out.append(line)
    return [(f.split(b":", 1)[0].strip().lower().decode("utf-8", "replace"), f) for f in out]


def tags_of(field):
    """The tag=value pairs of a DKIM-Signature field (whitespace removed)."""
    value = field.split(b":", 1)[1]
    tags = {}
    for part in value.split(b";"):
        name, eq, v = part.partition(b"=")
        if eq:
            tags[name.strip().decode()] = re.sub(rb"\s+", b"", v).decode("utf-8", "replace")
    return tags


def signatures(msg):
    head, _ = split_message(msg)
    return [tags_of(f) for n, f in fields_of(head) if n == "dkim-signature"]


def with_from(msg, from_line=FROM_LINE):
    """The message with its From field(s) replaced by from_line (the first;
    any other is removed), or from_line put on top when it has none."""
    head, rest = split_message(msg)
    found = False
    out = b""
    for name, field in fields_of(head):
        if name == "from":
            if not found:
                out += from_line
            found = True
        else:
            out += field + b"\r\n"
    if not found:
        out = from_line + out
    return out + (b"\r\n" + rest if b"\r\n\r\n" in msg else b"")


def crlf(stored):
    """A Maildir file (LF line ends) back in the CRLF form that was signed."""
    return stored.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def dkimpy_results(msg, dns=None):
    """dkimpy's verdict on each DKIM-Signature of msg, by index."""
    import dkim
    dns = dns or KEYS.dns

    def verify(i):
        try:
            return dkim.DKIM(msg).verify(idx=i, dnsfunc=dns.dnsfunc)
        except (dkim.DKIMException, ValueError):  # "body hash mismatch", a bad key: raised
            return False
    return [verify(i) for i in range(len(signatures(msg)))]


def perl_results(msg, workdir, dns=None):
    """Mail::DKIM::Verifier: [(selector, algorithm, result, detail)] per signature."""
    dns = dns or KEYS.dns
    path = workdir / f"perl-{time.monotonic_ns()}.eml"
    path.write_bytes(msg)
    try:
        p = subprocess.run(["perl", PERL_VERIFIER, str(path), *dns.args()], capture_output=True,
                           timeout=60)
    finally:
        path.unlink()
    if p.returncode != 0:
        raise AssertionError(f"mail_dkim_verify.pl: exit {p.returncode}: {p.stderr.decode()}")
    out = []
    for line in p.stdout.decode().splitlines():
        selector, algorithm, result, detail = (line.split(" ", 3) + [""])[:4]
        out.append((selector, algorithm, result, detail))
    return out


# A second, independent Ed25519 check (Mail::DKIM 1.20230212 has no
# ed25519-sha256): RFC 6376 3.4.2 / 3.4.4 relaxed canonicalization, 3.7 and
# 5.4.2 header selection (bottom-up, a missing instance adds nothing), and
# RFC 8463: Ed25519 over the SHA-256 of the header hash input.


def _relaxed_field(field):
    name, value = field.split(b":", 1)
    value = re.sub(rb"[ \t]+", b" ", value.replace(b"\r\n", b"")).strip(b" ")
    return name.rstrip(b" \t").lower() + b":" + value


def _relaxed_body(body):
    lines = body.split(b"\r\n")
    if lines and lines[-1] == b"":
        lines.pop()
    lines = [re.sub(rb"[ \t]+", b" ", line).rstrip(b" ") for line in lines]
    while lines and lines[-1] == b"":
        lines.pop()
    return b"".join(line + b"\r\n" for line in lines)


def nacl_verify_ed25519(msg, index, dns=None):
    """True when DKIM-Signature number `index` of msg is a valid
    ed25519-sha256 relaxed/relaxed signature, checked without dkimpy."""
    import nacl.exceptions
    import nacl.signing
    dns = dns or KEYS.dns
    head, body = split_message(msg)
    fields = fields_of(head)
    sig_fields = [f for n, f in fields if n == "dkim-signature"]
    sig = sig_fields[index]
    tags = tags_of(sig)
    if tags.get("a") != "ed25519-sha256" or tags.get("c") != "relaxed/relaxed":
        return False
    if base64.b64encode(hashlib.sha256(_relaxed_body(body)).digest()).decode() != tags["bh"]:
        return False
    record = dns.records.get(f"{tags['s']}._domainkey.{tags['d']}".lower())
    if record is None:
        return False
    key = base64.b64decode(re.search(r"p=([^;\s]*)", record).group(1))
    data = b""
    used = set()
    for name in tags["h"].split(":"):
        for j in range(len(fields) - 1, -1, -1):
            if j not in used and fields[j][0] == name.strip().lower():
                used.add(j)
                data += _relaxed_field(fields[j][1]) + b"\r\n"
                break
    unsigned = re.sub(rb"([;:][ \t\r\n]*b[ \t\r\n]*=)[^;]*", rb"\1", sig, count=1)
    data += _relaxed_field(unsigned)
    try:
        nacl.signing.VerifyKey(key).verify(hashlib.sha256(data).digest(),
                                           base64.b64decode(tags["b"]))
        return True
    except nacl.exceptions.BadSignatureError:
        return False
