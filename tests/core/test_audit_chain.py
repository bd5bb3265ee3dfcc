"""The tamper-evident audit log: the hash chain, the key outside the database, the triggers
that refuse UPDATE and DELETE, serialised appends under real concurrency, `kontroll audit
verify`, the revisor's log page and the audit of case-level page views."""

from __future__ import annotations

import os
import stat
import threading
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from kontroll.core import audit
from kontroll.core.audit import GENESIS_HASH, entry_hash
from kontroll.core.models import AuditEntry
from kontroll.db import get_database
from kontroll.migrate import downgrade, upgrade
from tests.support.app import TEST_DB, make_test_app
from tests.support.web import login


def _count(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(AuditEntry)) or 0


def _key(app) -> bytes:
    return app.config["AUDIT_KEY_BYTES"]


@contextmanager
def _raw(app):
    """A connection that may bypass the append-only triggers: what an intruder with database
    access could do. The chain must still show it."""
    engine = create_engine(app.config["DATABASE_URL"])
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            else:
                conn.execute(text("DROP TRIGGER audit_entries_no_update"))
                conn.execute(text("DROP TRIGGER audit_entries_no_delete"))
            yield conn
    finally:
        engine.dispose()


def _verify(runner) -> Any:
    return runner.invoke(args=["audit", "verify"])


# --- the chain ------------------------------------------------------------------------------


def test_every_entry_is_chained_and_verify_reports_an_unbroken_chain(app, db, world, client, runner):
    login(client, "forste", "fel-losenord")
    login(client, "revisor")
    entries = list(db.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert len(entries) > 10
    assert entries[0].prev_hash == GENESIS_HASH
    for before, entry in zip(entries, entries[1:]):
        assert entry.prev_hash == before.entry_hash
    for entry in entries:
        assert entry.entry_hash == entry_hash(_key(app), entry.prev_hash, entry)
    db.rollback()
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    assert f"Obruten kedja: {len(entries)} poster" in result.output


def test_an_empty_log_is_an_unbroken_chain_of_zero(runner):
    result = _verify(runner)
    assert result.exit_code == 0 and "Obruten kedja: 0 poster" in result.output


def test_the_hash_covers_the_exact_canonical_text():
    entry = AuditEntry(
        occurred_dt=__import__("datetime").datetime(2026, 3, 1, 12, 0, 0, 5, tzinfo=__import__("datetime").timezone.utc),
        actor_user_id=3, actor_label="forste", action="review.sign", object_type="review", object_id="7",
        unit_id=1, details='{"a":1}', ip_address="127.0.0.1",
    )
    assert audit.entry_text(entry) == (
        '{"action":"review.sign","actor_label":"forste","actor_user_id":3,"details":"{\\"a\\":1}",'
        '"ip_address":"127.0.0.1","object_id":"7","object_type":"review","occurred":"2026-03-01T12:00:00.000005+00:00",'
        '"unit_id":1}'
    )
    first = entry_hash(b"k" * 32, GENESIS_HASH, entry)
    assert first != entry_hash(b"j" * 32, GENESIS_HASH, entry)  # the key matters
    assert first != entry_hash(b"k" * 32, "1" * 64, entry)  # the link matters
    entry.details = '{"a":2}'
    assert first != entry_hash(b"k" * 32, GENESIS_HASH, entry)  # the content matters


@pytest.mark.parametrize("field, value", [("details", '{"ok":false}'), ("actor_label", "någon-annan"),
                                          ("occurred_dt", "2020-01-01 00:00:00")])
def test_a_changed_entry_breaks_the_chain_at_that_entry(app, db, world, runner, field, value):
    victim = db.scalars(select(AuditEntry).order_by(AuditEntry.id).offset(3)).first()
    assert victim is not None
    db.rollback()
    with _raw(app) as conn:
        conn.execute(text(f"UPDATE audit_entries SET {field} = :v WHERE id = :id"), {"v": value, "id": victim.id})
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"Kedjan är bruten vid post {victim.id}" in result.output
    assert "innehåll" in result.output


def test_a_deleted_entry_breaks_the_chain_at_the_next(app, db, world, runner):
    ids = list(db.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))
    db.rollback()
    with _raw(app) as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": ids[4]})
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"Kedjan är bruten vid post {ids[5]}" in result.output
    assert "föregående hash" in result.output


def test_a_forged_entry_made_without_the_key_is_found(app, db, world, runner):
    last = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    db.rollback()
    forged = AuditEntry(occurred_dt=last.occurred_dt, actor_user_id=None, actor_label="sektionschef",
                        action="review.sign", object_type=None, object_id=None, unit_id=None, details="{}",
                        ip_address=None)
    forged_hash = entry_hash(b"gissad-nyckel-utan-tillgang-till-filen", last.entry_hash, forged)
    with _raw(app) as conn:
        conn.execute(
            text("INSERT INTO audit_entries (occurred_dt, actor_label, action, details, prev_hash, entry_hash) "
                 "VALUES (:t, 'sektionschef', 'review.sign', '{}', :p, :h)"),
            {"t": last.occurred_dt if TEST_DB == "postgresql" else last.occurred_dt.replace(tzinfo=None),
             "p": last.entry_hash, "h": forged_hash},
        )
    result = _verify(runner)
    assert result.exit_code == 1 and "Kedjan är bruten vid post" in result.output


def test_verify_with_another_key_fails_at_the_first_entry(app, db, world, database_url):
    first = db.scalar(select(func.min(AuditEntry.id)))
    db.rollback()
    other = make_test_app(database_url, AUDIT_KEY="en-helt-annan-nyckel-som-ar-minst-32-tecken")
    try:
        result = other.test_cli_runner().invoke(args=["audit", "verify"])
    finally:
        get_database(other).engine.dispose()
    assert result.exit_code == 1 and f"bruten vid post {first}" in result.output


def test_a_rolled_back_transaction_leaves_no_entry_and_no_gap(app, db, world, runner):
    before = _count(db)
    db.rollback()
    database = get_database(app)
    session = database.sessionmaker()
    audit.record(session, "test", "demo.load")
    assert len(session.info[audit.PENDING_KEY]) == 1  # queued on the session until commit
    session.rollback()
    assert session.info.get(audit.PENDING_KEY, []) == []
    audit.record(session, "test", "demo.load")
    session.commit()
    session.close()
    assert _count(db) == before + 1
    db.rollback()
    assert _verify(runner).exit_code == 0


def test_a_session_without_the_key_cannot_commit_entries(app, world):
    from sqlalchemy.orm import Session

    session = Session(get_database(app).engine)
    audit.record(session, "test", "demo.load")
    with pytest.raises(audit.AuditKeyMissing):
        session.commit()
    session.rollback()
    session.close()


# --- the database refuses change ------------------------------------------------------------


@pytest.mark.parametrize("statement", ["UPDATE audit_entries SET details = '{}'", "DELETE FROM audit_entries"])
def test_the_database_refuses_update_and_delete(app, db, world, statement):
    before = _count(db)
    db.rollback()
    engine = create_engine(app.config["DATABASE_URL"])
    try:
        with pytest.raises(DBAPIError) as info:
            with engine.begin() as conn:
                conn.execute(text(statement))
        assert "audit_entries" in str(info.value)
    finally:
        engine.dispose()
    assert _count(db) == before


@pytest.mark.skipif(TEST_DB != "postgresql", reason="SQLite has no TRUNCATE")
def test_postgresql_refuses_truncate(app, db, world):
    before = _count(db)
    db.rollback()
    engine = create_engine(app.config["DATABASE_URL"])
    try:
        with pytest.raises(DBAPIError):
            with engine.begin() as conn:
                conn.execute(text("TRUNCATE audit_entries"))
    finally:
        engine.dispose()
    assert _count(db) == before


def test_a_fork_cannot_be_stored(app, db, world):
    """The unique prev_hash is the last guard if appends were ever not serialised."""
    last = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    db.rollback()
    engine = create_engine(app.config["DATABASE_URL"])
    try:
        with pytest.raises(IntegrityError):
            with engine.begin() as conn:
                conn.execute(
                    text("INSERT INTO audit_entries (occurred_dt, actor_label, action, details, prev_hash, entry_hash) "
                         "VALUES (:t, 'x', 'demo.load', '{}', :p, :h)"),
                    {"t": last.occurred_dt if TEST_DB == "postgresql" else last.occurred_dt.replace(tzinfo=None),
                     "p": last.prev_hash, "h": "f" * 64},
                )
    finally:
        engine.dispose()


# --- concurrency ----------------------------------------------------------------------------


@pytest.mark.concurrency
def test_concurrent_appends_make_one_unbroken_chain(app, db, world, runner):
    """Real concurrent transactions, each appending entries: no fork, none lost."""
    before = _count(db)
    db.rollback()
    database = get_database(app)
    writers, per_writer = 6, 8
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_writer):
                session = database.sessionmaker()
                try:
                    audit.record(session, f"skrivare-{n}", "demo.load", details={"i": i})
                    audit.record(session, f"skrivare-{n}", "demo.load", details={"i": i, "andra": True})
                    session.commit()
                finally:
                    session.close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert _count(db) == before + writers * per_writer * 2
    db.rollback()
    result = _verify(runner)
    assert result.exit_code == 0, result.output


@pytest.mark.concurrency
@pytest.mark.skipif(TEST_DB != "postgresql", reason="SQLite serialises every write transaction anyway")
def test_an_append_waits_for_an_open_appender_instead_of_forking(app, db, world, runner):
    """Transaction A has appended but not committed; B's append must wait for A, then chain
    onto A's entry."""
    database = get_database(app)
    a = database.sessionmaker()
    audit.record(a, "a", "demo.load")
    # run A's commit-time append by hand, keeping the transaction open
    audit._append_pending(a)  # noqa: SLF001 - the hook under test
    done = threading.Event()
    b_error: list[BaseException] = []

    def b_commit() -> None:
        b = database.sessionmaker()
        try:
            audit.record(b, "b", "demo.load")
            b.commit()
        except BaseException as exc:  # pragma: no cover
            b_error.append(exc)
        finally:
            b.close()
            done.set()

    thread = threading.Thread(target=b_commit)
    thread.start()
    assert not done.wait(1.0), "B appended while A held the chain"
    a.commit()
    a.close()
    thread.join(30)
    assert not b_error, b_error
    last_two = list(db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(2)))
    assert [e.actor_label for e in last_two] == ["b", "a"]
    assert last_two[0].prev_hash == last_two[1].entry_hash
    db.rollback()
    assert _verify(runner).exit_code == 0


# --- the key lives outside the database -----------------------------------------------------


def test_the_key_file_is_created_private_and_reused(tmp_path, database_url, monkeypatch):
    monkeypatch.delenv("KONTROLL_AUDIT_KEY", raising=False)
    key_file = tmp_path / "nycklar" / "audit.key"
    first = make_test_app(database_url, AUDIT_KEY_FILE=str(key_file))
    second = make_test_app(database_url, AUDIT_KEY_FILE=str(key_file))
    try:
        assert key_file.exists()
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
        assert first.config["AUDIT_KEY_BYTES"] == second.config["AUDIT_KEY_BYTES"]
        assert len(first.config["AUDIT_KEY_BYTES"]) >= 32
    finally:
        get_database(first).engine.dispose()
        get_database(second).engine.dispose()


def test_a_short_key_is_refused_outside_tests(tmp_path, monkeypatch):
    from kontroll import create_app
    from kontroll.config import ConfigError

    monkeypatch.setenv("KONTROLL_AUDIT_KEY", "kort")
    with pytest.raises(ConfigError, match="audit key"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}", "SECRET_KEY": "s" * 32})


def test_the_key_is_not_in_the_database(app, db, world):
    key = _key(app).decode()
    db.rollback()
    engine = create_engine(app.config["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            for table in get_database(app).engine.dialect.get_table_names(conn):
                for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                    assert key not in " ".join(str(v) for v in row)
    finally:
        engine.dispose()


# --- migration 0007 chains entries that existed before ---------------------------------------


@pytest.mark.skipif(TEST_DB != "sqlite", reason="a fresh file database is enough to test the data migration")
def test_upgrade_chains_existing_entries_with_the_key_and_refuses_without(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    upgrade(url, "0006")
    engine = create_engine(url)
    with engine.begin() as conn:
        for i in range(3):
            conn.execute(text("INSERT INTO audit_entries (occurred_dt, actor_label, action, details) "
                              "VALUES ('2026-01-0%d 10:00:00.000001', 'gammal', 'login.success', '{}')" % (i + 1)))
    engine.dispose()
    with pytest.raises(RuntimeError, match="AUDIT_KEY"):
        upgrade(url)
    key = b"en-nyckel-for-uppgraderingen-minst-32-tecken"
    upgrade(url, audit_key=key)
    app = make_test_app(url, AUDIT_KEY=key.decode())
    try:
        result = app.test_cli_runner().invoke(args=["audit", "verify"])
        assert result.exit_code == 0 and "Obruten kedja: 3 poster" in result.output
        downgrade(url, "0006")
        upgrade(url, audit_key=key)
        assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0
    finally:
        get_database(app).engine.dispose()


# --- the revisor's page and page views ------------------------------------------------------


def test_revisor_checks_the_chain_and_filters_by_unit_and_object(app, client, world, db):
    login(client, "revisor")
    page = client.get("/revision/logg?kontrollera=1").get_data(as_text=True)
    assert "Obruten kedja:" in page
    page = client.get("/revision/logg?enhet=INT").get_data(as_text=True)
    body = page.split("<tbody>")[1]
    assert "IFO-FS" not in body and "INT" in body
    page = client.get(f"/revision/logg?objekt=user+{world['forste'].id}").get_data(as_text=True)
    assert "forste" in page.split("<tbody>")[1]
    db.rollback()
    with _raw(app) as conn:
        conn.execute(text("UPDATE audit_entries SET actor_label = 'x' WHERE id = 2"))
    page = client.get("/revision/logg?kontrollera=1").get_data(as_text=True)
    assert "Kedjan är bruten vid post 2" in page


def test_only_the_revisor_and_sysadmin_see_the_log(client, world):
    login(client, "sektionschef")
    assert client.get("/revision/logg").status_code in (403, 404)
