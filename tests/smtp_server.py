"""A real SMTP server for the mail tests: Debian's python3-aiosmtpd (run with /usr/bin/python3),
with a handler that keeps every message it accepts as a file and answers some recipients as a
troubled server would.

    smtp_server.py --out DIR [--tls none|starttls|implicit --cert PEM --key PEM] [--auth USER:PASS]

Prints "READY <port>" once it listens on 127.0.0.1. Recipients whose local part starts with
"tam-thoi" get 451 the first time (then they are accepted); "hong" always gets 550. Each accepted
message is written to DIR/<n>.eml (n counts from 1), its envelope recipients in DIR/<n>.rcpt.
"""

import argparse
import asyncio
import os
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, out):
        self.out = out
        self.count = 0
        self.deferred = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if local.startswith("hong"):
            return "550 5.1.1 No such mailbox here"
        if local.startswith("tam-thoi") and address not in self.deferred:
            self.deferred.add(address)
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        n = self.count
        with open(os.path.join(self.out, f"{n}.eml"), "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(os.path.join(self.out, f"{n}.rcpt"), "w") as f:
            f.write("\n".join(envelope.rcpt_tos))
        return f"250 2.0.0 Ok: queued as {n}"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password:
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    return check


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--tls", default="none", choices=["none", "starttls", "implicit"])
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--auth")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    context = None
    if a.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(a.cert, a.key)
    kwargs = {}
    if a.auth:
        user, password = a.auth.split(":", 1)
        kwargs["authenticator"] = authenticator(user, password)
        kwargs["auth_required"] = True
        # aiosmtpd 1.4 counts only STARTTLS as TLS when it offers AUTH; with implicit TLS the
        # whole connection is encrypted already.
        kwargs["auth_require_tls"] = a.tls == "starttls"
    if a.tls == "starttls":
        kwargs["tls_context"] = context
        kwargs["require_starttls"] = True
    port = free_port()
    controller = Controller(
        Handler(a.out),
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        ssl_context=context if a.tls == "implicit" else None,
        **kwargs,
    )
    controller.start()
    print(f"READY {port}", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
