"""Shared fixtures. The database under test is chosen by KONTROLL_TEST_DB:

- ``sqlite`` (default): a migrated template file, copied fresh for every test;
- ``postgresql``: one migrated database per test session on the server at
  KONTROLL_TEST_POSTGRES_URL (default: postgres@127.0.0.1:5432), emptied after every test.

Under CI=true a missing PostgreSQL server is a failure, never a skip.

Only fixtures and hooks live here; helpers shared by test modules are in ``tests/support/``
(the test app and :class:`~tests.support.app.World` in ``tests/support/app.py``).
"""

from __future__ import annotations

import os
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

from kontroll.cases import services as cases
from kontroll.core import users as user_svc
from kontroll.core.models import Role
from kontroll.db import get_database
from kontroll.migrate import upgrade
from tests.support.app import IN_CI, POSTGRES_ADMIN_URL, TEST_DB, World, empty_postgres, make_test_app
from tests.support.draws import case_list


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
    empty_postgres(database_template)


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


@pytest.fixture
def world(db: Session) -> World:
    return World(db)


@pytest.fixture
def unit_setup(world, db, app):
    """IFO-FS with: the world's förste (lead of Grupp 1), a second förste 'forste2' (lead of
    Grupp 2), handläggare Anna (ANAN) and Bo (BOBO), and a 12-case list."""
    s = db
    ifo = world.ifo
    forste2 = user_svc.create_user(s, "t", username="forste2", full_name="Förste Två", password="ett-bra-losenord")
    user_svc.add_role(s, "t", forste2, Role.FORSTE_SOCIALSEKRETERARE, ifo)
    anna = user_svc.create_user(s, "t", username="anna", full_name="Anna A", password=None, case_system_id="ANAN")
    user_svc.add_role(s, "t", anna, Role.SOCIALSEKRETERARE, ifo)
    bo = user_svc.create_user(s, "t", username="bo", full_name="Bo B", password=None, case_system_id="BOBO")
    user_svc.add_role(s, "t", bo, Role.SOCIALSEKRETERARE, ifo)
    # the sektionschef also happens to be a 1:e socialsekreterare: the drawer-is-reviewer case
    user_svc.add_role(s, "t", world["sektionschef"], Role.FORSTE_SOCIALSEKRETERARE, ifo)
    user_svc.create_team(s, "t", ifo, "Grupp 1", world["forste"])
    user_svc.create_team(s, "t", ifo, "Grupp 2", forste2)
    s.commit()
    with get_database(app).session_scope() as session:
        actor = user_svc.get_user_by_username(session, "forste")
        cases.import_file(session, actor, user_svc.get_unit_by_code(session, "IFO-FS"), case_list(), "lista.csv",
                          source="cli")
    return {"forste2": forste2, "anna": anna, "bo": bo}
