"""Fixtures for the tests of notifications, the scheduled jobs and the scheduler.

The ``app`` fixture here overrides the root one for this directory: it registers the
notifications blueprint and the ``scheduler`` command group on the test app when the app
factory does not do so (yet); once it does, the registration is skipped. Helpers (users,
draws, the SMTP server, ``d``) are in tests/support/jobs.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask

from kontroll.db import get_database
from tests.support.app import make_test_app
from tests.support.jobs import SmtpHandler, SmtpServer, ThreadingServer, register_notifications


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    app = register_notifications(make_test_app(database_url))
    yield app
    get_database(app).engine.dispose()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """An SMTP server on 127.0.0.1 that keeps what it receives (enough SMTP for smtplib)."""
    server = ThreadingServer(("127.0.0.1", 0), SmtpHandler)
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
