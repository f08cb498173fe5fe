"""A private certificate authority for TLS tests, made with the openssl
command: a root CA, an intermediate CA signed by it, and server certificates
signed by the intermediate. A server's certificate file holds the chain (leaf,
then intermediate), so a client that trusts only the root verifies the
connection only when the server sends the whole chain.

    ca = TestCA(directory)
    leaf = ca.issue("one", "mx.example.test")   # leaf.cert, leaf.key, leaf.chain
    ca.root  # the root certificate, for a client's CAfile
"""

import subprocess
from pathlib import Path

_EXTENSIONS = """\
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[intermediate]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = @alt_names
"""


def openssl(*args, cwd=None, input=None):
    p = subprocess.run(["openssl", *args], cwd=cwd, input=input, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: "
                             f"{p.stderr.decode('utf-8', 'replace')}")
    return p.stdout


def new_key(path, kind="ec"):
    if kind == "ec":
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", str(path))
    else:
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                "-out", str(path))
    path.chmod(0o600)


def fingerprint(cert_pem_or_path):
    """SHA-256 fingerprint of the first certificate in a PEM file or text,
    as openssl prints it (AA:BB:...)."""
    data = cert_pem_or_path
    if isinstance(data, Path):
        data = data.read_bytes()
    if isinstance(data, str):
        data = data.encode("ascii")
    out = openssl("x509", "-noout", "-fingerprint", "-sha256", input=data).decode()
    return out.strip().split("=", 1)[1]


def der_fingerprint(der):
    """The same fingerprint of a DER certificate (ssl.getpeercert(True))."""
    import hashlib
    h = hashlib.sha256(der).hexdigest().upper()
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


class Leaf:
    def __init__(self, cert, key, chain, subject):
        self.cert = cert      # the leaf certificate alone
        self.key = key
        self.chain = chain    # leaf + intermediate: what a server is configured with
        self.subject = subject

    @property
    def fingerprint(self):
        return fingerprint(self.cert)


class TestCA:
    def __init__(self, directory, name="Tern Test"):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ext = self.dir / "extensions.cnf"
        self.ext.write_text(_EXTENSIONS, encoding="ascii")
        self.root_key = self.dir / "root.key"
        self.root = self.dir / "root.pem"
        self.int_key = self.dir / "intermediate.key"
        self.intermediate = self.dir / "intermediate.pem"
        self._serial = 1
        new_key(self.root_key)
        csr = self.dir / "root.csr"
        openssl("req", "-new", "-key", str(self.root_key), "-subj", f"/O={name}/CN={name} Root CA",
                "-out", str(csr))
        self._sign(csr, self.root, "root", ca=None)
        new_key(self.int_key)
        csr = self.dir / "intermediate.csr"
        openssl("req", "-new", "-key", str(self.int_key),
                "-subj", f"/O={name}/CN={name} Intermediate CA", "-out", str(csr))
        self._sign(csr, self.intermediate, "intermediate", ca=(self.root, self.root_key))

    def _sign(self, csr, out, section, ca, ext_file=None):
        self._serial += 1
        args = ["x509", "-req", "-in", str(csr), "-days", "2", "-sha256",
                "-set_serial", str(self._serial), "-extfile", str(ext_file or self.ext),
                "-extensions", section, "-out", str(out)]
        if ca is None:
            args += ["-signkey", str(self.root_key)]  # self-signed: the root
        else:
            args += ["-CA", str(ca[0]), "-CAkey", str(ca[1])]
        openssl(*args)

    def issue(self, name, *dns_names, key_kind="ec"):
        """A server certificate for dns_names (the first is the CN), signed
        by the intermediate; returns a Leaf."""
        key = self.dir / f"{name}.key"
        cert = self.dir / f"{name}.pem"
        chain = self.dir / f"{name}-chain.pem"
        new_key(key, key_kind)
        csr = self.dir / f"{name}.csr"
        subject = f"/CN={dns_names[0]}/O=Tern Test {name}"
        openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
        ext = self.dir / f"{name}.cnf"
        ext.write_text(_EXTENSIONS + "\n[alt_names]\n"
                       + "".join(f"DNS.{i + 1} = {n}\n" for i, n in enumerate(dns_names)),
                       encoding="ascii")
        self._sign(csr, cert, "server", ca=(self.intermediate, self.int_key), ext_file=ext)
        chain.write_bytes(cert.read_bytes() + self.intermediate.read_bytes())
        return Leaf(cert, key, chain, subject)
