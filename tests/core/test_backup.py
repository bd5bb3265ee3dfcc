"""kontroll backup / kontroll restore.

The central test takes a backup while another thread keeps committing users (each with its
``user.create`` audit entry), restores it into a new empty database and checks that the copy
is one consistent snapshot: the audit chain verifies, and every user has its audit entry.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from kontroll.core import audit
from kontroll.core import users as svc
from kontroll.core.models import AuditEntry
from kontroll.db import get_database
from kontroll.migrate import upgrade
from tests.support.app import IN_CI, POSTGRES_ADMIN_URL, TEST_DB, make_test_app

sqlite_only = pytest.mark.skipif(TEST_DB != "sqlite", reason="SQLite:s backup-API och filformat")


# --- fixtures and helpers ----------------------------------------------------------------


@pytest.fixture
def pg_tools() -> None:
    """On PostgreSQL the commands need pg_dump and pg_restore; under CI their absence fails."""
    if TEST_DB != "postgresql":
        return
    missing = [tool for tool in ("pg_dump", "pg_restore") if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} finns inte på PATH"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def new_database(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Make a new database (no tables, or migrated to head) and return its URL; dropped after."""
    created: list[str] = []
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT") if TEST_DB == "postgresql" else None

    def make(*, migrated: bool = False) -> str:
        if TEST_DB == "sqlite":
            url = f"sqlite:///{tmp_path / f'ny_{len(created)}.sqlite'}"
        else:
            assert admin is not None
            name = f"kontroll_restore_{os.getpid()}_{secrets.token_hex(3)}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            created.append(name)
            url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        if migrated:
            upgrade(url)
        if TEST_DB == "sqlite":
            created.append(url)
        return url

    yield make
    if admin is not None:
        with admin.connect() as conn:
            for name in created:
                conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = :n AND pid <> pg_backend_pid()"),
                    {"n": name},
                )
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def other_app(app: Flask) -> Iterator[Callable[[str], Flask]]:
    """Apps for other databases, with the same audit key as ``app``."""
    apps: list[Flask] = []

    def make(url: str) -> Flask:
        other = make_test_app(url, AUDIT_KEY=app.config.get("AUDIT_KEY", ""),
                              AUDIT_KEY_FILE=app.config.get("AUDIT_KEY_FILE", ""))
        assert other.config.get("AUDIT_KEY_BYTES") == app.config.get("AUDIT_KEY_BYTES")
        apps.append(other)
        return other

    yield make
    for other in apps:
        get_database(other).engine.dispose()


def row_counts(app: Flask) -> dict[str, int]:
    engine = get_database(app).engine
    with engine.connect() as conn:
        names = [n for n in inspect(conn).get_table_names() if n != "alembic_version"]
        counts = {n: conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one() for n in names}
        conn.rollback()
    return counts


def reported_counts(output: str) -> dict[str, int]:
    """The per-table row counts that backup/restore print."""
    block = output.split("Rader per tabell:", 1)[1]
    counts = {}
    for line in block.splitlines()[1:]:
        match = re.fullmatch(r"  (\S+)\s+(\d+)", line)
        if not match:
            break
        counts[match.group(1)] = int(match.group(2))
    counts.pop("totalt", None)
    return counts


def actions(app: Flask, action: str) -> int:
    with get_database(app).observer_session() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)) or 0


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Writer(threading.Thread):
    """Keeps creating users, one committed transaction each, until stopped."""

    def __init__(self, app: Flask) -> None:
        super().__init__(daemon=True)
        self.database = get_database(app)
        self.stop = threading.Event()
        self.commit_times: list[float] = []
        self.errors: list[BaseException] = []

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            try:
                with self.database.session_scope() as session:
                    svc.create_user(session, "test", username=f"skrivare{i:05d}", full_name=f"Skrivare {i}",
                                    password=None)
                self.commit_times.append(time.monotonic())
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                self.errors.append(exc)
                return
            i += 1

    def wait_for(self, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.commit_times) < n:
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, f"the writer made only {len(self.commit_times)} commits"
            time.sleep(0.01)


# --- the live backup ---------------------------------------------------------------------


def test_backup_while_writing_restores_a_consistent_snapshot(app, runner, tmp_path, new_database, other_app,
                                                             pg_tools):
    with get_database(app).session_scope() as session:  # some bulk, so that the copy takes a while
        for i in range(3000):
            audit.record(session, "test", "test.fyllnad", details={"i": i, "text": "x" * 200})
    writer = Writer(app)
    writer.start()
    try:
        writer.wait_for(20)
        before = len(writer.commit_times)
        started = time.monotonic()
        result = runner.invoke(args=["backup", str(tmp_path / "kopia.backup")])
        finished = time.monotonic()
        writer.wait_for(len(writer.commit_times) + 10)
    finally:
        writer.stop.set()
        writer.join(30)
    assert not writer.errors, writer.errors
    assert result.exit_code == 0, result.output
    during = [t for t in writer.commit_times if started <= t <= finished]
    assert during, "no write was committed while the backup ran"
    written = len(writer.commit_times)
    assert "Säkerhetskopian är sparad" in result.output
    assert "Integritetskontroll: ok" in result.output
    assert "Schemaversion: " in result.output and "okänd" not in result.output
    assert "nyckel" in result.output and "audit verify" in result.output  # the key is not in the backup
    assert actions(app, "backup.create") == 1
    snapshot = reported_counts(result.output)
    assert before <= snapshot["users"] <= written

    target_url = new_database()
    restored = other_app(target_url)
    restored_runner = restored.test_cli_runner()
    result = restored_runner.invoke(args=["restore", str(tmp_path / "kopia.backup")])
    assert result.exit_code == 0, result.output
    assert "är återställd" in result.output

    verify = restored_runner.invoke(args=["audit", "verify"])
    assert verify.exit_code == 0, verify.output
    assert "Obruten kedja" in verify.output

    counts = row_counts(restored)
    # one consistent snapshot: every user has its user.create entry, and vice versa
    assert counts["users"] == actions(restored, "user.create") == snapshot["users"]
    # the restore holds exactly what the backup reported, plus the restore's own audit entry
    assert counts == {**snapshot, "audit_entries": snapshot["audit_entries"] + 1}
    assert reported_counts(result.output) == counts
    assert actions(restored, "backup.create") == 0  # recorded in the source after the snapshot
    assert actions(restored, "backup.restore") == 1
    # the restored database works: ids and sequences carry on
    result = restored_runner.invoke(args=["user", "create", "--username", "efter.aterstallning",
                                          "--name", "Efter Återställning", "--no-password"])
    assert result.exit_code == 0, result.output
    assert restored_runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_restore_into_a_migrated_empty_database(app, runner, world, tmp_path, new_database, other_app, pg_tools):
    result = runner.invoke(args=["backup", str(tmp_path / "kopia.backup")])
    assert result.exit_code == 0, result.output
    source = row_counts(app)

    restored = other_app(new_database(migrated=True))
    result = restored.test_cli_runner().invoke(args=["restore", str(tmp_path / "kopia.backup")])
    assert result.exit_code == 0, result.output
    counts = row_counts(restored)
    assert counts["users"] == source["users"] == len(world.users)
    # the source got its backup.create after the snapshot; the copy got its backup.restore
    assert counts == source
    verify = restored.test_cli_runner().invoke(args=["audit", "verify"])
    assert verify.exit_code == 0, verify.output


# --- refusals ------------------------------------------------------------------------------


def test_backup_refuses_to_overwrite_unless_told(runner, world, tmp_path, pg_tools):
    target = tmp_path / "kopia.backup"
    target.write_text("en tidigare säkerhetskopia")
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 1
    assert "finns redan" in result.output and "--skriv-over" in result.output
    assert target.read_text() == "en tidigare säkerhetskopia"

    result = runner.invoke(args=["backup", str(target), "--skriv-over"])
    assert result.exit_code == 0, result.output
    magic = b"SQLite format 3\x00" if TEST_DB == "sqlite" else b"PGDMP"
    assert target.read_bytes().startswith(magic)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_backup_into_a_missing_folder_is_refused(runner, tmp_path):
    result = runner.invoke(args=["backup", str(tmp_path / "finns-inte" / "kopia.backup")])
    assert result.exit_code == 1 and "finns inte" in result.output


def test_restore_refuses_a_database_that_is_not_empty_and_changes_nothing(app, runner, world, tmp_path, pg_tools):
    result = runner.invoke(args=["backup", str(tmp_path / "kopia.backup")])
    assert result.exit_code == 0, result.output
    before = row_counts(app)
    result = runner.invoke(args=["restore", str(tmp_path / "kopia.backup")])
    assert result.exit_code == 1
    assert "är inte tom" in result.output and "Ingenting har ändrats" in result.output
    assert "users" in result.output
    assert row_counts(app) == before
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_restore_of_a_missing_or_foreign_file_is_refused(app, runner, tmp_path):
    result = runner.invoke(args=["restore", str(tmp_path / "finns-inte.backup")])
    assert result.exit_code == 1 and "finns inte" in result.output

    junk = tmp_path / "anteckningar.txt"
    junk.write_text("det här är ingen databas\n" * 100)
    result = runner.invoke(args=["restore", str(junk)])
    assert result.exit_code == 1 and "ingen säkerhetskopia av kontroll" in result.output

    other = tmp_path / "annan.sqlite"  # a SQLite database, but not kontroll's
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE recept (namn TEXT)")
        conn.execute("INSERT INTO recept VALUES ('kanelbullar')")
    conn.close()
    result = runner.invoke(args=["restore", str(other)])
    assert result.exit_code == 1
    if TEST_DB == "sqlite":
        assert "saknar schemaversion" in result.output
    else:
        assert "SQLite-säkerhetskopia" in result.output
    assert row_counts(app)["users"] == 0


@sqlite_only
def test_restore_of_a_damaged_backup_is_refused(runner, world, tmp_path, new_database, other_app):
    backup = tmp_path / "kopia.backup"
    assert runner.invoke(args=["backup", str(backup)]).exit_code == 0
    # Damage the b-tree of the users table's unique index on username: the header and the
    # schema stay readable, the index no longer matches the table.
    with sqlite3.connect(backup) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        rootpage = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE type = 'index' AND tbl_name = 'users' "
            "AND sql IS NULL ORDER BY name LIMIT 1"
        ).fetchone()[0]
    conn.close()
    data = bytearray(backup.read_bytes())
    start = (rootpage - 1) * page_size
    data[start + page_size // 2: start + page_size] = b"\xff" * (page_size - page_size // 2)
    backup.write_bytes(bytes(data))

    target_url = new_database()
    result = other_app(target_url).test_cli_runner().invoke(args=["restore", str(backup)])
    assert result.exit_code == 1, result.output
    assert "skadad" in result.output and "Ingenting har ändrats" in result.output
    assert not Path(make_url(target_url).database).exists()


@sqlite_only
def test_backup_is_not_kept_when_the_integrity_check_fails(runner, world, tmp_path, monkeypatch):
    from kontroll import backup as backup_module

    monkeypatch.setattr(backup_module, "_sqlite_integrity", lambda conn: "*** in database main *** Page 7: fel")
    result = runner.invoke(args=["backup", str(tmp_path / "kopia.backup")])
    assert result.exit_code == 1
    assert "integritetskontrollen" in result.output and "Ingen säkerhetskopia sparades" in result.output
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith((".kopia", "kopia"))] == []


@sqlite_only
def test_a_backup_from_an_older_version_is_restored_and_upgraded(app, tmp_path, new_database, other_app):
    old = tmp_path / "gammal.sqlite"
    upgrade(f"sqlite:///{old}", "0006", audit_key=app.config["AUDIT_KEY_BYTES"])
    with sqlite3.connect(old) as conn:
        for i, action in enumerate(("unit.create", "user.create")):
            conn.execute("INSERT INTO audit_entries (occurred_dt, actor_label, action, details) "
                         f"VALUES ('2024-01-02 03:04:0{i}.000000', 'test', '{action}', '{{}}')")
    conn.close()

    restored = other_app(new_database())
    cli = restored.test_cli_runner()
    result = cli.invoke(args=["restore", str(old)])
    assert result.exit_code == 0, result.output
    assert "schemaversion 0006" in result.output and "uppgraderad" in result.output
    current = cli.invoke(args=["db", "current"]).output.strip()
    from alembic.script import ScriptDirectory

    from kontroll.migrate import alembic_config

    assert current == ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    verify = cli.invoke(args=["audit", "verify"])
    assert verify.exit_code == 0, verify.output
    # the two old entries, chained by migration 0007 with the configured key, and the restore's
    assert "Obruten kedja: 3 poster" in verify.output


# --- PostgreSQL without pg_dump ------------------------------------------------------------


@pytest.mark.skipif(TEST_DB != "postgresql", reason="pg_dump gäller bara PostgreSQL")
def test_without_pg_dump_the_command_to_run_is_shown(runner, tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    target = tmp_path / "kopia.dump"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 1
    assert "pg_dump --format=custom --file" in result.output and str(target) in result.output
    assert "--dbname" in result.output and "PGPASSWORD" in result.output
    assert not target.exists()
