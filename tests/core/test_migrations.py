"""Migrations: an empty database upgraded to head matches the models exactly, and the
chain goes down and up again cleanly. Runs on SQLite and PostgreSQL (KONTROLL_TEST_DB)."""

from __future__ import annotations

import secrets

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from kontroll.db import Base, make_engine
from kontroll.migrate import alembic_config, current_heads, downgrade, upgrade
from tests.conftest import POSTGRES_ADMIN_URL, TEST_DB


@pytest.fixture
def empty_url(tmp_path):
    if TEST_DB == "sqlite":
        yield f"sqlite:///{tmp_path}/empty.sqlite"
        return
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"kontroll_mig_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _diff(url):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()


def test_upgrade_from_empty_matches_the_models(empty_url):
    upgrade(empty_url)
    heads = ScriptDirectory.from_config(alembic_config(empty_url)).get_heads()
    assert current_heads(empty_url) == set(heads)
    assert _diff(empty_url) == []


def test_downgrade_to_base_and_up_again(empty_url):
    upgrade(empty_url)
    downgrade(empty_url, "base")
    engine = make_engine(empty_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(empty_url)
    assert _diff(empty_url) == []


def test_constraints_follow_the_naming_convention(empty_url):
    upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        insp = inspect(engine)
        uniques = {u["name"] for u in insp.get_unique_constraints("users")}
        assert "uq_users_username" in uniques
        fks = {f["name"] for f in insp.get_foreign_keys("role_assignments")}
        assert "fk_role_assignments_user_id_users" in fks
    finally:
        engine.dispose()


def test_sqlite_connections_are_configured(app):
    from kontroll.db import get_database

    database = get_database(app)
    if database.dialect != "sqlite":
        pytest.skip("SQLite only")
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
