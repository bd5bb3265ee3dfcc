"""The database going away while people use kontroll: a Swedish 503 page, nothing
half-written, and recovery when the database is back, without restarting the app.

PostgreSQL: the app reaches the server through :class:`tests.support.proxy.TcpProxy`; cutting
the proxy kills every open connection and refuses new ones (a network failure, a server
restart). SQLite: another connection holds the write lock longer than the busy timeout
(shortened to 0.3 s here), the way a long migration, a ``VACUUM`` or a stuck process would;
every kontroll transaction begins with ``BEGIN IMMEDIATE`` and so cannot start.
"""

from __future__ import annotations

import io
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from kontroll import db as kontroll_db
from kontroll.cases.models import CaseListSnapshot, PendingImport, SnapshotCase
from kontroll.core.audit import verify_chain
from kontroll.core.models import AuditEntry
from kontroll.db import get_database
from tests.support.app import make_test_app
from tests.support.faults import ON_POSTGRES, pg_query, sqlite_path
from tests.support.proxy import TcpProxy
from tests.support.web import csrf_from, login

pytestmark = pytest.mark.faults

APP_NAME = "kontroll-fault-app"
CASE_LIST = (
    "Ärendenummer;Handläggare;Handläggarsignatur;Grupp\r\n"
    "EB-1;Anna A;ANAN;Grupp 1\r\nEB-2;Bo B;BOBO;Grupp 2\r\nEB-3;Anna A;ANAN;Grupp 1\r\n"
).encode("utf-8")
UNAVAILABLE = "Tjänsten är inte tillgänglig just nu"
#: none of this may reach the person in front of the screen
LEAKS = ("Traceback", "OperationalError", "psycopg", "sqlite3", "sqlalchemy", "SELECT ", "INSERT ", "database is locked",
         "Connection refused", "Internal Server Error")


@dataclass
class Outage:
    """The app under test and the switch that takes its database away."""

    app: Flask
    take_away: Callable[[], None]
    give_back: Callable[[], None]
    proxy: TcpProxy | None = None


@pytest.fixture
def outage(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Outage]:
    if ON_POSTGRES:
        url = make_url(database_url)
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
        proxied = url.set(host="127.0.0.1", port=proxy.port, query={**url.query, "application_name": APP_NAME})
        app = make_test_app(proxied.render_as_string(hide_password=False))
        state = Outage(app, proxy.cut, proxy.restore, proxy)
        try:
            yield state
        finally:
            get_database(app).engine.dispose()
            proxy.close()
        return
    monkeypatch.setattr(kontroll_db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    app = make_test_app(database_url)
    locker = sqlite3.connect(sqlite_path(database_url), timeout=5, isolation_level=None)

    def take_away() -> None:
        locker.execute("BEGIN IMMEDIATE")  # held until give_back()

    def give_back() -> None:
        locker.execute("ROLLBACK")

    try:
        yield Outage(app, take_away, give_back)
    finally:
        if locker.in_transaction:
            locker.execute("ROLLBACK")
        locker.close()
        get_database(app).engine.dispose()


def assert_swedish_503(response: Any) -> None:
    html = response.get_data(as_text=True)
    assert response.status_code == 503, html[:2000]
    assert response.mimetype == "text/html"
    assert '<html lang="sv">' in html
    assert UNAVAILABLE in html and "Databasen svarar inte för tillfället" in html
    assert "Ingenting av det du gjorde i det här steget har sparats" in html
    assert "Felkod 503" in html
    for leak in LEAKS:
        assert leak not in html, leak
    assert response.headers.get("Retry-After", "").isdigit()
    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def upload_preview(client: Any) -> str:
    """Upload a small case list and return the preview page (a PendingImport waits)."""
    token = csrf_from(client.get("/enheter/IFO-FS/arendelistor/ny").get_data(as_text=True))
    response = client.post(
        "/enheter/IFO-FS/arendelistor/ny",
        data={"csrf_token": token, "fil": (io.BytesIO(CASE_LIST), "lista.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def confirm(client: Any, preview: str) -> Any:
    action = re.search(r'action="(/enheter/IFO-FS/arendelistor/forhandsgranskning/[^"]+/bekrafta)"', preview)
    assert action, "no confirm form in the preview"
    return client.post(action.group(1), data={"csrf_token": csrf_from(preview)})


def state(db: Any) -> dict[str, int]:
    db.rollback()
    result = {
        "snapshots": db.scalar(select(func.count()).select_from(CaseListSnapshot)),
        "cases": db.scalar(select(func.count()).select_from(SnapshotCase)),
        "pending": db.scalar(select(func.count()).select_from(PendingImport)),
        "import_audit": db.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "caselist.import")
        ),
    }
    db.rollback()
    return result


def test_pages_answer_a_swedish_503_while_the_database_is_away_and_recover_when_it_returns(outage, world):
    client = outage.app.test_client()
    assert login(client, "forste").status_code == 302
    assert client.get("/").status_code == 200

    outage.take_away()
    try:
        for path in ("/", "/enheter/IFO-FS/arendelistor", "/meddelanden"):
            assert_swedish_503(client.get(path))
        # a visitor without a session (the login page stores a new anonymous session)
        assert_swedish_503(outage.app.test_client().get("/logga-in"))
        health = outage.app.test_client().get("/halsa")  # monitoring sends no cookie
        assert health.status_code == 503 and health.get_json() == {"status": "fel", "databas": "svarar inte"}
    finally:
        outage.give_back()

    # back without a restart, and still logged in: the session cookie was never dropped
    page = client.get("/")
    assert page.status_code == 200
    assert "Forste" in page.get_data(as_text=True)
    assert client.get("/halsa").status_code == 200


def test_a_post_refused_while_the_database_is_away_changed_nothing_and_can_be_sent_again(outage, world, db):
    client = outage.app.test_client()
    login(client, "forste")
    preview = upload_preview(client)
    before = state(db)
    assert before == {"snapshots": 0, "cases": 0, "pending": 1, "import_audit": 0}

    outage.take_away()
    try:
        assert_swedish_503(confirm(client, preview))
    finally:
        outage.give_back()

    assert state(db) == before  # the preview still waits; nothing was stored
    response = confirm(client, preview)  # the same form, sent again
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert state(db) == {"snapshots": 1, "cases": 3, "pending": 0, "import_audit": 1}
    assert verify_chain(db, outage.app.config["AUDIT_KEY_BYTES"]).ok


@pytest.mark.skipif(
    not ON_POSTGRES,
    reason="SQLite: a request holds the write lock (BEGIN IMMEDIATE) from its first statement and the "
    "file is local, so nothing can take the database away between two statements of one request; "
    "only a disk failure could, and that cannot be caused from a test",
)
def test_the_connection_dying_mid_request_at_commit_leaves_nothing_half_written(outage, world, db):
    """The proxy is cut from inside the confirm request, just before the audit entry is
    chained at commit: the snapshot row and its cases are already sent to the server."""
    client = outage.app.test_client()
    login(client, "forste")
    preview = upload_preview(client)
    before = state(db)
    engine = get_database(outage.app).engine
    seen: list[str] = []

    def cut_at_audit(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement.split(None, 3)[2] if statement.startswith("INSERT") else statement.split(None, 1)[0])
        if statement.startswith("INSERT INTO audit_entries") and outage.proxy is not None:
            outage.proxy.cut()

    event.listen(engine, "before_cursor_execute", cut_at_audit)
    try:
        response = confirm(client, preview)
    finally:
        event.remove(engine, "before_cursor_execute", cut_at_audit)
    assert "case_list_snapshots" in seen and "snapshot_cases" in seen, seen  # the view got that far
    assert_swedish_503(response)
    assert_swedish_503(client.get("/"))  # still away

    outage.give_back()
    assert client.get("/").status_code == 200
    assert state(db) == before  # the server rolled the whole transaction back
    response = confirm(client, preview)
    assert response.status_code == 302
    assert state(db) == {"snapshots": 1, "cases": 3, "pending": 0, "import_audit": 1}
    assert verify_chain(db, outage.app.config["AUDIT_KEY_BYTES"]).ok


@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite has no server connections to lose")
def test_connections_killed_by_the_server_are_replaced_without_an_error_page(outage, database_url, world):
    """A PostgreSQL restart or failover ends every connection in the pool; the next request
    gets a fresh one (pool_pre_ping) and the user sees nothing."""
    client = outage.app.test_client()
    login(client, "forste")
    assert client.get("/").status_code == 200
    killed = pg_query(
        database_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name",
        name=APP_NAME,
    )
    assert killed and all(ok for (ok,) in killed)
    for _ in range(3):
        assert client.get("/").status_code == 200
