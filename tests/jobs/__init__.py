"""Tests of notifications, the scheduled jobs and the scheduler.

Shared fixtures live here (this folder has no conftest.py); a test module imports the ones it
uses, e.g. ``from tests.jobs import app  # noqa: F401``. The ``app`` fixture registers the
notifications blueprint and the ``scheduler`` command group on the test app when the app
factory does not do so (yet); once it does, the registration here is skipped.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from kontroll.cases.services import import_file
from kontroll.core import users as user_svc
from kontroll.core.models import Role, Unit, User
from kontroll.db import get_database, utcnow
from kontroll.sampling.models import Draw
from kontroll.sampling.services import run_draw
from tests.conftest import PASSWORD, make_test_app


def register_notifications(app: Flask) -> Flask:
    from kontroll.core.notification_views import bp
    from kontroll.scheduler import scheduler_cli

    if "notifications" not in app.blueprints:
        app.register_blueprint(bp)
    if "scheduler" not in app.cli.commands:
        app.cli.add_command(scheduler_cli)
    return app


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    app = register_notifications(make_test_app(database_url))
    yield app
    get_database(app).engine.dispose()


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


class _SmtpHandler(socketserver.StreamRequestHandler):
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


class _ThreadingServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """An SMTP server on 127.0.0.1 that keeps what it receives (enough SMTP for smtplib)."""
    server = _ThreadingServer(("127.0.0.1", 0), _SmtpHandler)
    state = SmtpServer("127.0.0.1", server.server_address[1])
    server.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    """A local port nothing listens on (connecting is refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)
