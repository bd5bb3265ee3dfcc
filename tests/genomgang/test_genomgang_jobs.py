"""genomgang_reminders: a week before a planned genomgång, and when the year's target cannot be met."""

from __future__ import annotations

from sqlalchemy import select

from kontroll import jobs
from kontroll.core.models import Notification
from kontroll.db import get_database
from tests.support.genomgang import planned, started
from tests.support.jobs import d


def _notes(db):
    """The reminders (a genomgång's start also notifies its participants, at once)."""
    db.expire_all()
    return sorted((n.kind, n.dedupe_key) for n in db.scalars(
        select(Notification).where(Notification.kind.in_(["genomgang_soon", "genomgang_behind"]))))


def _run(app, day):
    return jobs.run_job(get_database(app), "genomgang_reminders", d(day), app.config)


def test_a_week_before_and_once_per_plan_date_and_person(app, db, world, setup, checklists):
    for day in ("2026-03-10", "2026-06-09", "2026-09-08", "2026-11-17"):
        planned(app, day)
    # INT has no genomgång planned at all: its target cannot be met (it has no sektionschef to remind)
    assert _run(app, "2026-03-02").summary == "0 genomgångar inom en vecka; 1 enhet når inte årets mål; 0 nya påminnelser."
    out = _run(app, "2026-03-03")
    assert out.summary == "1 genomgång inom en vecka; 1 enhet når inte årets mål; 2 nya påminnelser."
    f1, f2 = world["forste"].id, setup["forste2"].id
    assert set(_notes(db)) == {("genomgang_soon", f"genomgang_soon:IFO-FS:2026-03-10:{f1}"),
                               ("genomgang_soon", f"genomgang_soon:IFO-FS:2026-03-10:{f2}")}
    assert _run(app, "2026-03-04").summary.endswith("0 nya påminnelser.")  # the next days repeat nothing
    assert _run(app, "2026-03-04").status == "already_done"
    assert len(_notes(db)) == 2


def test_behind_target_reminds_the_sektionschef_once_per_quarter(app, db, world, setup, checklists):
    started(app, checklists, "2026-02-10")
    planned(app, "2026-10-06")
    out = _run(app, "2026-04-01")
    assert out.summary == "0 genomgångar inom en vecka; 2 enheter når inte årets mål; 1 ny påminnelse."
    chef = world["sektionschef"].id
    assert _notes(db) == [("genomgang_behind", f"genomgang_behind:IFO-FS:2026-Q2:{chef}")]
    body = db.scalar(select(Notification.body).where(Notification.kind == "genomgang_behind"))
    assert body.startswith("0 av minst 4 genomförda, 2 planerade – målet nås inte.")
    _run(app, "2026-05-15")
    assert len(_notes(db)) == 1
    _run(app, "2026-07-01")
    assert [k for _, k in _notes(db)][-1] == f"genomgang_behind:IFO-FS:2026-Q3:{chef}"
    # planned enough: no more reminders
    planned(app, "2026-11-03")
    planned(app, "2026-12-01")
    assert "1 enhet når inte" in _run(app, "2026-10-01").summary  # only INT now
    assert [k for kind, k in _notes(db) if kind == "genomgang_behind"] == [
        f"genomgang_behind:IFO-FS:2026-Q2:{chef}", f"genomgang_behind:IFO-FS:2026-Q3:{chef}"]


def test_starting_tells_the_other_participants_at_once(app, db, world, setup, checklists):
    gid = started(app, checklists, "2026-03-10")  # started by forste, with forste2
    db.expire_all()
    rows = db.execute(select(Notification.user_id, Notification.title, Notification.link)
                      .where(Notification.kind == "genomgang_started")).all()
    assert [(uid, title, link) for uid, title, link in rows] == [
        (setup["forste2"].id, "Du deltar i genomgången i IFO-FS från 2026-03-10",
         f"/enheter/IFO-FS/genomgangar/{gid}/arenden")]
