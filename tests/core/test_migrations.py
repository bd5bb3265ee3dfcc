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
from tests.support.app import POSTGRES_ADMIN_URL, TEST_DB


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


def test_upgrading_keeps_existing_data(empty_url):
    """A database with data at the first revision keeps every row through all later ones."""
    upgrade(empty_url, "0001")
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO units (code, name, drawer_role, sample_size, hemmablindhet_protection, genomgang_min, "
                "genomgang_max, is_active, created_dt) VALUES ('U1', 'Enhet', 'sektionschef', 2, true, 4, 6, true, "
                "CURRENT_TIMESTAMP)"))
            conn.execute(text(
                "INSERT INTO users (username, full_name, is_active, failed_login_count, created_dt) "
                "VALUES ('a', 'A', true, 0, CURRENT_TIMESTAMP)"))
            conn.execute(text(
                "INSERT INTO role_assignments (user_id, unit_id, role, created_dt) "
                "SELECT u.id, n.id, 'sektionschef', CURRENT_TIMESTAMP FROM users u, units n"))
        upgrade(empty_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM role_assignments")).scalar() == 1
            assert conn.execute(text("SELECT sample_size, snapshot_max_age_days FROM units")).one() == (2, 35)
    finally:
        engine.dispose()
