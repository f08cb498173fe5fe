"""tern with TLS listeners and SMTP AUTH users, for the TLS/AUTH tests.

    t = TlsTern(cert=leaf.chain, key=leaf.key, accounts={"alice@example.test": "pw"},
                auth='[auth]\\nfailure_delay = "0"').start()
    t.ports["mx"], t.ports["submission"], t.ports["submissions"]

One loopback listener per role (mx: STARTTLS; submission: STARTTLS, AUTH
required; submissions: implicit TLS); the accounts are made with
`tern user add` (password on stdin) before the server starts.
"""
import subprocess

import ternlib

ROLES = ("mx", "submission", "submissions")


def user_command(config_path, *args, password=None):
    """`tern user ARGS --config CONFIG`, the password on stdin; raises on failure."""
    p = subprocess.run([ternlib.tern_bin(), "user", *args, "--config", str(config_path)],
                       input=(password + "\n").encode() if password is not None else b"",
                       capture_output=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"tern user {' '.join(args)}: exit {p.returncode}: "
                             f"{p.stderr.decode('utf-8', 'replace')}")
    return p


class TlsTern(ternlib.Tern):
    def __init__(self, cert, key, accounts, auth="", relay="", roles=ROLES, users=("alice", "bob"), **kw):
        self.cert_path = cert
        self.key_path = key
        self.auth_toml = auth
        self.relay_toml = relay
        self.roles = tuple(roles)
        self.accounts = dict(accounts)
        super().__init__(users=users, listeners=(), **kw)

    @property
    def port(self):
        return self.ports[self.roles[0]]

    def _pick_ports(self):
        self.ports = {role: ternlib.free_port() for role in self.roles}

    def config_text(self):
        out = [super().config_text(), "[tls]",
               f"certificate = {ternlib.toml_value(str(self.cert_path))}",
               f"key = {ternlib.toml_value(str(self.key_path))}", ""]
        if self.auth_toml:
            out += [self.auth_toml, ""]
        if self.relay_toml:
            out += [self.relay_toml, ""]
        for role in self.roles:
            out += ["[[listener]]", f'address = "127.0.0.1:{self.ports[role]}"', f'role = "{role}"', ""]
        return "\n".join(out)

    def start(self, timeout=30.0, new_ports=True):
        """Picks the ports once, writes the config, adds the accounts (first
        start only) and starts tern on those ports."""
        if not self.ports:
            self._pick_ports()
        self.write_config()
        for login, password in self.accounts.items():
            user_command(self.config_path, "add", login, password=password)
        self.accounts = {}
        return super().start(timeout=timeout, new_ports=False)
