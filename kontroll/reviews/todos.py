"""The reviews' to-dos: the reviewer's cases to review and återkoppling to give; late reviews
for those who assign reviewers; åtgärder to carry out, to verify and that are late; brister
without an åtgärd."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, selectinload

from kontroll.cases import handlaggare as handlaggare_rules
from kontroll.core.models import Unit, User
from kontroll.core.notifications import page_path
from kontroll.core.periods import Period, late_after_months, period_label
from kontroll.core.permissions import Job, Perm, may_hold, units_where
from kontroll.core.swedish import count
from kontroll.core.timezone import local_date
from kontroll.core.todos import Todo
from kontroll.reviews.models import (
    Atgard,
    AtgardState,
    Brist,
    Feedback,
    Review,
    ReviewState,
)
from kontroll.reviews.services import late_reviews_in
from kontroll.sampling.models import Assignment, Draw, DrawnCase

#: days the reviewer has to give återkoppling after signing, and to verify a genomförd åtgärd
FEEDBACK_DAYS = 14
VERIFY_DAYS = 14
#: signed reviews older than this no longer ask for återkoppling
FEEDBACK_WINDOW_DAYS = 90


def late_review_title(case_ref: str, unit_code: str, period: str) -> str:
    return f"Granskningen av {case_ref} ({unit_code}, {period_label(period)}) är försenad"


def _reviewer_todos(session: Session, user: User, today: dt.date, months: int) -> list[Todo]:
    rows = session.execute(
        select(DrawnCase, Draw, Unit, Review)
        .join(Assignment, Assignment.drawn_case_id == DrawnCase.id)
        .join(Draw, Draw.id == DrawnCase.draw_id)
        .join(Unit, Unit.id == Draw.unit_id)
        .outerjoin(Review, Review.assignment_id == Assignment.id)
        .where(Assignment.reviewer_id == user.id, Assignment.replaced_dt.is_(None), Draw.voided_dt.is_(None),
               Unit.is_active.is_(True))
        .order_by(Draw.period, DrawnCase.position)
    ).all()
    out = []
    for dc, draw, unit, review in rows:
        if review is not None and review.state == ReviewState.KLAR.value:
            continue
        deadline = Period.parse(draw.period).deadline(months)
        draft = review is not None and review.state == ReviewState.PAGAENDE.value
        out.append(Todo(
            kind="review", key=f"review:{dc.id}", unit_code=unit.code,
            title=(f"Slutför granskningen av {dc.case_ref}" if draft else f"Granska {dc.case_ref}")
            + f" ({unit.code}, {period_label(draw.period)})",
            detail="Du har sparat ett utkast." if draft else "",
            link=page_path("reviews.start", drawn_case_id=dc.id), due=deadline,
            remind_on=deadline + dt.timedelta(days=1), reminder_key=f"review_late:{dc.id}", reminder_kind="review_late",
            reminder_title=late_review_title(dc.case_ref, unit.code, draw.period),
        ))
    return out


def _feedback_todos(session: Session, user: User, today: dt.date) -> list[Todo]:
    since = today - dt.timedelta(days=FEEDBACK_WINDOW_DAYS)
    reviews = session.scalars(
        select(Review).where(Review.reviewer_id == user.id, Review.state == ReviewState.KLAR.value,
                             ~select(Feedback.id).where(Feedback.review_id == Review.id).exists())
        .options(selectinload(Review.drawn_case).selectinload(DrawnCase.snapshot_case), selectinload(Review.unit))
    )
    out = []
    for review in reviews:
        signed = local_date(review.signed_dt)
        if signed < since:
            continue
        case = review.drawn_case.snapshot_case
        who = handlaggare_rules.label(case.handlaggare_namn, case.handlaggare_signatur, none="handläggaren")
        out.append(Todo(
            kind="feedback", key=f"feedback:{review.id}", unit_code=review.unit.code,
            title=f"Ge återkoppling till {who} om {review.drawn_case.case_ref}",
            link=page_path("reviews.review", review_id=review.id) + "#aterkoppling",
            due=signed + dt.timedelta(days=FEEDBACK_DAYS),
        ))
    return out


def _assigner_todos(session: Session, user: User, today: dt.date, months: int) -> list[Todo]:
    out = []
    units = units_where(session, user, Perm.ASSIGN_REVIEWER)
    late = late_reviews_in(session, [u.id for u in units], today, months)
    for unit in units:
        for period, overview, row in late[unit.id]:
            if row.reviewer is not None and row.reviewer.id == user.id:
                continue  # their own review is already on their list
            who = row.reviewer.full_name if row.reviewer else "ingen granskare utsedd"
            out.append(Todo(
                kind="review_late", key=f"review_late:{row.drawn_case.id}", unit_code=unit.code,
                title=f"Försenad granskning av {row.drawn_case.case_ref} ({unit.code}, {period_label(period)}; {who})",
                link=page_path("reviews.overview", code=unit.code, period=period), due=overview.deadline,
                remind_on=overview.deadline + dt.timedelta(days=1), reminder_key=f"review_late:{row.drawn_case.id}",
                reminder_kind="review_late", reminder_title=late_review_title(row.drawn_case.case_ref, unit.code, period),
                detail=f"Den skulle ha varit klarmarkerad senast {overview.deadline.isoformat()}.",
            ))
    return out


def overdue_title(atgard: Any, unit_code: str) -> str:
    return f"Åtgärd i {unit_code} är försenad (slutdatum {atgard.due_date.isoformat()})"


@dataclass(frozen=True)
class _UnitRef:
    id: int
    code: str


def _atgard_link(unit_code: str, atgard_id: int, _prefixes: dict[str, str] = {}) -> str:  # noqa: B006 - a cache
    """The åtgärd's page, built from its route once per unit (a sektionschef may have thousands)."""
    prefix = _prefixes.get(unit_code)
    if prefix is None:
        prefix = page_path("reviews.atgard_detail", code=unit_code, atgard_id=1).rsplit("/", 1)[0] + "/"
        _prefixes[unit_code] = prefix
    return f"{prefix}{atgard_id}"


def _atgard_todo(kind: str, atgard: Any, unit: _UnitRef, title: str, due: dt.date | None, *, overdue_reminder: bool) -> Todo:
    return Todo(
        kind=kind, key=f"{kind}:{atgard.id}", unit_code=unit.code, title=title,
        link=_atgard_link(unit.code, atgard.id), due=due,
        remind_on=atgard.due_date + dt.timedelta(days=1) if overdue_reminder else None,
        reminder_key=f"atgard_overdue:{atgard.id}" if overdue_reminder else None, reminder_kind="atgard_overdue",
        reminder_title=overdue_title(atgard, unit.code) if overdue_reminder else None,
        reminder_detail=(f"Åtgärden ”{atgard.description[:200]}” skulle ha varit genomförd "
                         f"{atgard.due_date.isoformat()}." if overdue_reminder else None),
    )


def _atgard_todos(session: Session, user: User, today: dt.date) -> list[Todo]:
    managed = {u.id for u in units_where(session, user, Perm.MANAGE_ATGARDER)}
    verifying = {a.unit_id for a in user.role_assignments if a.unit_id is not None
                 and may_hold(user, Job.ATGARD_VERIFIER, a.unit_id)}
    # plain rows, not ORM objects: a sektionschef of many units may have thousands of åtgärder
    owner_user = aliased(User)
    rows = session.execute(
        select(Atgard.id, Atgard.description, Atgard.due_date, Atgard.state, Atgard.owner_id, Atgard.done_dt,
               Unit.id.label("unit_id"), Unit.code.label("code"), owner_user.full_name.label("owner_name"))
        .join(Unit, Unit.id == Atgard.unit_id).outerjoin(owner_user, owner_user.id == Atgard.owner_id)
        .where(Unit.is_active.is_(True), Atgard.state != AtgardState.VERIFIERAD.value,
               (Atgard.owner_id == user.id) | Atgard.unit_id.in_(managed | verifying))
        .order_by(Atgard.due_date, Atgard.id)
    ).all()
    out = []
    for atgard in rows:
        unit = _UnitRef(atgard.unit_id, atgard.code)
        short = atgard.description if len(atgard.description) <= 80 else atgard.description[:79] + "…"
        if atgard.state == AtgardState.OPPEN.value:
            if atgard.owner_id == user.id:
                out.append(_atgard_todo("atgard", atgard, unit, f"Genomför åtgärden: {short}", atgard.due_date,
                                        overdue_reminder=True))
            elif unit.id in managed and atgard.due_date < today:
                owner = atgard.owner_name or "ingen ansvarig"
                out.append(_atgard_todo("atgard_late", atgard, unit, f"Försenad åtgärd ({owner}): {short}",
                                        atgard.due_date, overdue_reminder=True))
        elif atgard.state == AtgardState.GENOMFORD.value and unit.id in verifying and atgard.owner_id != user.id:
            done = local_date(atgard.done_dt) if atgard.done_dt else today
            out.append(_atgard_todo("verify", atgard, unit, f"Kontrollera att åtgärden fungerade: {short}",
                                    done + dt.timedelta(days=VERIFY_DAYS), overdue_reminder=False))
    return out


def _brist_todos(session: Session, user: User) -> list[Todo]:
    units = {u.id: u for u in units_where(session, user, Perm.MANAGE_ATGARDER)}
    if not units:
        return []
    without = session.execute(
        select(Brist.unit_id, func.count(Brist.id))
        .where(Brist.unit_id.in_(units), ~Brist.atgarder.any())
        .group_by(Brist.unit_id)
    ).all()
    return [Todo(kind="brist", key=f"brist:{units[unit_id].code}", unit_code=units[unit_id].code,
                 title=f"Besluta om åtgärder för {count(n, 'brist', 'brister')} utan åtgärd ({units[unit_id].code})",
                 link=page_path("reviews.brister", code=units[unit_id].code, utan_atgard=1))
            for unit_id, n in without if n]


def todos(session: Session, user: User, today: dt.date, config: Mapping[str, Any]) -> list[Todo]:
    months = late_after_months(config)
    return (_reviewer_todos(session, user, today, months) + _feedback_todos(session, user, today)
            + _assigner_todos(session, user, today, months) + _atgard_todos(session, user, today)
            + _brist_todos(session, user))
