"""The application under test: which database the tests use, the test app itself, and a
small municipality to run it on (:class:`World`).

``KONTROLL_TEST_DB`` chooses the database (``sqlite`` or ``postgresql``); PostgreSQL is the
server at ``KONTROLL_TEST_POSTGRES_URL``. Importing this module sets ``KONTROLL_AUDIT_KEY``
(unless it is set) so that every kontroll process the tests start inherits the same key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from kontroll import create_app
from kontroll.core import users as svc
from kontroll.core.models import Role, Unit, User
from kontroll.db import Base

TEST_DB = os.environ.get("KONTROLL_TEST_DB", "sqlite")
POSTGRES_ADMIN_URL = os.environ.get(
    "KONTROLL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "ett-bra-losenord"
#: One audit key for the test process and every kontroll process it starts (they inherit it).
AUDIT_KEY = "test-audit-key-0123456789abcdef0123456789abcdef"
os.environ.setdefault("KONTROLL_AUDIT_KEY", AUDIT_KEY)
ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"


def empty_postgres(url: str) -> None:
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
