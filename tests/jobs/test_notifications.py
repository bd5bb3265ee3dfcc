"""The notification service: de-duplication (also under real concurrency), own-only reads."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from kontroll.core import notifications as svc
from kontroll.core.models import Notification
from kontroll.db import get_database


def _count(db, **where) -> int:
    query = select(func.count()).select_from(Notification)
    for key, value in where.items():
        query = query.where(getattr(Notification, key) == value)
    return db.scalar(query)


def test_notify_inserts_once_per_dedupe_key(db, world):
    user = world["sektionschef"]
    first = svc.notify(db, user, kind="draw_due", title="Dags", body="Text", link="/meddelanden", dedupe_key="k:1")
    db.commit()
    assert first is not None and first.id and first.read_dt is None and first.emailed_dt is None
    again = svc.notify(db, user, kind="draw_due", title="Dags igen", dedupe_key="k:1")
    db.commit()
    assert again is None
    assert _count(db, dedupe_key="k:1") == 1
    assert db.scalar(select(Notification.title).where(Notification.dedupe_key == "k:1")) == "Dags"


def test_a_duplicate_inside_a_larger_transaction_keeps_the_rest(app, world):
    """The SAVEPOINT rolls back only the duplicate insert, not the caller's other work."""
    user_id = world["forste"].id
    with get_database(app).session_scope() as session:
        svc.notify(session, user_id, kind="x", title="Ett", dedupe_key="dup")
    with get_database(app).session_scope() as session:
        # bypass the pre-check so the insert really hits the unique constraint
        original = session.scalar
        calls = {"n": 0}

        def blind_scalar(statement, *args, **kwargs):
            calls["n"] += 1
            return None if calls["n"] == 1 else original(statement, *args, **kwargs)

        session.scalar = blind_scalar  # type: ignore[method-assign]
        assert svc.notify(session, user_id, kind="x", title="Två", dedupe_key="dup") is None
        session.scalar = original  # type: ignore[method-assign]
        assert svc.notify(session, user_id, kind="x", title="Tre", dedupe_key="other") is not None
    with get_database(app).session_scope() as session:
        titles = sorted(session.scalars(select(Notification.title)))
    assert titles == ["Ett", "Tre"]


@pytest.mark.parametrize("link", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "enheter/x",
                                  "/a b", "/a\\b"])
def test_notify_refuses_a_link_that_is_not_a_local_path(db, world, link):
    with pytest.raises(ValueError):
        svc.notify(db, world["forste"], kind="x", title="T", link=link, dedupe_key="k")
    db.rollback()
    assert _count(db) == 0


def test_notify_refuses_empty_or_long_titles_and_keys(db, world):
    with pytest.raises(ValueError):
        svc.notify(db, world["forste"], kind="x", title="  ", dedupe_key="k")
    with pytest.raises(ValueError):
        svc.notify(db, world["forste"], kind="x", title="T" * 301, dedupe_key="k")
    with pytest.raises(ValueError):
        svc.notify(db, world["forste"], kind="x", title="T", dedupe_key="")
    db.rollback()
    assert _count(db) == 0


def test_titles_are_kept_on_one_line(db, world):
    n = svc.notify(db, world["forste"], kind="x", title="Rad ett\r\nBcc: x@example.org", dedupe_key="k")
    db.commit()
    assert n.title == "Rad ett Bcc: x@example.org"


def test_unread_mark_read_and_mark_all_read_touch_only_ones_own(db, world):
    me, other = world["sektionschef"], world["forste"]
    mine = [svc.notify(db, me, kind="x", title=f"Mitt {i}", dedupe_key=f"me:{i}") for i in range(3)]
    theirs = svc.notify(db, other, kind="x", title="Deras", dedupe_key="other:1")
    db.commit()
    assert svc.unread_count(db, me) == 3
    assert [n.title for n in svc.unread(db, me)] == ["Mitt 2", "Mitt 1", "Mitt 0"]  # newest first

    svc.mark_read(db, me, mine[0].id)
    db.commit()
    first_read = mine[0].read_dt
    assert first_read is not None and svc.unread_count(db, me) == 2
    svc.mark_read(db, me, mine[0].id)  # again: the first read time is kept
    db.commit()
    db.expire_all()
    assert db.get(Notification, mine[0].id).read_dt == first_read

    with pytest.raises(svc.NotificationNotFound):
        svc.mark_read(db, me, theirs.id)
    with pytest.raises(svc.NotificationNotFound):
        svc.mark_read(db, me, 999_999)
    db.rollback()
    db.expire_all()
    assert db.get(Notification, theirs.id).read_dt is None

    assert svc.mark_all_read(db, me) == 2
    db.commit()
    assert svc.unread_count(db, me) == 0
    assert svc.unread_count(db, other) == 1
    assert svc.mark_all_read(db, me) == 0


def test_resolve_marks_a_reminder_read_for_everyone_by_key_prefix(db, world):
    a, b = world["sektionschef"], world["forste"]
    svc.notify(db, a, kind="draw_due", title="T", dedupe_key="draw_due:IFO-FS:2026-12:1")
    svc.notify(db, b, kind="draw_due", title="T", dedupe_key="draw_due:IFO-FS:2026-12:2")
    svc.notify(db, a, kind="draw_due", title="T", dedupe_key="draw_due:IFO-FSX:2026-12:1")
    svc.notify(db, a, kind="draw_due", title="T", dedupe_key="draw_due:IFO_FS:2026-12:1")  # "_" is no wildcard
    db.commit()
    assert svc.resolve(db, "draw_due:IFO-FS:2026-12:") == 2
    db.commit()
    assert svc.unread_count(db, a) == 2 and svc.unread_count(db, b) == 0
    with pytest.raises(ValueError):
        svc.resolve(db, "")


@pytest.mark.concurrency
def test_two_transactions_notifying_at_once_make_one_row(app, world):
    """B checks while A's insert is flushed but not committed: B's own insert then waits for
    A (PostgreSQL) or B waits for A's write lock (SQLite); either way exactly one row."""
    database = get_database(app)
    user_id = world["forste"].id
    inserted = threading.Event()
    results: dict[str, object] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with database.session_scope() as session:
                results["a"] = svc.notify(session, user_id, kind="x", title="A", dedupe_key="race")
                inserted.set()
                threading.Event().wait(0.5)  # hold the uncommitted row while B tries
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            inserted.set()

    def second() -> None:
        try:
            inserted.wait(10)
            with database.session_scope() as session:
                results["b"] = svc.notify(session, user_id, kind="x", title="B", dedupe_key="race")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert results["a"] is not None and results["b"] is None
    with database.session_scope() as session:
        assert session.scalars(select(Notification.title).where(Notification.dedupe_key == "race")).all() == ["A"]
