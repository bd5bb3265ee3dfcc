"""The scheduler: one process per installation, started with ``kontroll scheduler run``.

Never start it inside the web workers: APScheduler 3 keeps its jobs in the process, so every
gunicorn worker would run every job. Jobs are defined in code (``kontroll.jobs.JOBS``), with
no job store (SQLAlchemyJobStore pickles, and a store cannot be shared between processes
anyway). Every run goes through :func:`kontroll.jobs.run_job`, whose ``JobRun`` row makes it
idempotent, so a second scheduler started by mistake, a restart or the catch-up at start
never repeats a period's work.

Times: triggers are in ``TIMEZONE`` (Europe/Stockholm) at 06:00, outside the DST change hour
(02:00–03:00), where a cron time would fire twice or not at all; stored times are UTC.
``misfire_grace_time`` is six hours (APScheduler's default of one second silently skips a run
that starts late) and runs that piled up are coalesced into one.

Each job is also a command: ``kontroll scheduler run-job NAME [--date YYYY-MM-DD]`` calls the
same runner, so operators and tests can run a job for a fixed date.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import sys
import threading
import time
from typing import Any

import click
from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.schedulers import SchedulerNotRunningError
from flask import Flask, current_app
from flask.cli import AppGroup

from kontroll.core.timezone import local_today, local_zone
from kontroll.db import get_database
from kontroll.jobs import JOBS, JobOutcome, UnknownJob, last_runs, run_job

log = logging.getLogger(__name__)

#: a run that starts up to six hours late still runs (e.g. after the machine slept)
MISFIRE_GRACE_SECONDS = 6 * 60 * 60


def run_scheduled(app: Flask, name: str) -> JobOutcome | None:
    """What the scheduler calls: run a job for today; a failure is logged, never raised, so
    the scheduler carries on and the next run retries."""
    try:
        with app.app_context():
            return run_job(get_database(app), name, local_today(app.config), app.config)
    except Exception:  # noqa: BLE001 - run_job has logged it with the traceback
        return None


def catch_up(app: Flask) -> list[JobOutcome | None]:
    """Run every catch-up job once for today (each is idempotent through its JobRun), so a
    scheduler that was down on the first working day still reminds when it starts."""
    log.info("catching up: %s", ", ".join(n for n, j in JOBS.items() if j.catch_up))
    return [run_scheduled(app, name) for name, spec in JOBS.items() if spec.catch_up]


def build_scheduler(app: Flask) -> Any:
    """A BlockingScheduler with every registered job on its cron trigger (not started)."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    tz = local_zone(app.config)
    scheduler = BlockingScheduler(
        timezone=tz,
        job_defaults={"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_SECONDS, "max_instances": 1},
    )
    for name, spec in JOBS.items():
        scheduler.add_job(
            run_scheduled,
            CronTrigger(timezone=tz, **spec.schedule),
            args=(app, name),
            id=name,
            name=name,
        )
    return scheduler


def _configure_logging() -> None:
    """Log to stderr with UTC timestamps, unless the host configured logging already."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    formatter = logging.Formatter("%(asctime)sZ %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(logging.INFO)


# --- commands ------------------------------------------------------------------------------

scheduler_cli = AppGroup("scheduler", help="Schemalagda jobb: påminnelser, e-post och städning.")


@scheduler_cli.command("run")
def run_command() -> None:
    """Kör schemaläggaren (en process per installation, aldrig i webbprocesserna)."""
    _configure_logging()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    log.info("scheduler starting, time zone %s, jobs: %s", app.config["TIMEZONE"], ", ".join(JOBS))
    catch_up(app)
    scheduler = build_scheduler(app)
    stop_requested = threading.Event()

    def shutdown() -> None:
        try:
            scheduler.shutdown(wait=False)
        except SchedulerNotRunningError:
            pass  # not started yet: stop_if_requested() stops it as soon as it starts

    def stop(signum: int, _frame: Any) -> None:
        log.info("signal %s received: stopping the scheduler", signum)
        stop_requested.set()
        shutdown()

    def stop_if_requested(_event: Any) -> None:
        # a signal between here and scheduler.start() must not be lost (the scheduler would run
        # on) nor raise SchedulerNotRunningError (a traceback and exit status 1)
        if stop_requested.is_set():
            shutdown()

    scheduler.add_listener(stop_if_requested, EVENT_SCHEDULER_STARTED)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo("Schemaläggaren körs. Avsluta med Ctrl+C.")
    for job in scheduler.get_jobs():
        log.info("job %s: %s", job.id, job.trigger)
    scheduler.start()
    log.info("scheduler stopped")


@scheduler_cli.command("run-job")
@click.argument("name")
@click.option("--date", "date_text", default=None, metavar="ÅÅÅÅ-MM-DD",
              help="Dagen jobbet körs för (standard: i dag).")
def run_job_command(name: str, date_text: str | None) -> None:
    """Kör ett jobb nu, t.ex. `scheduler run-job draw_due --date 2026-12-01`."""
    config = current_app.config
    if date_text is None:
        today = local_today(config)
    else:
        try:
            today = dt.date.fromisoformat(date_text.strip())
        except ValueError:
            click.echo(f"Ogiltigt datum ”{date_text}”. Skriv datumet som ÅÅÅÅ-MM-DD.", err=True)
            sys.exit(1)
    try:
        outcome = run_job(get_database(current_app), name, today, config)
    except UnknownJob:
        click.echo(f"Okänt jobb ”{name}”. Jobben är: {', '.join(JOBS)}.", err=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - logged with its traceback by run_job
        click.echo(f"Jobbet {name} misslyckades och ingenting sparades: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    what = f"{name} för {outcome.period}" if outcome.period else name
    if outcome.status == "done":
        click.echo(f"{what}: {outcome.summary}")
    elif outcome.status == "already_done":
        click.echo(f"{what} är redan gjort; ingenting ändrades. {outcome.summary}")
    else:
        click.echo(f"{name} behöver inte köras {today.isoformat()}: {outcome.summary}")


@scheduler_cli.command("list")
def list_command() -> None:
    """Lista jobben, när de körs och när de senast kördes."""
    tz = local_zone(current_app.config)
    with get_database(current_app).session_scope() as session:
        latest = last_runs(session)
        for name, spec in JOBS.items():
            run = latest.get(name)
            if run is None:
                has_period = spec.period(local_today(current_app.config)) is not None
                last = "aldrig körd" if has_period else "körningar sparas inte"
            else:
                last = f"senast {run.period} ({run.started_dt.astimezone(tz):%Y-%m-%d %H:%M})"
            click.echo(f"{name}\t{spec.schedule_label}\t{last}\t{spec.description}")
