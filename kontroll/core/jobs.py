"""Scheduled jobs: what a job is, the runner that makes each run once, and the core's own jobs.

A job is ``func(session, today, *, config) -> str``: it does its work through the services
(which flush), returns a short Swedish summary, and needs no Flask request. It may raise
:class:`NotDue` when there is nothing to do on ``today`` (for example before the first working
day of the month); the runner then takes no lock, so a later day still runs it.

:func:`run_job` is the only way jobs run, from the scheduler (``kontroll scheduler run``), from
the CLI (``kontroll scheduler run-job NAME --date YYYY-MM-DD``) and from tests. For a job with
a period it first inserts ``JobRun(job, period)``: the unique key (job, period) is the lock
that makes the job run once per period across restarts, catch-up at start and two scheduler
processes started by mistake (on PostgreSQL the second insert waits for the first
transaction and then fails; on SQLite ``BEGIN IMMEDIATE`` queues the second run behind the
first). The job's changes and the finished ``JobRun`` are committed in one transaction, so a
failed run leaves nothing behind and runs again next time.

Each feature defines its jobs in its own ``jobs`` module with the :func:`job` decorator (which
makes a :class:`Job`) and lists them in ``JOBS``; :mod:`kontroll.jobs` is the one list of all
of them::

    @job("template_revision", period=by_day, schedule=DAILY_0600, schedule_label="varje dag kl. 06:00",
         description="Varna när en mall passerat sitt revideras_senast-datum")
    def template_revision(session, today, *, config):
        ...
        return f"{n} påminnelser."

Links in reminders are built from the routes (:func:`kontroll.core.notifications.page_path`), never
written as strings.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kontroll.core.auth import purge_expired_sessions
from kontroll.core.models import JobRun
from kontroll.core.notifications import send_pending_email
from kontroll.db import Database, utcnow

log = logging.getLogger(__name__)

#: CronTrigger fields (in the configured TIMEZONE). 06:00 is outside the DST change hours.
DAILY_0600: Mapping[str, Any] = {"hour": 6, "minute": 0}
EVERY_5_MINUTES: Mapping[str, Any] = {"minute": "*/5"}


# --- periods: what "once" means for a job ----------------------------------------------


def by_month(today: dt.date) -> str:
    return f"{today:%Y-%m}"


def by_day(today: dt.date) -> str:
    return today.isoformat()


def no_lock(_today: dt.date) -> None:
    """For jobs that may run any number of times (their own rows guard them)."""
    return None


# --- the registry --------------------------------------------------------------------------


class JobFunc(Protocol):
    def __call__(self, session: Session, today: dt.date, *, config: Mapping[str, Any]) -> str: ...


class NotDue(Exception):
    """Raised by a job that has nothing to do on this date; ``reason`` is Swedish."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownJob(KeyError):
    pass


@dataclass(frozen=True)
class Job:
    name: str
    func: JobFunc
    #: Swedish, for `kontroll scheduler list`
    description: str
    #: APScheduler CronTrigger fields, in the configured TIMEZONE
    schedule: Mapping[str, Any]
    #: Swedish description of the schedule
    schedule_label: str
    #: the period a run is for (the JobRun key), or None for no lock
    period: Callable[[dt.date], str | None] = by_day
    #: run once when the scheduler starts, so that a period missed while it was down is done
    catch_up: bool = True


def job(
    name: str,
    *,
    description: str,
    schedule: Mapping[str, Any],
    schedule_label: str,
    period: Callable[[dt.date], str | None] = by_day,
    catch_up: bool = True,
) -> Callable[[JobFunc], Job]:
    """Make a :class:`Job` of a job function (the feature lists it in its ``JOBS``)."""

    def make(func: JobFunc) -> Job:
        return Job(name, func, description, schedule, schedule_label, period, catch_up)

    return make


# --- the runner ----------------------------------------------------------------------------


@dataclass
class JobOutcome:
    job: str
    period: str | None
    #: done: ran and committed; already_done: the period's JobRun existed; not_due: nothing to do today
    status: Literal["done", "already_done", "not_due"]
    #: Swedish
    summary: str
    seconds: float = field(default=0.0)


def run_job(database: Database, spec: Job, today: dt.date, config: Mapping[str, Any]) -> JobOutcome:
    """Run ``spec`` for ``today`` at most once per period, in its application's context.
    Commits; raises on failure (after rolling back everything, the JobRun lock included, so
    the next run retries)."""
    from flask import has_app_context

    with nullcontext() if has_app_context() or database.app is None else database.app.app_context():
        return _run(database, spec, today, config)


def _run(database: Database, spec: Job, today: dt.date, config: Mapping[str, Any]) -> JobOutcome:
    name = spec.name
    period = spec.period(today)
    started = time.monotonic()
    session = database.sessionmaker()
    try:
        run: JobRun | None = None
        if period is not None:
            previous = session.scalar(select(JobRun).where(JobRun.job == name, JobRun.period == period))
            if previous is not None:
                outcome = _already_done(name, period, previous)
                session.rollback()
                return outcome
            run = JobRun(job=name, period=period, started_dt=utcnow())
            session.add(run)
            try:
                session.flush()
            except IntegrityError:
                # another process took the period a moment ago and has committed by now
                session.rollback()
                previous = session.scalar(select(JobRun).where(JobRun.job == name, JobRun.period == period))
                outcome = _already_done(name, period, previous)
                session.rollback()
                return outcome
        try:
            summary = spec.func(session, today, config=config)
        except NotDue as exc:
            session.rollback()
            log.info("job %s not due on %s: %s", name, today.isoformat(), exc.reason)
            return JobOutcome(name, period, "not_due", exc.reason, time.monotonic() - started)
        if run is not None:
            run.finished_dt = utcnow()
            run.result = summary
        session.commit()
    except BaseException:
        session.rollback()
        log.exception("job %s for %s failed; nothing was saved", name, period or today.isoformat())
        raise
    finally:
        session.close()
    seconds = time.monotonic() - started
    # jobs without a period run often (e-mail every five minutes): keep them out of the INFO log
    log.log(logging.INFO if period is not None else logging.DEBUG,
            "job %s for %s done in %.2f s: %s", name, period or today.isoformat(), seconds, summary)
    return JobOutcome(name, period, "done", summary, seconds)


def _already_done(name: str, period: str, previous: JobRun | None) -> JobOutcome:
    when = f" ({previous.started_dt:%Y-%m-%d %H:%M} UTC)" if previous is not None else ""
    log.info("job %s for %s already done%s", name, period, when)
    return JobOutcome(name, period, "already_done", f"Redan gjort för {period}{when}.")


def last_runs(session: Session) -> dict[str, JobRun]:
    """The latest JobRun of each job, for `kontroll scheduler list`."""
    latest = (
        select(JobRun.job, func.max(JobRun.id).label("id")).group_by(JobRun.job).subquery()
    )
    rows = session.scalars(select(JobRun).join(latest, JobRun.id == latest.c.id))
    return {r.job: r for r in rows}


# --- the core's own jobs ---------------------------------------------------------------------


@job(
    "purge_sessions",
    period=by_day,
    schedule=DAILY_0600,
    schedule_label="varje dag kl. 06:00",
    description="Ta bort utgångna inloggningssessioner",
)
def purge_sessions(session: Session, today: dt.date, *, config: Mapping[str, Any]) -> str:
    """Delete sessions past their idle or absolute lifetime. Expiry is measured from now,
    whatever ``today`` says."""
    sessions = purge_expired_sessions(
        session,
        idle_seconds=int(config["SESSION_IDLE_TIMEOUT"]),
        absolute_seconds=int(config["SESSION_ABSOLUTE_TIMEOUT"]),
        now=utcnow(),
    )
    return f"{sessions} utgångna sessioner borttagna."


@job(
    "send_email",
    period=no_lock,
    schedule=EVERY_5_MINUTES,
    schedule_label="var femte minut",
    description="Skicka nya meddelanden med e-post (när SMTP_HOST är satt)",
)
def send_email(session: Session, today: dt.date, *, config: Mapping[str, Any]) -> str:
    """E-mail pending notifications. SMTP trouble is logged and retried on the next run."""
    report = send_pending_email(session, config)
    if not report.configured:
        return "SMTP_HOST är inte satt: meddelanden visas bara i kontroll."
    text = f"{report.sent} {'e-postmeddelande' if report.sent == 1 else 'e-postmeddelanden'} skickade."
    if report.failed:
        text += f" {report.failed} kunde inte skickas."
    if report.error:
        text += " E-postservern svarade inte som väntat; nytt försök vid nästa körning."
    return text


JOBS = (purge_sessions, send_email)
