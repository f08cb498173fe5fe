"""The DNS of t-36: the test zone served by dnsmasq on 127.0.0.1, the DKIM
keys whose public halves it publishes, a UDP "black hole" for the zone that
never answers, and dnspython pointed at that dnsmasq (pyspf, dkimpy and
authheaders all resolve through dnspython's default resolver).

    zone = Zone(directory)       # keys made, dnsmasq started
    zone.port, zone.keys["rsa"].private, zone.stop()
"""
import base64
import os
import socket
import subprocess
import sys
import time

import dns.resolver
import nacl.encoding
import nacl.signing

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ternlib  # noqa: E402

# Every name is under .test (RFC 2606); .test is not in the Public Suffix
# List, so by its default rule "*" each <name>.test is its own
# organizational domain (libpsl: registrable_domain("news.sender.test") ==
# "sender.test").

SPF = {
    # domain: SPF record strings (a list: several strings of one record)
    "sender.test": ["v=spf1 ip4:127.0.0.1 -all"],
    "pass.test": ["v=spf1 ip4:127.0.0.0/8 -all"],
    "fail.test": ["v=spf1 ip4:192.0.2.1 -all"],
    "softfail.test": ["v=spf1 ip4:192.0.2.1 ~all"],
    "neutral.test": ["v=spf1 ?all"],
    "include.test": ["v=spf1 include:pass.test -all"],
    "include-miss.test": ["v=spf1 include:fail.test ~all"],
    "include-none.test": ["v=spf1 include:nospf.test -all"],
    "redirect.test": ["v=spf1 redirect=sender.test"],
    "redirect-fail.test": ["v=spf1 ip4:192.0.2.9 redirect=fail.test"],
    "a.test": ["v=spf1 a -all"],
    "a-other.test": ["v=spf1 a:far.a-other.test -all"],
    "mx.test": ["v=spf1 mx -all"],
    "mx-other.test": ["v=spf1 mx:mx.test/32 mx:far.a-other.test ?all"],
    "exists.test": ["v=spf1 exists:%{i}.ip.exists.test -all"],
    "split.test": ["v=spf1 ip4:192.0.2.1 ", "ip4:127.0.0.1 -all"],
    "syntax.test": ["v=spf1 ipv4:127.0.0.1 -all"],
    "bad-ip.test": ["v=spf1 ip4:127.0.0.300 -all"],
    "twospf.test": ["v=spf1 -all"],            # and a second record below
    "mail.relaxed.test": ["v=spf1 ip4:127.0.0.1 -all"],
    "mail.strict.test": ["v=spf1 ip4:127.0.0.1 -all"],
    "reject.test": ["v=spf1 ip4:192.0.2.1 -all"],
    "sub.parent.test": ["v=spf1 ip4:192.0.2.1 -all"],
}
EXTRA_TXT = [
    ("twospf.test", ["v=spf1 +all"]),
    ("txt-only.test", ["hello world"]),
]
HOSTS = {
    "a.test": "127.0.0.1",
    "far.a-other.test": "192.0.2.7",
    "mail.mx.test": "127.0.0.1",
    "nospf.test": "192.0.2.9",
    "127.0.0.1.ip.exists.test": "127.0.0.2",
}
MX = [("mx.test", "mail.mx.test", 10)]

DMARC = {
    "sender.test": "v=DMARC1; p=reject",
    "reject.test": "v=DMARC1; p=reject",
    "none.test": "v=DMARC1; p=none",
    "pass.test": "v=DMARC1; p=quarantine",
    "relaxed.test": "v=DMARC1; p=reject",
    "strict.test": "v=DMARC1; p=reject; adkim=s; aspf=s",
    "parent.test": "v=DMARC1; p=none; sp=reject",
}

# DKIM key records: (selector, domain) -> key name in Zone.keys, or a
# literal record for the odd ones.
DKIM_KEYS = {
    ("rsa", "sender.test"): "rsa",
    ("ed", "sender.test"): "ed",
    ("perl", "sender.test"): "rsa",
    ("rsa", "other.test"): "rsa",
    ("rsa", "mail.relaxed.test"): "rsa",
    ("rsa", "mail.strict.test"): "rsa",
    ("rsa", "none.test"): "rsa",
}
DKIM_LITERAL = {
    ("revoked", "sender.test"): "v=DKIM1; k=rsa; p=",
}

# The zone dnsmasq forwards to a server that never answers.
SLOW_ZONE = "slow.test"


class Key:
    def __init__(self, algorithm, private, record):
        self.algorithm = algorithm  # "rsa-sha256" / "ed25519-sha256"
        self.private = private      # what dkim.sign() takes
        self.record = record        # the TXT record text
        self.pem_path = None        # the RSA PEM file (for Mail::DKIM)


def make_keys(directory):
    """A 2048-bit RSA key (openssl) and an Ed25519 key (python3-nacl),
    made fresh for this run."""
    pem = directory / "rsa.pem"
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(pem), "2048"],
                   check=True, capture_output=True, timeout=60)
    der = subprocess.run(["openssl", "rsa", "-in", str(pem), "-pubout", "-outform", "DER"],
                         check=True, capture_output=True, timeout=60).stdout
    rsa = Key("rsa-sha256", pem.read_bytes(),
              "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode("ascii"))
    rsa.pem_path = pem
    signing = nacl.signing.SigningKey.generate()
    ed = Key("ed25519-sha256", signing.encode(encoder=nacl.encoding.Base64Encoder),
             "v=DKIM1; k=ed25519; p="
             + signing.verify_key.encode(encoder=nacl.encoding.Base64Encoder).decode("ascii"))
    return {"rsa": rsa, "ed": ed}


def txt_option(name, strings):
    """dnsmasq's --txt-record: the strings of one record separated by
    commas. A string is at most 255 octets (RFC 1035 3.3.14), so a long
    record (a 2048-bit RSA key) is cut into several; SPF and DKIM join them
    with nothing between (RFC 7208 3.3, RFC 6376 3.6.2.2)."""
    parts = []
    for s in strings:
        assert "," not in s and '"' not in s, s
        parts += [s[i:i + 250] for i in range(0, len(s), 250)] or [""]
    return f"--txt-record={name}," + ",".join(parts)


class Zone:
    def __init__(self, directory):
        self.dir = directory
        self.keys = make_keys(directory)
        # Where slow.test is "served": a bound UDP socket nobody reads.
        self.black_hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.black_hole.bind(("127.0.0.1", 0))
        self.proc = None
        self.port = None
        self._start()
        self.resolver = dns.resolver.Resolver(configure=False)
        self.resolver.nameservers = ["127.0.0.1"]
        self.resolver.port = self.port
        self.resolver.timeout = 2.0
        self.resolver.lifetime = 2.0
        # pyspf (spf.DNSLookup_dnspython), dkimpy (dkim.dnsplug) and
        # authheaders (dmarc_lookup.dns_query) call dns.resolver.query /
        # resolve, which use this default resolver: never the system one.
        dns.resolver.default_resolver = self.resolver

    def options(self):
        out = []
        for name, strings in SPF.items():
            out.append(txt_option(name, strings))
        for name, strings in EXTRA_TXT:
            out.append(txt_option(name, strings))
        for name, record in DMARC.items():
            out.append(txt_option("_dmarc." + name, [record]))
        for (selector, domain), key in DKIM_KEYS.items():
            out.append(txt_option(f"{selector}._domainkey.{domain}", [self.keys[key].record]))
        for (selector, domain), record in DKIM_LITERAL.items():
            out.append(txt_option(f"{selector}._domainkey.{domain}", [record]))
        for name, address in HOSTS.items():
            out.append(f"--host-record={name},{address}")
        for name, host, pref in MX:
            out.append(f"--mx-host={name},{host},{pref}")
        hole = self.black_hole.getsockname()[1]
        out.append(f"--server=/{SLOW_ZONE}/127.0.0.1#{hole}")
        return out

    def _start(self):
        for _attempt in range(3):
            self.port = ternlib.free_port()
            with open(self.dir / "dnsmasq.log", "ab") as log:
                self.proc = subprocess.Popen(
                    ["dnsmasq", "--no-daemon", f"--port={self.port}", "--listen-address=127.0.0.1",
                     "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                     "--local=/test/", "--log-facility=/dev/null", "--cache-size=0",
                     *self.options()],
                    stdout=subprocess.DEVNULL, stderr=log, preexec_fn=ternlib._die_with_parent)
            if self._answers():
                return
            self.stop()
        raise AssertionError("dnsmasq did not start")

    def _answers(self, timeout=10.0):
        """Waits (bounded) until dnsmasq answers a query for the zone."""
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = ["127.0.0.1"]
        r.port = self.port
        r.lifetime = 0.5
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                r.resolve("sender.test", "TXT")
                return True
            except Exception:
                time.sleep(0.05)
        return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def close(self):
        self.stop()
        self.black_hole.close()
