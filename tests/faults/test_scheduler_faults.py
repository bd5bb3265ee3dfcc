"""The scheduler killed during a job, and two schedulers at once: every period's work is done
exactly once.

A job's ``JobRun(job, period)`` row is inserted in the same transaction as the job's work and
committed with it (:func:`kontroll.jobs.run_job`), so there is no "running" row that a crash
could leave behind: a killed run takes its JobRun with it, and the next start runs the period
again. These tests show it with real ``kontroll scheduler`` processes killed with SIGKILL.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from kontroll.core.models import JobRun, Notification
from tests.support.faults import (
    ON_POSTGRES,
    START_TIMEOUT,
    paused_counts,
    pg_backend_gone,
    pg_backend_locks,
    pg_backend_state,
    sqlite_integrity,
    sqlite_write_lock_is_taken,
    wait_until,
)

pytestmark = pytest.mark.faults

#: a Monday in December 2026, after the month's first working day (the 1st)
TODAY = "2026-12-07"
#: what the catch-up at start does on TODAY for tests.support.app.World (see tests/jobs/test_scheduler.py)
CATCH_UP_RUNS = [
    ("draw_due", "2026-12"), ("genomgang_reminders", TODAY), ("late_reviews", TODAY),
    ("overdue_atgarder", TODAY), ("purge_previews", TODAY), ("purge_sessions", TODAY),
    ("template_revision", TODAY),
]
CATCH_UP_NOTIFICATIONS = 3  # draw_due: one drawer in each of the two units; genomgang_reminders: one
STARTED = r"^Schemaläggaren körs\."
DONE = re.compile(r"job (\w+) for (\S+) done in")
ALREADY = re.compile(r"job (\w+) for (\S+) already done")


def runs(db) -> list[tuple[str, str]]:
    db.rollback()
    rows = sorted(map(tuple, db.execute(select(JobRun.job, JobRun.period))))
    db.rollback()
    return rows


def notifications(db) -> list[str]:
    db.rollback()
    keys = sorted(db.scalars(select(Notification.dedupe_key)))
    db.rollback()
    return keys


def assert_clean_stderr(child) -> None:
    text = "\n".join(child.stderr)
    assert "Traceback" not in text and " ERROR " not in text, child.describe()


def test_a_scheduler_killed_during_a_job_leaves_nothing_and_the_next_start_catches_up(spawn, app, db, world,
                                                                                       database_url):
    # the scheduler starts and catches up; draw_due, the first job, is stopped halfway
    first = spawn(["scheduler", "run"], today=TODAY, pause_before="INSERT INTO notifications", pause_at=2,
                  count=("job_runs", "notifications"))
    inside = paused_counts(first.wait_for(r"^FAULT-PAUSED"))
    assert inside["job_runs"] == 1 and inside["notifications"] == 1, inside  # the lock row and one reminder
    if ON_POSTGRES:
        assert pg_backend_state(database_url, inside["backend"]) == "idle in transaction"
        assert ("job_runs", "RowExclusiveLock", True) in pg_backend_locks(database_url, inside["backend"])
    else:
        assert sqlite_write_lock_is_taken(database_url)
    assert runs(db) == [] and notifications(db) == []  # nothing is visible outside the transaction

    assert first.kill() == -9
    if ON_POSTGRES:
        pg_backend_gone(database_url, inside["backend"])
    else:
        assert not sqlite_write_lock_is_taken(database_url)
        assert sqlite_integrity(database_url) == ([("ok",)], [])
    # no JobRun left "running" or half done: the crash took the whole transaction with it
    assert runs(db) == [] and notifications(db) == []

    # the next start catches up: every job runs once, draw_due included
    second = spawn(["scheduler", "run"], today=TODAY)
    second.wait_for(STARTED)
    assert second.terminate() == 0, second.describe()
    assert_clean_stderr(second)
    done = sorted(DONE.findall("\n".join(second.stderr)))
    assert done == CATCH_UP_RUNS, second.describe()
    assert runs(db) == CATCH_UP_RUNS
    keys = notifications(db)
    assert len(keys) == CATCH_UP_NOTIFICATIONS == len(set(keys))
    assert sum(k.startswith("draw_due:") for k in keys) == 2

    # and the operator's run-job afterwards (or a third start) repeats nothing
    result = app.test_cli_runner().invoke(args=["scheduler", "run-job", "draw_due", "--date", TODAY])
    assert result.exit_code == 0 and result.output.startswith(
        "draw_due för 2026-12 är redan gjort; ingenting ändrades."), result.output
    assert runs(db) == CATCH_UP_RUNS and notifications(db) == keys


@pytest.mark.parametrize("command", [["scheduler", "run-job", "draw_due", "--date", TODAY], ["scheduler", "run"]],
                         ids=["run-job", "run"])
def test_two_scheduler_processes_at_once_run_each_job_once(spawn, app, db, world, database_url, tmp_path: Path,
                                                           command):
    """Both processes are held just before they insert draw_due's JobRun, then let go together:
    on PostgreSQL both have looked and found no JobRun, so they really race for the unique key;
    on SQLite the second one queues on BEGIN IMMEDIATE behind the first's write lock."""
    release = tmp_path / "go"
    options = dict(today=TODAY, pause_before="INSERT INTO job_runs", pause_at=1, release=release,
                   count=("job_runs",), announce_begin=True)
    one, two = spawn(command, **options), spawn(command, **options)
    if ON_POSTGRES:
        for child in (one, two):
            assert paused_counts(child.wait_for(r"^FAULT-PAUSED"))["job_runs"] == 0
    else:
        for child in (one, two):
            child.wait_for(r"^FAULT-BEGIN")  # each has tried to begin its transaction
        # one holds the write lock, paused; the other waits in BEGIN IMMEDIATE (busy timeout 15 s)
        wait_until(lambda: any(line.startswith("FAULT-PAUSED") for c in (one, two) for line in c.stdout),
                   START_TIMEOUT, "one scheduler to pause inside its transaction")
        time.sleep(0.3)
        assert one.proc.poll() is None and two.proc.poll() is None
        assert sqlite_write_lock_is_taken(database_url)
    release.touch()

    if command[1] == "run-job":
        codes = [one.wait(), two.wait()]
        assert codes == [0, 0], one.describe() + two.describe()
        outputs = ["\n".join(x for x in c.stdout if not x.startswith("FAULT-")) for c in (one, two)]
        outputs.sort(key=lambda text: "redan gjort" in text)  # the one that did the work first
        assert outputs[0].startswith("draw_due för 2026-12: 2 påminnelser om stickprovet för december 2026"), outputs
        assert outputs[1].startswith("draw_due för 2026-12 är redan gjort; ingenting ändrades."), outputs
        assert runs(db) == [("draw_due", "2026-12")]
        assert len(notifications(db)) == 2
    else:
        for child in (one, two):
            child.wait_for(STARTED)
        assert [one.terminate(), two.terminate()] == [0, 0], one.describe() + two.describe()
        logs = ["\n".join(c.stderr) for c in (one, two)]
        done = [sorted(DONE.findall(log)) for log in logs]
        already = [sorted(ALREADY.findall(log)) for log in logs]
        assert sorted(done[0] + done[1]) == CATCH_UP_RUNS, logs  # each job done by exactly one process
        assert sorted(done[0] + already[0]) == sorted(done[1] + already[1]) == CATCH_UP_RUNS, logs
        assert runs(db) == CATCH_UP_RUNS
        keys = notifications(db)
        assert len(keys) == CATCH_UP_NOTIFICATIONS == len(set(keys))
    for child in (one, two):
        assert_clean_stderr(child)


def test_a_stop_signal_while_the_scheduler_starts_stops_it_cleanly(app, monkeypatch):
    """SIGTERM (systemd stop, a deploy) may arrive after the handler is installed but before
    APScheduler runs: the scheduler must then stop at once with status 0, neither crash with
    SchedulerNotRunningError nor run on. The signal is delivered the moment it is installed."""
    import threading

    from kontroll import scheduler

    def deliver_at_once(signum, handler):
        if signum == scheduler.signal.SIGTERM:
            handler(signum, None)

    monkeypatch.setattr(scheduler, "catch_up", lambda app: [])
    monkeypatch.setattr(scheduler, "_configure_logging", lambda: None)
    monkeypatch.setattr(scheduler.signal, "signal", deliver_at_once)
    outcome = {}
    thread = threading.Thread(
        target=lambda: outcome.setdefault("result", app.test_cli_runner().invoke(args=["scheduler", "run"])),
        daemon=True,
    )
    thread.start()
    thread.join(15)
    assert not thread.is_alive(), "the scheduler ran on after SIGTERM"
    result = outcome["result"]
    assert result.exit_code == 0 and result.exception is None, (result.output, result.exception)
