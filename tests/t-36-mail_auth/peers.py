"""The real peers of t-36 and the references its results are compared with:

- signers: dkimpy (dkim.sign, RSA and Ed25519) and Mail::DKIM::Signer
  (perl, run as a child process);
- references, through the same dnsmasq (zone.Zone set dnspython's default
  resolver): pyspf's spf.check2, dkimpy's DKIM.verify, authheaders'
  dmarc_per_from (DMARC), python3-authres for parsing the
  Authentication-Results fields tern writes;
- reading a delivered Maildir file: its header fields, tern's
  Authentication-Results (exactly one, before tern's Received).
"""
import ctypes
import re
import subprocess

import authheaders
import authheaders.dmarc_lookup
import authres
import dkim
import spf
from authres import DKIMAuthenticationResult, SPFAuthenticationResult

# --------------------------------------------------------------------------
# signing

PERL_SIGNER = r"""
use strict;
use Mail::DKIM::Signer;
my ($key, $selector, $domain, $method) = @ARGV;
my $dkim = Mail::DKIM::Signer->new(Algorithm => "rsa-sha256", Method => $method,
    Domain => $domain, Selector => $selector, KeyFile => $key,
    Headers => "from:to:subject:date:message-id");
binmode STDIN;
local $/;
my $message = <STDIN>;
$dkim->PRINT($message);
$dkim->CLOSE;
binmode STDOUT;
print $dkim->signature->as_string, "\015\012";
"""


def dkimpy_sign(message, key, selector, domain, canon=(b"relaxed", b"relaxed"), length=False,
                headers=None):
    """The DKIM-Signature field (CRLF-terminated bytes) dkimpy makes for a
    CRLF message, with a zone.Key."""
    return dkim.sign(message, selector.encode(), domain.encode(), key.private,
                     canonicalize=canon, length=length,
                     signature_algorithm=key.algorithm.encode(),
                     include_headers=[h.encode() for h in headers] if headers else None)


def perl_sign(message, pem_path, selector, domain, method="relaxed"):
    """The DKIM-Signature field Mail::DKIM::Signer (perl) makes."""
    p = subprocess.run(["perl", "-e", PERL_SIGNER, str(pem_path), selector, domain, method],
                       input=message, capture_output=True, timeout=60)
    if p.returncode != 0 or not p.stdout.startswith(b"DKIM-Signature:"):
        raise AssertionError(f"Mail::DKIM::Signer failed: {p.stderr.decode('utf-8', 'replace')}")
    field = p.stdout
    # as_string folds with a bare LF (as a Unix program would); on the
    # wire every line ends in CRLF.
    return re.sub(rb"\r?\n", b"\r\n", field)


# --------------------------------------------------------------------------
# references

def pyspf(mail_from, helo, ip="127.0.0.1"):
    """pyspf's (result, explanation) for the MAIL FROM (or, for <>,
    postmaster@HELO), asking dnsmasq through dnspython."""
    return spf.check2(i=ip, s=mail_from, h=helo, querytime=3)


def dkimpy_verify(message):
    """dkimpy's verdict for each DKIM-Signature of a message, in order:
    a list of booleans."""
    d = dkim.DKIM(message, minkey=1024)
    headers = [h for h in d.headers if h[0].lower() == b"dkim-signature"]
    out = []
    for i in range(len(headers)):
        try:
            out.append(bool(d.verify(idx=i)))
        except Exception:  # DKIMException; nacl's ValueError for an RSA b= on an Ed25519 key
            out.append(False)
    return out


_libpsl = ctypes.CDLL("libpsl.so.5")
_libpsl.psl_latest.restype = ctypes.c_void_p
_libpsl.psl_latest.argtypes = [ctypes.c_char_p]
_libpsl.psl_registrable_domain.restype = ctypes.c_char_p
_libpsl.psl_registrable_domain.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_psl = _libpsl.psl_latest(None)


def org_domain(domain):
    """The organizational domain (RFC 7489 3.2) by libpsl, the Public
    Suffix List's reference library. authheaders' own get_org_domain
    (publicsuffix2 2.2019) answers "test" for every name under .test (a TLD
    the list does not name, where the list's default rule "*" makes
    "sender.test" the registrable domain), which would align every .test
    domain with every other: it is replaced by this one."""
    r = _libpsl.psl_registrable_domain(_psl, domain.lower().encode())
    return r.decode() if r else domain.lower()


authheaders.dmarc_lookup.get_org_domain = org_domain
authheaders.get_org_domain = org_domain


def authheaders_dmarc(from_domain, spf_result, spf_mailfrom, dkim_passing_domains):
    """authheaders' DMARC (result, policy) for a From domain, given the SPF
    result of the MAIL FROM identity and the d= of the DKIM signatures that
    passed: "pass" when any of them aligns. policy is p= (or sp=) as
    authheaders reads it, "" without a record."""
    spf_res = SPFAuthenticationResult(result=spf_result, smtp_mailfrom=spf_mailfrom)
    results = []
    for d in dkim_passing_domains or [None]:
        dkim_res = DKIMAuthenticationResult(result="pass", header_d=d) if d else None
        result, _comment, _from, policy = authheaders.dmarc_per_from(
            from_domain, spf_res, dkim_res, dnsfunc=None)
        results.append((result, policy))
    for r in results:
        if r[0] == "pass":
            return r
    return results[0]


# --------------------------------------------------------------------------
# delivered messages

def header_fields(content):
    """The header fields of a stored message (LF line ends), folded lines
    kept: a list of (lowercase name, whole field text)."""
    head = content.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    fields = []
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1][1] += "\n" + line
        else:
            fields.append([line.split(":", 1)[0].strip().lower(), line])
    return [tuple(f) for f in fields]


class AuthResults:
    """tern's Authentication-Results, parsed by python3-authres."""

    def __init__(self, field):
        self.field = field
        self.parsed = authres.AuthenticationResultsHeader.parse(field)

    @property
    def authserv_id(self):
        return self.parsed.authserv_id

    def method(self, name):
        return [r for r in self.parsed.results if r.method == name]

    def one(self, name):
        found = self.method(name)
        if len(found) != 1:
            raise AssertionError(f"expected one {name}= result in {self.field!r}")
        return found[0]

    @staticmethod
    def prop(result, ptype, name):
        for p in result.properties:
            if p.type == ptype and p.name == name:
                return p.value
        return None


def authentication_results(content, hostname):
    """The Authentication-Results fields of a delivered message, split by
    the authserv-id authres reads: (ours parsed, others' text). Asserts
    that every one parses and that the first of ours (authserv-id ==
    hostname: tern's own; a second would be a forged one left in) comes
    before tern's Received field."""
    fields = header_fields(content)
    ours, others = [], []
    for i, (name, text) in enumerate(fields):
        if name != "authentication-results":
            continue
        try:
            parsed = AuthResults(text)
        except Exception as e:  # authres raises its own SyntaxError and others
            raise AssertionError(f"authres cannot parse {text!r}: {e!r}")
        if parsed.authserv_id.lower() == hostname.lower():
            ours.append((i, parsed))
        else:
            others.append(text)
    received = [i for i, (name, text) in enumerate(fields)
                if name == "received" and f"by {hostname} (tern)" in text]
    if ours and (not received or ours[0][0] > received[0]):
        raise AssertionError(f"tern's Authentication-Results is not before its Received: {fields}")
    return [p for _i, p in ours], others
