"""Helpers for tests of notifications, the scheduled jobs and the scheduler: the
notifications blueprint and ``scheduler`` commands on a test app, users and draws to notify,
a tiny SMTP server (started by the ``smtp_server`` fixture in tests/jobs/conftest.py), a
closed port, and ``d("2026-12-07")`` for a date."""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import socket
import socketserver
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from kontroll.cases.services import import_file
from kontroll.core import users as user_svc
from kontroll.core.models import Role, Unit, User
from kontroll.db import utcnow
from kontroll.sampling.models import Draw
from kontroll.sampling.services import run_draw
from tests.support.app import PASSWORD


def register_notifications(app: Flask) -> Flask:
    from kontroll.core.notification_views import bp
    from kontroll.scheduler import scheduler_cli

    if "notifications" not in app.blueprints:
        app.register_blueprint(bp)
    if "scheduler" not in app.cli.commands:
        app.cli.add_command(scheduler_cli)
    return app


def add_user(session: Session, username: str, role: Role, unit: Unit | None, *, email: str | None = None) -> User:
    user = user_svc.create_user(session, "test", username=username, full_name=username.title(),
                                password=PASSWORD, email=email)
    user_svc.add_role(session, "test", user, role, unit)
    session.commit()
    return user


def add_draw(session: Session, unit: Unit, period: str, drawer: User, *, voided: bool = False) -> Draw:
    """A real draw for ``unit`` and ``period`` (through the draw service) from a three-case
    list; ``voided=True`` then voids it the way a redraw does, leaving no valid draw."""
    import_file(session, drawer, unit, "Ärendenummer;Handläggare\r\nEB-1;Anna\r\nEB-2;Anna\r\nEB-3;Bo\r\n".encode(),
                "x.csv", source="cli")
    draw = run_draw(session, drawer, unit, period)
    if voided:
        draw.voided_dt = utcnow()
        draw.voided_by_id = drawer.id
        draw.void_reason = "Testet makulerar stickprovet."
    session.commit()
    return draw


# --- a tiny SMTP server --------------------------------------------------------------------


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_to: list[str]
    data: bytes

    @property
    def message(self) -> Any:
        return email.message_from_bytes(self.data, policy=email.policy.default)


@dataclass
class SmtpServer:
    host: str
    port: int
    received: list[ReceivedMail] = field(default_factory=list)
    #: RCPT TO addresses containing this are refused with 550
    refuse: str = "avvisad"
    #: seconds to wait before accepting each message (a slow server)
    delay: float = 0.0
    #: offer STARTTLS with this context (None: plain SMTP only)
    tls_context: Any = None
    #: offer AUTH PLAIN and accept only these (user, password); after STARTTLS when it is offered
    credentials: tuple[str, str] | None = None
    #: what happened on the last connection
    tls_used: bool = False
    logged_in: str | None = None


class SmtpHandler(socketserver.StreamRequestHandler):
    timeout = 10

    def _reply(self, text: str) -> None:
        self.wfile.write(text.encode("ascii") + b"\r\n")

    def handle(self) -> None:
        state: SmtpServer = self.server.state  # type: ignore[attr-defined]
        self._reply("220 localhost kontroll-test ESMTP")
        mail_from, rcpts = "", []
        tls = False
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.decode("ascii", "replace").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                offers = ["localhost", "8BITMIME"]
                if state.tls_context is not None and not tls:
                    offers.append("STARTTLS")
                if state.credentials and (tls or state.tls_context is None):
                    offers.append("AUTH PLAIN")
                self.wfile.write("".join(f"250{'-' if i < len(offers) - 1 else ' '}{o}\r\n"
                                         for i, o in enumerate(offers)).encode("ascii"))
            elif verb == "STARTTLS" and state.tls_context is not None and not tls:
                self._reply("220 ready to start TLS")
                self.request = state.tls_context.wrap_socket(self.request, server_side=True)
                self.rfile = self.request.makefile("rb")
                self.wfile = socketserver._SocketWriter(self.request)  # type: ignore[attr-defined]
                tls = state.tls_used = True
            elif verb == "AUTH":
                parts = command.split()
                user = password = ""
                if len(parts) == 3 and parts[1].upper() == "PLAIN":
                    _authz, user, password = base64.b64decode(parts[2]).decode("utf-8").split("\0")
                if state.credentials and (user, password) == state.credentials and (tls or state.tls_context is None):
                    state.logged_in = user
                    self._reply("235 2.7.0 authenticated")
                else:
                    self._reply("535 5.7.8 authentication failed")
            elif verb == "HELO":
                self._reply("250 localhost")
            elif verb == "MAIL" and state.credentials and state.logged_in is None:
                self._reply("530 5.7.0 authentication required")
            elif verb == "MAIL":
                mail_from, rcpts = command.split(":", 1)[1].strip().strip("<>").split(">")[0], []
                self._reply("250 OK")
            elif verb == "RCPT":
                address = command.split(":", 1)[1].strip().strip("<>")
                if state.refuse in address:
                    self._reply("550 no such user")
                else:
                    rcpts.append(address)
                    self._reply("250 OK")
            elif verb == "DATA":
                self._reply("354 go ahead")
                lines = []
                while True:
                    data_line = self.rfile.readline()
                    if data_line in (b".\r\n", b".\n", b""):
                        break
                    lines.append(data_line[1:] if data_line.startswith(b"..") else data_line)
                if state.delay:
                    threading.Event().wait(state.delay)
                state.received.append(ReceivedMail(mail_from, rcpts, b"".join(lines)))
                self._reply("250 queued")
            elif verb in ("RSET", "NOOP"):
                self._reply("250 OK")
            elif verb == "QUIT":
                self._reply("221 bye")
                return
            else:
                self._reply("502 not implemented")


class ThreadingServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, written to ``directory``; the
    certificate is its own authority (a client trusts it through SMTP_CA_FILE)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def closed_port() -> int:
    """A local port nothing listens on (connecting is refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)
