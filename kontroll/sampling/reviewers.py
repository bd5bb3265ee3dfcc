"""Choosing the reviewer of a drawn case, without självgranskning (docs/architecture.md,
invariants 2 and 10).

Rules enforced here, for every caller (pages, CLI, crafted requests):
- the one who drew never reviews a case of that draw; the case's handläggare never reviews
  it; with hemmablindhet protection on, the lead of the case's team does not review it;
- only someone who holds a reviewing role (förste socialsekreterare or enhetschef) in the unit
  itself reviews (``permissions.Job.REVIEWER``; org-wide roles never count). Only the
  hemmablindhet rule can be overridden, with a written justification that the nämnd reads
  (checked for personnummer and identifying text), and only when no reviewer exists who meets
  every rule; an override never widens who may review;
- a drawn case whose review is signed gets no new reviewer (the hooks' assignment guards).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.cases import handlaggare as handlaggare_rules
from kontroll.cases.models import SnapshotCase
from kontroll.core import audit
from kontroll.core.errors import ValidationError
from kontroll.core.hooks import hooks_of
from kontroll.core.models import RoleAssignment, Team, Unit, User
from kontroll.core.notifications import notify, page_path
from kontroll.core.periods import Period, late_after_months, period_label
from kontroll.core.permissions import (
    JOB_ROLE_TEXT,
    Job,
    Perm,
    PermissionDenied,
    can,
    job_holders_clause,
    may_hold,
)
from kontroll.db import config_of, utcnow
from kontroll.privacy.committee import check_committee_text
from kontroll.sampling.models import Assignment, DrawnCase

#: the longest written reason (a redraw's, an override's)
MAX_REASON = 5000


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
    label = period_label(draw.period)
    deadline = Period.parse(draw.period).deadline(late_after_months(config_of(session)))
    notify(session, reviewer, kind="review_assigned", dedupe_key=f"review_assigned:{assignment.id}",
           title=f"Du ska granska {drawn_case.case_ref} ({unit.code}, {label})",
           body=(f"{actor.full_name} har utsett dig att granska ärendet i stickprovet för {label}. "
                 f"Granskningen ska vara klarmarkerad senast {deadline.isoformat()}."),
           link=page_path("reviews.start", session=session, drawn_case_id=drawn_case.id))
    if current is not None and current.reviewer_id != actor.id:
        notify(session, current.reviewer_id, kind="review_unassigned", dedupe_key=f"review_unassigned:{current.id}",
               title=f"Du granskar inte längre {drawn_case.case_ref} ({unit.code}, {label})",
               body=f"{actor.full_name} har utsett en annan granskare för ärendet.")
    return assignment
