"""Scheduled jobs: plain functions, a registry, and the runner that makes each run once.

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

Adding a job (overdue reviews, template revision, genomgång reminders…) is one function with
the :func:`job` decorator::

    @job("template_revision", period=by_month, schedule=DAILY_0600, schedule_label="varje dag kl. 06:00",
         description="Varna när en mall passerat sitt revideras_senast-datum")
    def template_revision(session, today, *, config):
        ...
        return f"{n} påminnelser."
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import quote

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kontroll.cases.models import PendingImport
from kontroll.cases.services import PENDING_LIFETIME, purge_pending
from kontroll.core.auth import purge_expired_sessions
from kontroll.core.models import JobRun, RoleAssignment, Unit, User
from kontroll.core.notifications import notify, send_pending_email
from kontroll.core.workdays import first_working_day
from kontroll.db import Database, utcnow
from kontroll.sampling.models import Draw
from kontroll.core.periods import Period, late_after_months, period_label

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


JOBS: dict[str, Job] = {}


def job(
    name: str,
    *,
    description: str,
    schedule: Mapping[str, Any],
    schedule_label: str,
    period: Callable[[dt.date], str | None] = by_day,
    catch_up: bool = True,
) -> Callable[[JobFunc], JobFunc]:
    """Register a job function under ``name``."""

    def register(func: JobFunc) -> JobFunc:
        if name in JOBS:
            raise ValueError(f"job {name!r} registered twice")
        JOBS[name] = Job(name, func, description, schedule, schedule_label, period, catch_up)
        return func

    return register


def get_job(name: str) -> Job:
    try:
        return JOBS[name]
    except KeyError:
        raise UnknownJob(name) from None


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


def run_job(database: Database, name: str, today: dt.date, config: Mapping[str, Any]) -> JobOutcome:
    """Run job ``name`` for ``today`` at most once per period. Commits; raises on failure
    (after rolling back everything, the JobRun lock included, so the next run retries)."""
    spec = get_job(name)
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


# --- the jobs --------------------------------------------------------------------------------


@job(
    "draw_due",
    period=by_month,
    schedule=DAILY_0600,
    schedule_label="varje dag kl. 06:00; påminner en gång per månad, från månadens första arbetsdag",
    description="Påminn den som drar stickprovet när enheten saknar stickprov för månaden",
)
def draw_due(session: Session, today: dt.date, *, config: Mapping[str, Any]) -> str:
    """On or after the month's first working day: remind each active holder of the unit's
    drawer role, in every active unit without a valid draw for the month."""
    first = first_working_day(today.year, today.month)
    if today < first:
        raise NotDue(f"Månadens första arbetsdag är {first.isoformat()}; ingen påminnelse före den.")
    period = by_month(today)
    label = period_label(period)  # "december 2026"
    has_valid_draw = exists().where(Draw.unit_id == Unit.id, Draw.period == period, Draw.voided_dt.is_(None))
    units = list(session.scalars(select(Unit).where(Unit.is_active.is_(True), ~has_valid_draw).order_by(Unit.code)))
    created = 0
    nobody: list[str] = []
    for unit in units:
        drawers = list(
            session.scalars(
                select(User)
                .join(RoleAssignment, RoleAssignment.user_id == User.id)
                .where(
                    RoleAssignment.unit_id == unit.id,
                    RoleAssignment.role == unit.drawer_role,
                    User.is_active.is_(True),
                )
                .order_by(User.id)
            )
        )
        if not drawers:
            nobody.append(unit.code)
            log.warning("unit %s has no active %s: nobody to remind of the draw", unit.code, unit.drawer_role.value)
        for user in drawers:
            notification = notify(
                session,
                user,
                kind="draw_due",
                title=f"Dags att dra månadens stickprov för {unit.code} ({label})",
                body=(
                    f"{unit.name} har inget stickprov för {label} ännu. Du drar det som "
                    f"{unit.drawer_role.label.lower()} för enheten. Kontrollera först att den senaste "
                    "ärendelistan är aktuell."
                ),
                link=f"/enheter/{quote(unit.code, safe='')}/stickprov",
                dedupe_key=f"draw_due:{unit.code}:{period}:{user.id}",
            )
            created += notification is not None
    summary = (
        f"{created} {'påminnelse' if created == 1 else 'påminnelser'} om stickprovet för {label}; "
        f"{len(units)} {'enhet saknar' if len(units) == 1 else 'enheter saknar'} stickprov."
    )
    if nobody:
        summary += f" Ingen att påminna i: {', '.join(nobody)}."
    return summary


@job(
    "purge_sessions",
    period=by_day,
    schedule=DAILY_0600,
    schedule_label="varje dag kl. 06:00",
    description="Ta bort utgångna inloggningssessioner och förhandsgranskningar av ärendelistor",
)
def purge_sessions(session: Session, today: dt.date, *, config: Mapping[str, Any]) -> str:
    """Delete sessions past their idle or absolute lifetime and expired import previews.
    Expiry is measured from now, whatever ``today`` says."""
    now = utcnow()
    sessions = purge_expired_sessions(
        session,
        idle_seconds=int(config["SESSION_IDLE_TIMEOUT"]),
        absolute_seconds=int(config["SESSION_ABSOLUTE_TIMEOUT"]),
        now=now,
    )
    previews = session.scalar(
        select(func.count()).select_from(PendingImport).where(PendingImport.created_dt < now - PENDING_LIFETIME)
    ) or 0
    purge_pending(session, now)
    return f"{sessions} utgångna sessioner och {previews} utgångna förhandsgranskningar borttagna."


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


# --- reviews, åtgärder and templates ------------------------------------------------------


def _users_with_role(session: Session, role: Any, unit: Unit | None = None) -> list[User]:
    query = (
        select(User)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.role == role, User.is_active.is_(True))
        .distinct()
        .order_by(User.id)
    )
    if unit is not None:
        query = query.where(RoleAssignment.unit_id == unit.id)
    return list(session.scalars(query))


def _notify_each(session: Session, people: list[User | None], *, key: str, **message: Any) -> int:
    """Notify each distinct active person once; the dedupe key is ``f"{key}:{user.id}"``.
    Returns how many notifications are new."""
    unique = {u.id: u for u in people if u is not None and u.is_active}
    return sum(
        notify(session, user, dedupe_key=f"{key}:{user.id}", **message) is not None for user in unique.values()
    )


@job(
    "overdue_atgarder",
    period=by_day,
    schedule=DAILY_0600,
    schedule_label="varje dag kl. 06:00",
    description="Påminn ägaren och sektionschefen om åtgärder som passerat sitt slutdatum",
)
def overdue_atgarder(session: Session, today: dt.date, *, config: Mapping[str, Any]) -> str:
    """Once per åtgärd and person: the owner and the unit's sektionschefer."""
    from kontroll.core.models import Role
    from kontroll.reviews.services import overdue_atgarder as overdue

    created = total = 0
    for unit in session.scalars(select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.code)):
        chefs = _users_with_role(session, Role.SEKTIONSCHEF, unit)
        for atgard in overdue(session, unit, today):
            total += 1
            created += _notify_each(
                session, [atgard.owner, *chefs], key=f"atgard_overdue:{atgard.id}", kind="atgard_overdue",
                title=f"Åtgärd i {unit.code} är försenad (slutdatum {atgard.due_date.isoformat()})",
                body=f"Åtgärden ”{atgard.description[:200]}” skulle ha varit genomförd {atgard.due_date.isoformat()}.",
                link=f"/enheter/{quote(unit.code, safe='')}/atgarder/{atgard.id}",
            )
    return f"{total} försenade åtgärder; {created} nya påminnelser."


@job(
    "late_reviews",
    period=by_day,
    schedule=DAILY_0600,
    schedule_label="varje dag kl. 06:00",
    description="Påminn granskare och sektionschef om dragna ärenden som inte klarmarkerats i tid",
)
def late_reviews(session: Session, today: dt.date, *, config: Mapping[str, Any]) -> str:
    """A drawn case not signed by the end of the month after its draw month (configurable:
    REVIEW_LATE_AFTER_MONTHS) is försenad: once per case and person, the current reviewer and
    the unit's sektionschefer are told."""
    from kontroll.core.models import Role
    from kontroll.reviews.services import month_overview
    months = late_after_months(config)
    created = late = 0
    periods = [str(p) for p in Period.of(today).before(months + 6)]
    for unit in session.scalars(select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.code)):
        chefs = _users_with_role(session, Role.SEKTIONSCHEF, unit)
        for period in periods:
            overview = month_overview(session, unit, period, today, months)
            for row in overview.rows:
                if row.state != "försenad":
                    continue
                late += 1
                created += _notify_each(
                    session, [row.reviewer, *chefs], key=f"review_late:{row.drawn_case.id}", kind="review_late",
                    title=f"Granskningen av {row.drawn_case.case_ref} ({unit.code}, {period_label(period)}) är försenad",
                    body=f"Den skulle ha varit klarmarkerad senast {overview.deadline.isoformat()}.",
                    link=f"/enheter/{quote(unit.code, safe='')}/granskningar?period={period}",
                )
    return f"{late} försenade granskningar; {created} nya påminnelser."


@job(
    "template_revision",
    period=by_day,
    schedule=DAILY_0600,
    schedule_label="varje dag kl. 06:00",
    description="Påminn sektionschefer och systemadministratörer när en mall passerat revideras_senast",
)
def template_revision(session: Session, today: dt.date, *, config: Mapping[str, Any]) -> str:
    """Once per template version and person."""
    from kontroll.core.models import Role
    from kontroll.checklists.services import checklists_directory, file_templates

    templates = [t for t in file_templates(checklists_directory(config)).values() if t.is_overdue(today)]
    people: list[User | None] = [
        u for role in (Role.SEKTIONSCHEF, Role.SYSTEMADMINISTRATOR) for u in _users_with_role(session, role)
    ]
    created = 0
    for template in templates:
        created += _notify_each(
            session, people, key=f"template_revision:{template.id}:{template.version}", kind="template_revision",
            title=f"Mallen ”{template.title}” skulle ha reviderats senast {template.revideras_senast.isoformat()}",
            body=(f"Mallen {template.id} version {template.version} är fastställd {template.faststalld.isoformat()} "
                  f"av {template.faststalld_av}; ansvarig funktion: {template.ansvarig_funktion}. "
                  "Den går att använda, men behöver ses över."),
            link=None,
        )
    return f"{len(templates)} mallar har passerat revideringsdatum; {created} nya påminnelser."


# --- genomgångar ---------------------------------------------------------------------------------

#: how many days before a planned genomgång its förste socialsekreterare are reminded
GENOMGANG_REMINDER_DAYS = 7


@job(
    "genomgang_reminders",
    period=by_day,
    schedule=DAILY_0600,
    schedule_label="varje dag kl. 06:00",
    description="Påminn om planerade genomgångar en vecka i förväg, och sektionschefen när årets mål inte nås",
)
def genomgang_reminders(session: Session, today: dt.date, *, config: Mapping[str, Any]) -> str:
    """A week (or less) before a planned genomgång: each förste socialsekreterare of the unit,
    once per plan date and person. When the unit's year plan cannot meet its target
    (:func:`kontroll.genomgang.services.assess_year`): its sektionschefer, once per quarter."""
    from kontroll.core.models import Role
    from kontroll.genomgang import services as genomgang
    from kontroll.genomgang.models import Genomgang, GenomgangState

    horizon = today + dt.timedelta(days=GENOMGANG_REMINDER_DAYS)
    quarter = (today.month - 1) // 3 + 1
    created = upcoming = behind = 0
    for unit in session.scalars(select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.code)):
        code = quote(unit.code, safe="")
        soon = list(session.scalars(select(Genomgang).where(
            Genomgang.unit_id == unit.id, Genomgang.state == GenomgangState.PLANERAD.value,
            Genomgang.planned_on >= today, Genomgang.planned_on <= horizon).order_by(Genomgang.planned_on)))
        forste = _users_with_role(session, Role.FORSTE_SOCIALSEKRETERARE, unit) if soon else []
        for g in soon:
            upcoming += 1
            for user in forste:
                created += notify(
                    session, user, kind="genomgang_soon",
                    title=f"Genomgång i {unit.code} den {g.planned_on.isoformat()}",
                    body=(f"{unit.name} har en genomgång av alla aktuella ärenden planerad den "
                          f"{g.planned_on.isoformat()}. Se till att ärendelistan är aktuell innan ni startar."),
                    link=f"/enheter/{code}/genomgangar/{g.id}",
                    dedupe_key=f"genomgang_soon:{unit.code}:{g.planned_on.isoformat()}:{user.id}",
                ) is not None
        assessment = genomgang.assess_unit_year(session, unit, today.year)
        if assessment.target_unreachable:
            behind += 1
            for user in _users_with_role(session, Role.SEKTIONSCHEF, unit):
                created += notify(
                    session, user, kind="genomgang_behind",
                    title=f"{unit.code} når inte målet för genomgångar {today.year}",
                    body=" ".join(assessment.target_warnings),
                    link=f"/enheter/{code}/genomgangar?ar={today.year}",
                    dedupe_key=f"genomgang_behind:{unit.code}:{today.year}-Q{quarter}:{user.id}",
                ) is not None
    return (f"{upcoming} {'genomgång' if upcoming == 1 else 'genomgångar'} inom en vecka; "
            f"{behind} {'enhet' if behind == 1 else 'enheter'} når inte årets mål; "
            f"{created} {'ny påminnelse' if created == 1 else 'nya påminnelser'}.")
