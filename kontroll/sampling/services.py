"""The monthly draw, its verification, and reviewer assignment without självgranskning.

Rules enforced here, for every caller (pages, CLI, crafted requests):
- only the unit's drawer role draws; one valid draw per unit and month (a unique partial
  index is the final guard, a row lock on the unit serialises draws on PostgreSQL, and
  SQLite's BEGIN IMMEDIATE does the same there); a redraw needs a written reason and voids
  the earlier draw, which stays visible;
- the one who drew never reviews a case of that draw; the case's handläggare never reviews
  it; with hemmablindhet protection on, the lead of the case's team does not review it;
- only someone who holds a reviewing role (förste socialsekreterare or enhetschef) in the unit
  itself reviews (``permissions.Job.REVIEWER``; org-wide roles never count). Only the
  hemmablindhet rule can be overridden, with a written justification that the nämnd reads
  (checked for personnummer and identifying text), and only when no reviewer exists who meets
  every rule; an override never widens who may review.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from kontroll.cases import handlaggare as handlaggare_rules
from kontroll.cases.models import CaseListSnapshot, SnapshotCase
from kontroll.cases.services import (
    Diff,
    diff_against,
    latest_snapshot,
    stored_snapshot_digest,
)
from kontroll.core import audit, notifications
from kontroll.core.errors import ValidationError
from kontroll.core.hooks import hooks_of
from kontroll.core.models import RoleAssignment, Team, Unit, User
from kontroll.core.periods import Period, period_label
from kontroll.core.permissions import (
    JOB_ROLE_TEXT,
    Job,
    Perm,
    PermissionDenied,
    can,
    job_holders_clause,
    may_draw,
    may_hold,
)
from kontroll.core.timezone import local_date, local_datetime_text
from kontroll.db import utcnow
from kontroll.privacy.committee import check_committee_text
from kontroll.privacy.guard import check_text
from kontroll.sampling import method
from kontroll.sampling.models import Assignment, Draw, DrawnCase

MIN_REASON = 10
MAX_REASON = 5000


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
    ).tuples().all())
    for position, ref in enumerate(result.selected, start=1):
        session.add(DrawnCase(draw_id=draw.id, position=position, snapshot_case_id=ids[ref], case_ref=ref))
    session.flush()
    # the month's reminders to draw have done their work
    notifications.resolve(session, f"draw_due:{unit.code}:{period}:")
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


POPULATION_FORMAT = "kontroll-urvalsunderlag-v1"


def population_of(session: Session, snapshot_id: int) -> list[tuple[str, str]]:
    """(case_ref, team or "") of every case in a snapshot, by case_ref in code-point order: all
    that the draw depends on. Read through the driver's cursor: this is the hot path of
    drawing and verifying on large lists."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        sql = ("SELECT case_ref, coalesce(team, '') FROM snapshot_cases WHERE snapshot_id = %s "
               'ORDER BY case_ref COLLATE "C"')
    else:
        sql = "SELECT case_ref, coalesce(team, '') FROM snapshot_cases WHERE snapshot_id = ? ORDER BY case_ref"
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, (snapshot_id,))
        return cursor.fetchall()
    finally:
        cursor.close()


def population_digest(population: list[tuple[str, str]]) -> str:
    """SHA-256 over the header line and one ``case_ref TAB team`` line per case, in
    code-point order of case_ref (no team: empty), each ending in a line feed."""
    body = "\n".join(map("\t".join, population))
    text = POPULATION_FORMAT + "\n" + body + ("\n" if population else "")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class AlreadyDrawn(ValidationError):
    """Raised when a concurrent draw for the same unit and month won."""


# --- verification -------------------------------------------------------------------------


@dataclass
class Verification:
    ok: bool
    lines: list[str]
    #: sealed redactions of the snapshot's rows that this verification accounted for
    redactions: list[Any] = field(default_factory=list)


def _redaction_window(session: Session, draw: Draw) -> tuple[list[Any], bool]:
    """The sealed redactions of the draw's snapshot made after the draw, and whether they
    explain a changed snapshot: the draw verified just before the first of them, and each
    found the snapshot as the one before had left it. An unsealed record explains nothing."""
    from kontroll.privacy.models import sealed_snapshot_redactions, snapshot_redactions

    key = session.info.get("kontroll_audit_key")
    if len(snapshot_redactions(session, draw.snapshot_id)) != len(sealed := sealed_snapshot_redactions(
            session, draw.snapshot_id, key)):
        return [], False
    after = [r for r in sealed if r.redacted_dt > draw.drawn_dt]
    if not after:
        return [], False
    explained = draw.id in json.loads(after[0].draws_verified_before or "[]") and all(r.verified_before for r in after)
    return after, explained


def verify_draw(session: Session, draw: Draw, *, full: bool = True) -> Verification:
    """Re-read what the draw was made from, check it against the digests recorded at the
    draw, redo the draw from the stored seed and compare.

    ``full`` also recomputes the whole snapshot's SHA-256 (every stored field, not only
    those the draw depends on): slower on large lists, and what the page and CLI do.

    A personnummer removed from the snapshot after the draw (``kontroll privacy redact``)
    changes its hashes; a sealed redaction explains that change when the draw verified just
    before it and the snapshot now is what the redaction left. Then the verification says so,
    and a draw that can no longer be redone exactly (a case reference was redacted) is
    reported as verified at the time of the redaction.
    """
    lines: list[str] = []
    ok = True
    snapshot = session.get(CaseListSnapshot, draw.snapshot_id)
    assert snapshot is not None
    redactions, explained = _redaction_window(session, draw)
    latest = redactions[-1] if explained else None
    population = population_of(session, snapshot.id)
    population_now = population_digest(population)
    population_redacted = False
    if population_now == draw.population_sha256:
        lines.append(f"Urvalsunderlaget stämmer: {len(population)} ärenden med samma nummer och grupper som vid dragningen.")
    elif latest is not None and population_now == latest.population_sha256_after:
        population_redacted = True
        lines.append("Urvalsunderlaget har ändrats efter dragningen, men bara genom förseglad maskering av personnummer "
                     "(se nedan); det stämmer med läget efter maskeringen.")
    else:
        ok = False
        lines.append(
            "Ärendenumren eller grupperna i ärendelistan har ändrats sedan dragningen "
            "(urvalsunderlagets kontrollsumma stämmer inte)."
        )
    if full:
        digest, count = stored_snapshot_digest(session, snapshot.id)
        if digest == draw.snapshot_sha256 and digest == snapshot.sha256:
            lines.append(f"Ärendelistans kontrollsumma stämmer ({digest}).")
        elif latest is not None and digest == latest.snapshot_sha256_after and draw.snapshot_sha256 == snapshot.sha256:
            lines.append(f"Ärendelistans kontrollsumma före maskeringen stämde ({snapshot.sha256}); efter maskeringen är "
                         f"den {digest}, och det stämmer nu.")
        else:
            ok = False
            lines.append(
                "Ärendelistan stämmer inte med kontrollsumman som sparades vid dragningen: "
                f"sparad {draw.snapshot_sha256}, omräknad {digest}. Listan har ändrats efter dragningen."
            )
        if count != snapshot.row_count:
            ok = False
            lines.append(f"Ärendelistan har {count} rader men {snapshot.row_count} sparades vid importen.")
    result = _redo(draw, population, lines, ok)
    if population_redacted and not result.ok and ok:
        result = Verification(True, lines[:-1] + [
            "Dragningen kan inte göras om exakt, eftersom ett ärendenummer eller en grupp i underlaget maskerades efter "
            "dragningen. Den gjordes om och stämde när maskeringen gjordes."])
    if explained:
        from kontroll.privacy.models import describe

        result.lines.extend(describe(r) for r in redactions)
        result.redactions = list(redactions)
    return result


def _redo(draw: Draw, population: list[tuple[str, str]], lines: list[str], ok: bool) -> Verification:
    params = method.DrawParams(
        sample_size=draw.sample_size,
        stratify_by_team=draw.stratify_by_team,
        exclude_refs=frozenset(json.loads(draw.excluded_refs)),
    )
    selected = [c.case_ref for c in sorted(draw.cases, key=lambda c: c.position)]
    same, explanation = method.verify(
        population, draw.seed, params, selected, method_name=draw.method_name, method_version=draw.method_version
    )
    lines.append(explanation)
    return Verification(ok and same, lines)


# --- reviewers ----------------------------------------------------------------------------


@dataclass
class Candidate:
    user: User
    blocked: list[str]  # hard rules: never overridable
    soft: list[str]  # hemmablindhet: overridable with justification when nobody is eligible

    @property
    def eligible(self) -> bool:
        return not self.blocked and not self.soft


def _team_lead_id(session: Session, unit: Unit, team_name: str | None) -> int | None:
    if not team_name:
        return None
    return session.scalar(select(Team.lead_user_id).where(Team.unit_id == unit.id, Team.name == team_name))


def _is_handlaggare(user: User, case: SnapshotCase) -> bool:
    return handlaggare_rules.is_handlaggare(user, user_id=case.handlaggare_user_id, namn=case.handlaggare_namn,
                                      signatur=case.handlaggare_signatur)


def check_reviewer(session: Session, drawn_case: DrawnCase, user: User) -> Candidate:
    draw = drawn_case.draw
    unit = draw.unit
    case = drawn_case.snapshot_case
    blocked: list[str] = []
    soft: list[str] = []
    if not user.is_active:
        blocked.append("kontot är avstängt")
    if user.id == draw.drawn_by_id:
        blocked.append("drog stickprovet (självgranskning)")
    if _is_handlaggare(user, case):
        blocked.append("handlägger ärendet (självgranskning)")
    if not may_hold(user, Job.REVIEWER, unit):
        blocked.append(f"är inte {JOB_ROLE_TEXT[Job.REVIEWER]} i enheten")
    if unit.hemmablindhet_protection and _team_lead_id(session, unit, case.team) == user.id:
        soft.append(f"leder {case.team}, ärendets grupp (hemmablindhet)")
    return Candidate(user, blocked, soft)


def candidates(session: Session, drawn_case: DrawnCase) -> list[Candidate]:
    """Everyone with a reviewer role in the unit, each with the rules that stop them."""
    unit = drawn_case.draw.unit
    users = session.scalars(
        select(User)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(job_holders_clause(Job.REVIEWER, unit))
        .distinct()
        .order_by(User.full_name)
    ).all()
    return [check_reviewer(session, drawn_case, u) for u in users]


def assign_reviewer(
    session: Session,
    actor: User,
    drawn_case: DrawnCase,
    reviewer: User,
    *,
    override_reason: str | None = None,
) -> Assignment:
    draw = drawn_case.draw
    unit = draw.unit
    if not can(actor, Perm.ASSIGN_REVIEWER, unit):
        raise PermissionDenied("Bara sektionschefen utser granskare.")
    if draw.is_voided:
        raise ValidationError("Stickprovet är makulerat. Utse granskare i det giltiga stickprovet.")
    for guard in hooks_of(session).assignment_guards:
        guard(session, drawn_case.id)
    check = check_reviewer(session, drawn_case, reviewer)
    name = reviewer.full_name
    if check.blocked:
        raise ValidationError(f"{name} kan inte granska {drawn_case.case_ref}: {', '.join(check.blocked)}.", "reviewer")
    reason = " ".join((override_reason or "").split())
    override_rule = None
    if check.soft:
        eligible = [c.user.full_name for c in candidates(session, drawn_case) if c.eligible]
        if eligible:
            raise ValidationError(
                f"{name} kan inte granska {drawn_case.case_ref}: {', '.join(check.soft)}. "
                f"Välj någon som uppfyller reglerna: {', '.join(eligible)}.",
                "reviewer",
            )
        if len(reason) < 20:
            raise ValidationError(
                f"{name} {', '.join(check.soft)}. Ingen i enheten uppfyller alla regler för det här ärendet, "
                "så ett undantag är möjligt – men det kräver en skriftlig motivering (minst 20 tecken). "
                "Motiveringen visas i årssammanfattningen.",
                "override_reason",
            )
        if len(reason) > MAX_REASON:
            raise ValidationError(f"Motiveringen får vara högst {MAX_REASON} tecken.", "override_reason")
        # the nämnd reads it: no personnummer, case reference or name (docs/architecture.md, invariant 9)
        check_committee_text(session, reason, [unit.id], "Motiveringen till undantaget", "override_reason")
        override_rule = "hemmablindhet"
    now = utcnow()
    current = drawn_case.current_assignment
    if current is not None:
        if current.reviewer_id == reviewer.id:
            raise ValidationError(f"{name} är redan granskare för {drawn_case.case_ref}.", "reviewer")
        current.replaced_dt = now
        session.flush()
    assignment = Assignment(
        drawn_case_id=drawn_case.id,
        reviewer_id=reviewer.id,
        assigned_by_id=actor.id,
        assigned_dt=now,
        override_rule=override_rule,
        override_reason=reason if override_rule else None,
    )
    session.add(assignment)
    drawn_case.assignments.append(assignment)
    session.flush()
    audit.record(
        session,
        actor,
        "draw.assign",
        object_type="drawn_case",
        object_id=drawn_case.id,
        unit=unit,
        details={"case": drawn_case.case_ref, "reviewer": reviewer.username, "override_rule": override_rule,
                 "override_reason": assignment.override_reason,
                 "replaces": current.reviewer.username if current else None},
    )
    return assignment


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
