"""The scheduled jobs and their runner: due dates, recipients, idempotency, concurrency."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time

import pytest
from sqlalchemy import delete, func, select

from kontroll import jobs
from kontroll.cases.models import PendingImport
from kontroll.core import users as user_svc
from kontroll.core.models import JobRun, Notification, Role, User, UserSession
from kontroll.db import get_database, utcnow
from tests.support.jobs import add_draw, add_user, d


def _run(app, name: str, day: str) -> jobs.JobOutcome:
    return jobs.run_job(get_database(app), name, d(day), app.config)


def _notes(db) -> list[tuple[str, str]]:
    """(username, dedupe_key) of every notification, sorted."""
    db.expire_all()
    rows = db.execute(select(User.username, Notification.dedupe_key).join(User, User.id == Notification.user_id))
    return sorted((u, k) for u, k in rows)


def _runs(db) -> list[tuple[str, str]]:
    db.expire_all()
    return sorted(map(tuple, db.execute(select(JobRun.job, JobRun.period))))


# --- draw_due: when -------------------------------------------------------------------------


@pytest.mark.parametrize("day", ["2027-01-01", "2027-01-02", "2027-01-03"])
def test_draw_due_before_the_first_working_day_does_nothing_and_takes_no_lock(app, db, world, day):
    outcome = _run(app, "draw_due", day)
    assert outcome.status == "not_due"
    assert "2027-01-04" in outcome.summary
    assert _notes(db) == [] and _runs(db) == []


def test_draw_due_on_the_first_working_day_reminds_each_units_drawer(app, db, world):
    outcome = _run(app, "draw_due", "2027-01-04")
    assert outcome.status == "done" and outcome.period == "2027-01"
    ifo, intu = world.ifo, world.int
    sc, adm = world["sektionschef"], world["administrator"]
    assert _notes(db) == [
        ("administrator", f"draw_due:INT:2027-01:{adm.id}"),
        ("sektionschef", f"draw_due:IFO-FS:2027-01:{sc.id}"),
    ]
    n = db.scalar(select(Notification).where(Notification.user_id == sc.id))
    assert n.kind == "draw_due"
    assert n.title == "Dags att dra månadens stickprov för IFO-FS (januari 2027)"
    assert n.link == "/enheter/IFO-FS/stickprov"
    assert ifo.name in n.body and n.read_dt is None and n.emailed_dt is None
    n = db.scalar(select(Notification).where(Notification.user_id == adm.id))
    assert n.title == f"Dags att dra månadens stickprov för {intu.code} (januari 2027)"
    assert "administratör" in n.body
    run = db.scalar(select(JobRun))
    assert (run.job, run.period) == ("draw_due", "2027-01")
    assert run.finished_dt is not None and run.started_dt <= run.finished_dt
    assert run.result == outcome.summary == "2 påminnelser om stickprovet för januari 2027; 2 enheter saknar stickprov."


def test_draw_due_later_in_the_month_catches_up(app, db, world):
    """A scheduler that was down on the first working day still reminds when it runs."""
    outcome = _run(app, "draw_due", "2026-12-15")
    assert outcome.status == "done" and outcome.period == "2026-12"
    assert len(_notes(db)) == 2
    assert db.scalar(select(Notification.title).where(Notification.user_id == world["sektionschef"].id)) == (
        "Dags att dra månadens stickprov för IFO-FS (december 2026)"
    )


@pytest.mark.parametrize(("day", "status"), [("2026-05-01", "not_due"), ("2026-05-04", "done"),
                                             ("2026-11-01", "not_due"), ("2026-11-02", "done")])
def test_draw_due_follows_the_working_day_calendar(app, db, world, day, status):
    assert _run(app, "draw_due", day).status == status


# --- draw_due: whom -------------------------------------------------------------------------


def test_only_active_holders_of_the_units_drawer_role_in_that_unit_are_reminded(app, db, world):
    second = add_user(db, "sektionschef2", Role.SEKTIONSCHEF, world.ifo)
    add_user(db, "sektionschef.int", Role.SEKTIONSCHEF, world.int)  # INT is drawn by its administratör
    gone = add_user(db, "gammal.chef", Role.SEKTIONSCHEF, world.ifo)
    user_svc.deactivate_user(db, "test", gone)
    db.commit()
    _run(app, "draw_due", "2026-12-01")
    assert [u for u, _ in _notes(db)] == ["administrator", "sektionschef", "sektionschef2"]
    assert second.id


def test_units_with_a_valid_draw_or_inactive_are_skipped_a_voided_draw_is_not_enough(app, db, world):
    add_draw(db, world.ifo, "2026-12", world["sektionschef"])
    add_draw(db, world.int, "2026-12", world["administrator"], voided=True)
    add_draw(db, world.int, "2026-11", world["administrator"])  # another month does not count
    third = user_svc.create_unit(db, "test", code="VUX", name="Vuxenenheten")
    add_user(db, "chef.vux", Role.SEKTIONSCHEF, third)
    third.is_active = False
    db.commit()
    outcome = _run(app, "draw_due", "2026-12-01")
    assert _notes(db) == [("administrator", f"draw_due:INT:2026-12:{world['administrator'].id}")]
    assert outcome.summary == "1 påminnelse om stickprovet för december 2026; 1 enhet saknar stickprov."


def test_a_unit_with_nobody_to_remind_is_named_in_the_summary(app, db, world):
    user_svc.deactivate_user(db, "test", world["administrator"])
    db.commit()
    outcome = _run(app, "draw_due", "2026-12-01")
    assert [u for u, _ in _notes(db)] == ["sektionschef"]
    assert outcome.summary.endswith("Ingen att påminna i: INT.")


# --- the runner -----------------------------------------------------------------------------


def test_running_twice_reminds_once(app, db, world):
    assert _run(app, "draw_due", "2026-12-01").status == "done"
    first = _notes(db)
    again = _run(app, "draw_due", "2026-12-01")
    later = _run(app, "draw_due", "2026-12-02")
    assert again.status == later.status == "already_done"
    assert "Redan gjort för 2026-12" in again.summary
    assert _notes(db) == first and len(first) == 2
    assert _runs(db) == [("draw_due", "2026-12")]
    # the next month is a new period
    assert _run(app, "draw_due", "2027-01-04").status == "done"
    assert _runs(db) == [("draw_due", "2026-12"), ("draw_due", "2027-01")]
    assert len(_notes(db)) == 4


def test_the_dedupe_key_still_holds_when_the_jobrun_lock_is_gone(app, db, world):
    _run(app, "draw_due", "2026-12-01")
    db.execute(delete(JobRun))
    db.commit()
    outcome = _run(app, "draw_due", "2026-12-01")
    assert outcome.status == "done" and outcome.summary.startswith("0 påminnelser")
    assert len(_notes(db)) == 2


def test_a_failing_job_leaves_nothing_behind_and_runs_again_next_time(app, db, world, monkeypatch):
    from kontroll.core import todos as todo_module

    real_notify = todo_module.notify
    calls = {"n": 0}

    def notify_then_fail(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the mail room is on fire")
        return real_notify(*args, **kwargs)

    monkeypatch.setattr(todo_module, "notify", notify_then_fail)
    with pytest.raises(RuntimeError):
        _run(app, "draw_due", "2026-12-01")
    assert _notes(db) == [] and _runs(db) == []  # the first notification was rolled back too
    monkeypatch.setattr(todo_module, "notify", real_notify)
    assert _run(app, "draw_due", "2026-12-01").status == "done"
    assert len(_notes(db)) == 2 and _runs(db) == [("draw_due", "2026-12")]


def test_an_unknown_job_is_refused(app):
    with pytest.raises(jobs.UnknownJob):
        _run(app, "finns_inte", "2026-12-01")


@pytest.mark.concurrency
@pytest.mark.parametrize("runners", [2, 4])
def test_runs_at_the_same_moment_make_one_jobrun_and_one_reminder_per_user(app, db, world, monkeypatch, runners):
    """Several schedulers started by mistake fire at the same moment. The job is slowed down
    so that the others really try while the first holds the uncommitted JobRun."""
    spec = jobs.JOBS["draw_due"]

    def slow_draw_due(session, today, *, config):
        summary = spec.func(session, today, config=config)
        time.sleep(0.4)
        return summary

    monkeypatch.setitem(jobs.JOBS, "draw_due", dataclasses.replace(spec, func=slow_draw_due))
    database = get_database(app)
    barrier = threading.Barrier(runners)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            barrier.wait()
            outcomes.append(jobs.run_job(database, "draw_due", d("2026-12-01"), app.config).status)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(runners)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(outcomes) == ["already_done"] * (runners - 1) + ["done"]
    assert _runs(db) == [("draw_due", "2026-12")]
    assert [u for u, _ in _notes(db)] == ["administrator", "sektionschef"]


# --- purge_sessions and send_email ----------------------------------------------------------


def test_purging_removes_expired_sessions_and_previews_once_a_day(app, db, world):
    now = utcnow()
    idle = app.config["SESSION_IDLE_TIMEOUT"]
    user = world["forste"]
    rows = {
        "fresh": UserSession(token_hash="a" * 64, user_id=user.id, csrf_token="x", created_dt=now, last_seen_dt=now),
        "idle": UserSession(token_hash="b" * 64, user_id=user.id, csrf_token="x", created_dt=now,
                            last_seen_dt=now - dt.timedelta(seconds=idle + 60)),
        "old": UserSession(token_hash="c" * 64, user_id=None, csrf_token="x",
                           created_dt=now - dt.timedelta(seconds=app.config["SESSION_ABSOLUTE_TIMEOUT"] + 60),
                           last_seen_dt=now),
    }
    db.add_all(rows.values())
    for key, age in (("p-old", dt.timedelta(hours=2)), ("p-new", dt.timedelta(minutes=5))):
        db.add(PendingImport(id=key, unit_id=world.ifo.id, user_id=user.id, created_dt=now - age,
                             source_filename="x.csv", sha256="0" * 64, previous_snapshot_id=None, payload=b"x"))
    db.commit()
    outcome = _run(app, "purge_sessions", "2026-12-01")
    assert outcome.status == "done" and outcome.period == "2026-12-01"
    assert outcome.summary == "2 utgångna sessioner borttagna."
    assert _run(app, "purge_previews", "2026-12-01").summary == "1 utgångna förhandsgranskningar borttagna."
    db.expire_all()
    assert db.scalars(select(UserSession.token_hash)).all() == ["a" * 64]
    assert db.scalars(select(PendingImport.id)).all() == ["p-new"]
    assert _run(app, "purge_sessions", "2026-12-01").status == "already_done"
    assert _run(app, "purge_sessions", "2026-12-02").status == "done"


def test_send_email_without_smtp_does_nothing_and_keeps_no_jobrun(app, db, world):
    outcome = _run(app, "send_email", "2026-12-01")
    assert outcome.status == "done" and outcome.period is None
    assert outcome.summary == "SMTP_HOST är inte satt: meddelanden visas bara i kontroll."
    assert _runs(db) == []


# --- the registry ---------------------------------------------------------------------------


def test_every_job_is_registered_with_a_schedule_and_a_swedish_description():
    assert set(jobs.JOBS) >= {"draw_due", "purge_sessions", "send_email"}
    for name, spec in jobs.JOBS.items():
        assert spec.name == name and spec.description and spec.schedule_label and spec.schedule
    assert jobs.JOBS["draw_due"].period(d("2026-12-15")) == "2026-12"
    assert jobs.JOBS["purge_sessions"].period(d("2026-12-15")) == "2026-12-15"
    assert jobs.JOBS["send_email"].period(d("2026-12-15")) is None


def test_a_new_job_is_one_decorated_function_in_the_list(app, db, world, monkeypatch):
    from kontroll.core.jobs import DAILY_0600, by_day, by_month, job

    monkeypatch.setattr(jobs, "JOBS", dict(jobs.JOBS))

    @job("count_users", period=by_month, schedule=DAILY_0600, schedule_label="varje dag",
         description="Räkna användarna")
    def count_users(session, today, *, config):
        return f"{session.scalar(select(func.count()).select_from(User))} användare."

    jobs.register(count_users)
    assert _run(app, "count_users", "2026-12-03").summary == f"{len(world.users)} användare."
    assert _run(app, "count_users", "2026-12-04").status == "already_done"
    with pytest.raises(ValueError):
        jobs.register(job("count_users", period=by_day, schedule={}, schedule_label="", description="")(count_users.func))


def test_every_feature_registers_its_own_jobs():
    """The list of jobs names each feature's module once; no job is defined outside its feature."""
    from kontroll.cases import jobs as cases_jobs
    from kontroll.checklists import jobs as checklists_jobs
    from kontroll.core import jobs as core_jobs
    from kontroll.genomgang import jobs as genomgang_jobs
    from kontroll.reviews import jobs as reviews_jobs
    from kontroll.sampling import jobs as sampling_jobs

    # notification-writing jobs first, housekeeping (and sending) last
    modules = (sampling_jobs, reviews_jobs, checklists_jobs, genomgang_jobs, cases_jobs, core_jobs)
    assert list(jobs.JOBS) == [spec.name for m in modules for spec in m.JOBS]
    assert list(jobs.JOBS)[-1] == "send_email"
    assert {spec.func.__module__ for spec in jobs.JOBS.values()} == {m.__name__ for m in modules}


@pytest.mark.parametrize(("day", "label"), [("2026-05-04", "maj 2026"), ("2027-03-01", "mars 2027")])
def test_titles_name_the_month_in_swedish(app, db, world, day, label):
    _run(app, "draw_due", day)
    db.expire_all()
    titles = set(db.scalars(select(Notification.title)))
    assert titles == {f"Dags att dra månadens stickprov för IFO-FS ({label})",
                      f"Dags att dra månadens stickprov för INT ({label})"}
