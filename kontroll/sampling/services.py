"""The monthly draw as services: the draw page, drawing, and a unit's and a case's history.

Rules enforced here, for every caller (pages, CLI, crafted requests): only the unit's drawer
role draws; one valid draw per unit and month (a unique partial index is the final guard, a
row lock on the unit serialises draws on PostgreSQL, and SQLite's BEGIN IMMEDIATE does the
same there); a redraw needs a written reason and voids the earlier draw, which stays visible.

Verification is in :mod:`kontroll.sampling.verification`, choosing reviewers in
:mod:`kontroll.sampling.reviewers`; both are re-exported here so that callers import the
feature's services from one module.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from kontroll.cases.models import CaseListSnapshot, SnapshotCase
from kontroll.cases.services import (
    Diff,
    diff_against,
    latest_snapshot,
)
from kontroll.core import audit, notifications
from kontroll.core.errors import ValidationError
from kontroll.core.models import Unit, User
from kontroll.core.periods import Period, period_label
from kontroll.core.permissions import Perm, PermissionDenied, holders_in, may_draw
from kontroll.core.timezone import local_date, local_datetime_text
from kontroll.db import utcnow
from kontroll.privacy.guard import check_text
from kontroll.sampling import method
from kontroll.sampling.models import Assignment, Draw, DrawnCase
from kontroll.sampling.reviewers import (
    MAX_REASON,
    Candidate,
    assign_reviewer,
    candidates,
    check_reviewer,
)
from kontroll.sampling.verification import (
    POPULATION_FORMAT,
    Verification,
    population_digest,
    population_of,
    verify_draw,
)

__all__ = [  # the feature's services, with those of its two companions
    "MAX_REASON", "MIN_REASON", "POPULATION_FORMAT", "AlreadyDrawn", "Candidate", "DrawPageState", "Verification",
    "assign_reviewer", "candidates", "case_history", "case_in_unit", "check_reviewer", "count_valid_draws",
    "draw_page_state", "draws_for_unit", "excluded_refs", "load_draw", "overrides_for_year", "population_digest",
    "population_of", "run_draw", "valid_draw", "verify_draw",
]

MIN_REASON = 10


# --- the draw page ------------------------------------------------------------------------


@dataclass
class DrawPageState:
    unit: Unit
    period: str
    snapshot: CaseListSnapshot | None
    current: Draw | None
    warnings: list[str] = field(default_factory=list)
    diff: Diff | None = None
    last_month_snapshot: CaseListSnapshot | None = None


def valid_draw(session: Session, unit: Unit, period: str) -> Draw | None:
    return session.scalar(
        select(Draw).where(Draw.unit_id == unit.id, Draw.period == period, Draw.voided_dt.is_(None))
    )


def draw_page_state(session: Session, unit: Unit, period: str, now: dt.datetime | None = None) -> DrawPageState:
    now = now or utcnow()
    snapshot = latest_snapshot(session, unit)
    state = DrawPageState(unit=unit, period=period, snapshot=snapshot, current=valid_draw(session, unit, period))
    if snapshot is None:
        state.warnings.append("Enheten har ingen importerad ärendelista. Importera månadens ärendelista först.")
        return state
    if Period.of(snapshot.imported_dt) < Period.parse(period):
        state.warnings.append(
            f"Den senaste ärendelistan importerades {local_date(snapshot.imported_dt).isoformat()}, "
            f"före {period_label(period)}. Importera en aktuell lista innan du drar."
        )
    age = (now - snapshot.imported_dt).days
    if age > unit.snapshot_max_age_days:
        state.warnings.append(
            f"Ärendelistan är {age} dagar gammal (gränsen är {unit.snapshot_max_age_days} dagar)."
        )
    last = valid_draw(session, unit, str(Period.parse(period).previous()))
    if last is not None and last.snapshot_id != snapshot.id:
        state.last_month_snapshot = last.snapshot
        rows = list(session.scalars(select(SnapshotCase).where(SnapshotCase.snapshot_id == snapshot.id)))
        state.diff = diff_against(session, last.snapshot, rows)  # type: ignore[arg-type]
    return state


# --- drawing ------------------------------------------------------------------------------


def excluded_refs(session: Session, unit: Unit, period: str, months: int) -> frozenset[str]:
    """Cases drawn in a valid draw of ``unit`` in the ``months`` months before ``period``."""
    if months <= 0:
        return frozenset()
    periods = [str(p) for p in Period.parse(period).before(months)]
    rows = session.scalars(
        select(DrawnCase.case_ref)
        .join(Draw, Draw.id == DrawnCase.draw_id)
        .where(Draw.unit_id == unit.id, Draw.period.in_(periods), Draw.voided_dt.is_(None))
    )
    return frozenset(rows)


def _lock_unit(session: Session, unit: Unit) -> None:
    """Serialise draws for one unit: a row lock on PostgreSQL (SQLite's BEGIN IMMEDIATE
    already serialises every writer)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Unit.id).where(Unit.id == unit.id).with_for_update())


def run_draw(
    session: Session,
    actor: User,
    unit: Unit,
    period: str,
    *,
    redraw_reason: str | None = None,
    now: dt.datetime | None = None,
    seed: str | None = None,
) -> Draw:
    """Draw the month's stickprov (flushes; the caller commits). ``seed`` is for tests only:
    in service the seed always comes from the operating system's entropy."""
    if not may_draw(actor, unit):
        raise PermissionDenied(
            f"I {unit.code} dras stickprovet av {unit.drawer_role.label.lower()}. Du har inte den rollen där."
        )
    period = str(Period.parse(period))
    _lock_unit(session, unit)
    existing = valid_draw(session, unit, period)
    reason = " ".join((redraw_reason or "").split())
    if existing is not None and redraw_reason is None:
        raise ValidationError(
            f"Stickprovet för {period_label(period)} är redan draget, av {existing.drawn_by.full_name} "
            f"{local_datetime_text(existing.drawn_dt)}. Ett nytt stickprov kräver en omdragning med motivering."
        )
    if redraw_reason is not None:
        if existing is None:
            raise ValidationError(f"Det finns inget stickprov för {period_label(period)} att dra om.")
        if len(reason) < MIN_REASON:
            raise ValidationError(
                f"Skriv varför stickprovet dras om (minst {MIN_REASON} tecken). Motiveringen sparas och visas.",
                "reason",
            )
        if len(reason) > MAX_REASON:
            raise ValidationError(f"Motiveringen får vara högst {MAX_REASON} tecken.", "reason")
        check_text(reason, "Motiveringen till omdragningen", "reason")
    snapshot = latest_snapshot(session, unit)
    if snapshot is None:
        raise ValidationError("Enheten har ingen importerad ärendelista att dra från. Importera den först.")
    now = now or utcnow()
    if existing is not None:
        existing.voided_dt = now
        existing.voided_by_id = actor.id
        existing.void_reason = reason
        session.flush()
    exclude = excluded_refs(session, unit, period, unit.exclude_reviewed_months)
    population = population_of(session, snapshot.id)
    params = method.DrawParams(
        sample_size=unit.sample_size, stratify_by_team=unit.stratify_by_team, exclude_refs=exclude
    )
    seed = seed or method.new_seed()
    try:
        result = method.draw(population, seed, params)
    except ValueError as exc:
        raise ValidationError(f"Stickprovet kunde inte dras: {exc}") from exc
    draw = Draw(
        unit_id=unit.id,
        period=period,
        snapshot_id=snapshot.id,
        snapshot_sha256=snapshot.sha256,
        population_sha256=population_digest(population),
        seed=seed,
        method_name=result.method_name,
        method_version=result.method_version,
        sample_size=unit.sample_size,
        stratify_by_team=unit.stratify_by_team,
        exclude_months=unit.exclude_reviewed_months,
        excluded_refs=json.dumps(sorted(exclude), ensure_ascii=False),
        population_size=result.population_size,
        eligible_size=result.eligible_size,
        allocation=json.dumps(result.allocation, ensure_ascii=False, sort_keys=True) if result.allocation else None,
        drawn_by_id=actor.id,
        drawn_dt=now,
        replaces_id=existing.id if existing else None,
    )
    session.add(draw)
    try:
        session.flush()
    except IntegrityError as exc:
        # someone else's draw for the same unit and month committed first
        raise AlreadyDrawn(f"Stickprovet för {period_label(period)} drogs nyss av någon annan. Ladda om sidan.") from exc
    ids = dict(session.execute(
        select(SnapshotCase.case_ref, SnapshotCase.id).where(
            SnapshotCase.snapshot_id == snapshot.id, SnapshotCase.case_ref.in_(result.selected)
        )
    ).all())
    for position, ref in enumerate(result.selected, start=1):
        session.add(DrawnCase(draw_id=draw.id, position=position, snapshot_case_id=ids[ref], case_ref=ref))
    session.flush()
    # the month's reminders to draw have done their work; those who choose reviewers are told
    notifications.resolve(session, f"draw_due:{unit.code}:{period}:")
    notifications.notify_each(
        session, [u for u in holders_in(session, Perm.ASSIGN_REVIEWER, unit) if u.id != actor.id],
        key=f"draw_made:{draw.id}", kind="draw_made",
        title=f"Stickprovet för {period_label(period)} är draget i {unit.code}: utse granskare",
        body=f"{actor.full_name} drog {len(result.selected)} ärenden. Utse en granskare för varje ärende.",
        link=notifications.page_path("sampling.draw_detail", session=session, code=unit.code, draw_id=draw.id),
    )
    audit.record(
        session,
        actor,
        "draw.redraw" if existing else "draw.create",
        object_type="draw",
        object_id=draw.id,
        unit=unit,
        details={
            "period": period, "seed": seed, "snapshot_id": snapshot.id, "snapshot_sha256": snapshot.sha256,
            "method": f"{result.method_name} v{result.method_version}", "cases": result.selected,
            "replaces": existing.id if existing else None, "reason": reason or None,
        },
    )
    return draw


class AlreadyDrawn(ValidationError):
    """Raised when a concurrent draw for the same unit and month won."""


# --- history ------------------------------------------------------------------------------


def draws_for_unit(session: Session, unit: Unit, limit: int = 24) -> list[Draw]:
    return list(
        session.scalars(
            select(Draw).where(Draw.unit_id == unit.id).order_by(Draw.period.desc(), Draw.drawn_dt.desc()).limit(limit)
        )
    )


def load_draw(session: Session, draw_id: int) -> Draw | None:
    return session.scalar(
        select(Draw)
        .where(Draw.id == draw_id)
        .options(
            selectinload(Draw.cases).selectinload(DrawnCase.snapshot_case),
            selectinload(Draw.cases).selectinload(DrawnCase.assignments),
        )
    )


def case_history(session: Session, unit: Unit, case_ref: str) -> list[DrawnCase]:
    return list(
        session.scalars(
            select(DrawnCase)
            .join(Draw, Draw.id == DrawnCase.draw_id)
            .where(Draw.unit_id == unit.id, DrawnCase.case_ref == case_ref)
            .order_by(Draw.drawn_dt.desc())
        )
    )


def case_in_unit(session: Session, unit: Unit, case_ref: str) -> SnapshotCase | None:
    """The case as it stands in the unit's latest list that holds it."""
    return session.scalar(
        select(SnapshotCase)
        .join(CaseListSnapshot, CaseListSnapshot.id == SnapshotCase.snapshot_id)
        .where(CaseListSnapshot.unit_id == unit.id, SnapshotCase.case_ref == case_ref)
        .order_by(CaseListSnapshot.imported_dt.desc())
        .limit(1)
    )


def overrides_for_year(session: Session, unit: Unit, year: int) -> list[Assignment]:
    """Separation-rule overrides of the year, for the yearly summary."""
    return list(
        session.scalars(
            select(Assignment)
            .join(DrawnCase, DrawnCase.id == Assignment.drawn_case_id)
            .join(Draw, Draw.id == DrawnCase.draw_id)
            .where(Draw.unit_id == unit.id, Draw.period.like(f"{year:04d}-%"), Assignment.override_rule.is_not(None))
        )
    )


def count_valid_draws(session: Session, unit: Unit, year: int) -> int:
    return session.scalar(
        select(func.count()).select_from(Draw).where(
            Draw.unit_id == unit.id, Draw.period.like(f"{year:04d}-%"), Draw.voided_dt.is_(None)
        )
    ) or 0
