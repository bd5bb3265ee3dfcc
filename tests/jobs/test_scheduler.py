"""`kontroll scheduler …`: run-job for a fixed date, list, and the APScheduler wiring."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from kontroll import jobs, scheduler
from kontroll.core import todos as todo_module
from kontroll.core.models import JobRun, Notification
from tests.support.jobs import d

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def test_run_job_for_a_fixed_date(runner, db, world):
    result = runner.invoke(args=["scheduler", "run-job", "draw_due", "--date", "2027-01-01"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "draw_due behöver inte köras 2027-01-01: Månadens första arbetsdag är 2027-01-04; ingen påminnelse före den."
    )
    assert _count(db, Notification) == 0 and _count(db, JobRun) == 0

    result = runner.invoke(args=["scheduler", "run-job", "draw_due", "--date", "2027-01-04"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "draw_due för 2027-01: 2 påminnelser om stickprovet för januari 2027; 2 enheter saknar stickprov."
    )
    assert _count(db, Notification) == 2

    result = runner.invoke(args=["scheduler", "run-job", "draw_due", "--date", "2027-01-05"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("draw_due för 2027-01 är redan gjort; ingenting ändrades.")
    assert _count(db, Notification) == 2 and _count(db, JobRun) == 1


def test_run_job_without_a_date_runs_for_today_in_stockholm(runner, db, world, monkeypatch):
    monkeypatch.setattr(scheduler, "local_today", lambda config: d("2026-12-01"))
    result = runner.invoke(args=["scheduler", "run-job", "draw_due"])
    assert result.exit_code == 0 and result.output.startswith("draw_due för 2026-12: 2 påminnelser")


def test_local_today_is_the_date_in_stockholm(app):
    assert scheduler.local_today(app.config) == dt.datetime.now(STOCKHOLM).date()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scheduler", "run-job", "finns_inte"], "Okänt jobb ”finns_inte”. Jobben är: draw_due, overdue_atgarder, late_reviews, template_revision, genomgang_reminders, purge_previews, purge_sessions, send_email."),
        (["scheduler", "run-job", "draw_due", "--date", "2026-13-01"], "Ogiltigt datum ”2026-13-01”. Skriv datumet som ÅÅÅÅ-MM-DD."),
        (["scheduler", "run-job", "draw_due", "--date", "1/12"], "Ogiltigt datum ”1/12”. Skriv datumet som ÅÅÅÅ-MM-DD."),
    ],
)
def test_run_job_refusals_exit_1_in_swedish(runner, db, world, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert result.output.strip() == message
    assert _count(db, JobRun) == 0


def test_a_failing_job_exits_1_and_saves_nothing(runner, db, world, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("trasig")

    monkeypatch.setattr(todo_module, "notify", boom)
    result = runner.invoke(args=["scheduler", "run-job", "draw_due", "--date", "2026-12-01"])
    assert result.exit_code == 1
    assert "Jobbet draw_due misslyckades och ingenting sparades: RuntimeError: trasig" in result.output
    assert _count(db, JobRun) == 0 and _count(db, Notification) == 0


def test_list_shows_every_job_and_its_last_run(runner, world):
    result = runner.invoke(args=["scheduler", "list"])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["draw_due", "overdue_atgarder", "late_reviews", "template_revision",
                                                        "genomgang_reminders", "purge_previews", "purge_sessions", "send_email"]
    assert "aldrig körd" in lines[0] and "var femte minut" in lines[-1]
    runner.invoke(args=["scheduler", "run-job", "draw_due", "--date", "2026-12-01"])
    result = runner.invoke(args=["scheduler", "list"])
    assert "senast 2026-12 (" in result.output.splitlines()[0]


# --- the APScheduler wiring -----------------------------------------------------------------


def test_the_scheduler_has_every_job_on_a_cron_trigger_in_stockholm(app):
    from apscheduler.triggers.cron import CronTrigger

    sched = scheduler.build_scheduler(app)
    assert str(sched.timezone) == "Europe/Stockholm"
    assert sched._jobstores == {}  # no job store configured: APScheduler adds its in-memory one at start
    assert sched._job_defaults["coalesce"] is True
    assert sched._job_defaults["misfire_grace_time"] == 6 * 60 * 60
    assert sched._job_defaults["max_instances"] == 1
    pending = {job.id: job for job in sched.get_jobs()}
    assert set(pending) == set(jobs.JOBS)
    for job in pending.values():
        assert isinstance(job.trigger, CronTrigger) and str(job.trigger.timezone) == "Europe/Stockholm"
        assert job.func is scheduler.run_scheduled and job.args == (app, job.id)
    assert str(pending["draw_due"].trigger) == "cron[hour='6', minute='0']"
    assert str(pending["purge_sessions"].trigger) == "cron[hour='6', minute='0']"
    assert str(pending["send_email"].trigger) == "cron[minute='*/5']"


@pytest.mark.parametrize("start", ["2026-03-27", "2026-10-23"])
def test_the_daily_run_fires_once_a_day_at_six_across_the_dst_change(app, start):
    """On the DST Sundays (29 March, 25 October 2026) the 06:00 run still fires exactly once."""
    sched = scheduler.build_scheduler(app)
    trigger = next(job for job in sched.get_jobs() if job.id == "draw_due").trigger
    now = dt.datetime.combine(d(start), dt.time(7), STOCKHOLM)
    fires = []
    previous = None
    for _ in range(4):
        nxt = trigger.get_next_fire_time(previous, now)
        fires.append(nxt)
        previous, now = nxt, nxt + dt.timedelta(seconds=1)
    local = [f.astimezone(STOCKHOLM) for f in fires]
    assert [f.time() for f in local] == [dt.time(6)] * 4
    assert [(f.date() - local[0].date()).days for f in local] == [0, 1, 2, 3]
    offsets = {f.utcoffset() for f in local}
    assert len(offsets) == 2  # both sides of the change were crossed


def test_scheduler_run_catches_up_before_it_starts(runner, db, world, monkeypatch):
    started = {}

    def fake_start(self, *args, **kwargs):
        started["jobs"] = sorted(job.id for job in self.get_jobs())

    monkeypatch.setattr("apscheduler.schedulers.blocking.BlockingScheduler.start", fake_start)
    monkeypatch.setattr(scheduler, "_configure_logging", lambda: None)
    monkeypatch.setattr(scheduler.signal, "signal", lambda *args: None)
    monkeypatch.setattr(scheduler, "local_today", lambda config: d("2026-12-07"))  # down since the 1st
    result = runner.invoke(args=["scheduler", "run"])
    assert result.exit_code == 0, result.output
    assert "Schemaläggaren körs." in result.output
    assert started["jobs"] == sorted(jobs.JOBS)
    db.expire_all()
    assert _count(db, Notification) == 3  # draw_due: 2; genomgang_reminders: IFO-FS has no genomgång planned
    assert sorted(map(tuple, db.execute(select(JobRun.job, JobRun.period)))) == [
        ("draw_due", "2026-12"), ("genomgang_reminders", "2026-12-07"), ("late_reviews", "2026-12-07"), ("overdue_atgarder", "2026-12-07"),
        ("purge_previews", "2026-12-07"), ("purge_sessions", "2026-12-07"), ("template_revision", "2026-12-07"),
    ]
    # a second scheduler (or a restart) the same day repeats nothing
    result = runner.invoke(args=["scheduler", "run"])
    assert result.exit_code == 0 and _count(db, Notification) == 3 and _count(db, JobRun) == 7


def test_a_failing_scheduled_run_is_logged_not_raised(app, world, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("trasig")

    monkeypatch.setattr(todo_module, "notify", boom)
    monkeypatch.setattr(scheduler, "local_today", lambda config: d("2026-12-01"))
    assert scheduler.run_scheduled(app, "draw_due") is None
    outcome = scheduler.run_scheduled(app, "purge_sessions")
    assert outcome is not None and outcome.status == "done"
