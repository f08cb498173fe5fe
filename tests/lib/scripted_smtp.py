#!/usr/bin/python3
"""A scripted SMTP server (aiosmtpd) for tests of tern's outbound delivery.

Replies by recipient local part: temp* → 451 4.3.0, perm* → 550 5.1.1,
drop* → the connection is closed at once (a peer vanishing mid-transaction);
any other → 250. Accepted messages are written to --dump DIR, one file each
(envelope lines, an empty line, the content). Listens on 127.0.0.1, on
--port or a free port, prints the port on the first line of stdout, and stops
by itself after --lifetime seconds (default 120) or on SIGTERM. With
--tls-cert and --tls-key it offers STARTTLS; each dump then says "tls yes" or
"tls no". Each dump also says which connection carried it ("connection N",
numbered from 1) and how many connections were open when it arrived
("concurrent N"); --delay SECONDS holds each reply to DATA that long, so
that a client's connections overlap. --auth USER:PASSWORD offers AUTH (PLAIN
and LOGIN, or only --auth-mechanism; after STARTTLS) and each dump says
"auth USER" or "auth none"; --implicit-tls speaks TLS from the first byte
(port 465 style, RFC 8314) instead of offering STARTTLS.
"""
import argparse
import asyncio
import os
import signal
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult


class CountingSMTP(SMTP):
    """Numbers the connections and counts those open."""
    opened = 0
    open_now = 0

    connection_number = 0  # per instance once counted

    def connection_made(self, transport):
        # Called again for the TLS transport after STARTTLS: count once.
        if not self.connection_number:
            CountingSMTP.opened += 1
            CountingSMTP.open_now += 1
            self.connection_number = CountingSMTP.opened
            self.counted_open = True
        super().connection_made(transport)

    def connection_lost(self, exc):
        if getattr(self, "counted_open", False):
            CountingSMTP.open_now -= 1
            self.counted_open = False
        super().connection_lost(exc)


class CountingController(Controller):
    def factory(self):
        return CountingSMTP(self.handler, **self.SMTP_kwargs)


class Handler:
    def __init__(self, dump, delay):
        self.dump = dump
        self.delay = delay
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("temp"):
            return "451 4.3.0 Try again later"
        if local.startswith("perm"):
            return "550 5.1.1 No such user here"
        if local.startswith("drop"):
            server.transport.abort()
            return "421 4.4.2 gone"  # never seen: the connection is closed
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        number = self.count  # others may arrive during the delay
        concurrent = CountingSMTP.open_now
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.dump:
            # Written under a dot name, then renamed: a reader never sees
            # half a file (readers skip dot names).
            name = f"msg-{os.getpid()}-{number}"
            path = os.path.join(self.dump, "." + name)
            with open(path, "wb") as f:
                f.write(f"from {envelope.mail_from}\n".encode())
                # session.ssl is set by STARTTLS only; implicit TLS shows in the transport.
                tls = session.ssl or server.transport.get_extra_info("ssl_object")
                f.write(f"tls {'yes' if tls else 'no'}\n".encode())
                f.write(f"connection {server.connection_number}\n".encode())
                f.write(f"concurrent {concurrent}\n".encode())
                login = getattr(session.auth_data, "login", None)
                f.write(f"auth {login.decode() if login else 'none'}\n".encode())
                for r in envelope.rcpt_tos:
                    f.write(f"rcpt {r}\n".encode())
                f.write(b"\n" + envelope.original_content)
            os.rename(path, os.path.join(self.dump, name))
        return "250 2.0.0 Queued"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--dump", default="")
    p.add_argument("--lifetime", type=float, default=120)
    p.add_argument("--delay", type=float, default=0)
    p.add_argument("--auth", default="", help="USER:PASSWORD: offer AUTH and accept only these")
    p.add_argument("--auth-mechanism", default="", help="offer only this one (PLAIN or LOGIN)")
    p.add_argument("--implicit-tls", action="store_true")
    p.add_argument("--tls-cert", default="")
    p.add_argument("--tls-key", default="")
    p.add_argument("--tls-broken", action="store_true",
                   help="offer STARTTLS but speak only TLS 1.1 (tern needs 1.2): the handshake fails")
    a = p.parse_args()
    port = a.port
    if port == 0:
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
    kwargs = {"decode_data": False}
    if a.tls_cert:
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(a.tls_cert, a.tls_key)
        if a.tls_broken:
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        if not a.implicit_tls:
            kwargs["tls_context"] = context
    if a.auth:
        user, password = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, data):
            ok = data.login == user.encode() and data.password == password.encode()
            return AuthResult(success=ok, handled=False, auth_data=data)
        kwargs["authenticator"] = authenticator
        # Implicit TLS is TLS from the start: AUTH may be offered at once.
        kwargs["auth_require_tls"] = not a.implicit_tls
        if a.auth_mechanism:
            kwargs["auth_exclude_mechanism"] = [m for m in ("PLAIN", "LOGIN") if m != a.auth_mechanism]
    controller = CountingController(Handler(a.dump, a.delay), hostname="127.0.0.1", port=port, server_kwargs=kwargs,
                                    ssl_context=context if a.implicit_tls else None)
    controller.start()
    print(port, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        signal.sigtimedwait([signal.SIGINT], a.lifetime)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
