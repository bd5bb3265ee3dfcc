"""Shared fixtures. The database under test is chosen by KONTROLL_TEST_DB:

- ``sqlite`` (default): a migrated template file, copied fresh for every test;
- ``postgresql``: one migrated database per test session on the server at
  KONTROLL_TEST_POSTGRES_URL (default: postgres@127.0.0.1:5432), emptied after every test.

Under CI=true a missing PostgreSQL server is a failure, never a skip.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from kontroll import create_app
from kontroll.core import users as svc
from kontroll.core.models import Role, Unit, User
from kontroll.db import Base, get_database
from kontroll.migrate import upgrade

TEST_DB = os.environ.get("KONTROLL_TEST_DB", "sqlite")
POSTGRES_ADMIN_URL = os.environ.get(
    "KONTROLL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "ett-bra-losenord"
#: One audit key for the test process and every kontroll process it starts (they inherit it).
AUDIT_KEY = "test-audit-key-0123456789abcdef0123456789abcdef"
os.environ.setdefault("KONTROLL_AUDIT_KEY", AUDIT_KEY)
ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"


def pytest_report_header(config: pytest.Config) -> str:
    return f"kontroll test database: {TEST_DB}"


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database: a file path (SQLite) or a URL (PostgreSQL)."""
    if TEST_DB == "sqlite":
        path = tmp_path_factory.mktemp("db") / "template.sqlite"
        upgrade(f"sqlite:///{path}")
        yield str(path)
        return
    if TEST_DB != "postgresql":
        raise RuntimeError(f"KONTROLL_TEST_DB must be sqlite or postgresql, not {TEST_DB!r}")
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # pragma: no cover - depends on the machine
        admin.dispose()
        message = f"PostgreSQL does not answer at {POSTGRES_ADMIN_URL}: {exc}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    name = f"kontroll_test_{os.getpid()}_{secrets.token_hex(3)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> Iterator[str]:
    """A migrated empty database for one test."""
    if TEST_DB == "sqlite":
        path = tmp_path / "kontroll.sqlite"
        shutil.copyfile(database_template, path)
        yield f"sqlite:///{path}"
        return
    yield database_template
    _empty_postgres(database_template)


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            # the audit log refuses TRUNCATE through a trigger; replica mode skips triggers
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


def make_test_app(database_url: str, **overrides: Any) -> Flask:
    config: dict[str, Any] = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "PASSWORD_HASH_PROFILE": "fast",
    }
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    app = make_test_app(database_url)
    yield app
    get_database(app).engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A session outside any request, for arranging and asserting. It holds no lock on
    SQLite; call ``db.expire_all()`` before re-reading objects the app has changed."""
    session = get_database(app).observer_session()
    yield session
    session.rollback()
    session.close()


class World:
    """A small municipality for tests: two units and a user per role (password PASSWORD)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.ifo = svc.create_unit(session, "test", code="IFO-FS", name="Försörjningsstöd IFO")
        self.int = svc.create_unit(
            session, "test", code="INT", name="Integrationsenheten", drawer_role=Role.ADMINISTRATOR
        )
        self.users: dict[str, User] = {}
        spec: list[tuple[str, Role, Unit | None]] = [
            ("sektionschef", Role.SEKTIONSCHEF, self.ifo),
            ("administrator", Role.ADMINISTRATOR, self.int),
            ("forste", Role.FORSTE_SOCIALSEKRETERARE, self.ifo),
            ("enhetschef", Role.ENHETSCHEF, self.ifo),
            ("handlaggare", Role.SOCIALSEKRETERARE, self.ifo),
            ("namnd", Role.NAMND, None),
            ("revisor", Role.REVISOR, None),
            ("sysadmin", Role.SYSTEMADMINISTRATOR, None),
            ("forste.int", Role.FORSTE_SOCIALSEKRETERARE, self.int),
        ]
        for username, role, unit in spec:
            user = svc.create_user(
                session, "test", username=username, full_name=username.title(), password=PASSWORD
            )
            svc.add_role(session, "test", user, role, unit)
            self.users[username] = user
        session.commit()

    def __getitem__(self, username: str) -> User:
        return self.users[username]


@pytest.fixture
def world(db: Session) -> World:
    return World(db)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    page = client.get("/logga-in")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/logga-in", data={"username": username, "password": password, "csrf_token": token})


def post_form(client: FlaskClient, url: str, data: dict[str, Any], *, page: str = "/") -> Any:
    """POST with the session's CSRF token, read from ``page``."""
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})
