"""Helpers for tests of notifications, the scheduled jobs and the scheduler: the
notifications blueprint and ``scheduler`` commands on a test app, users and draws to notify,
a tiny SMTP server (started by the ``smtp_server`` fixture in tests/jobs/conftest.py), a
closed port, and ``d("2026-12-07")`` for a date."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
import socketserver
import threading
from dataclasses import dataclass, field
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


class SmtpHandler(socketserver.StreamRequestHandler):
    timeout = 10

    def _reply(self, text: str) -> None:
        self.wfile.write(text.encode("ascii") + b"\r\n")

    def handle(self) -> None:
        state: SmtpServer = self.server.state  # type: ignore[attr-defined]
        self._reply("220 localhost kontroll-test ESMTP")
        mail_from, rcpts = "", []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.decode("ascii", "replace").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-localhost\r\n250 8BITMIME\r\n")
            elif verb == "HELO":
                self._reply("250 localhost")
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


def closed_port() -> int:
    """A local port nothing listens on (connecting is refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)
