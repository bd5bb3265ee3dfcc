"""Reminders of the reviews: åtgärder past their due date and reviews not signed in time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.core.jobs import DAILY_0600, by_day, job, notify_each, route_path
from kontroll.core.models import Unit
from kontroll.core.periods import late_after_months, period_label
from kontroll.core.permissions import Perm, holders_in
from kontroll.reviews.services import late_reviews as late_reviews_in
from kontroll.reviews.services import overdue_atgarder as overdue


@job(
    "overdue_atgarder",
    period=by_day,
    schedule=DAILY_0600,
    schedule_label="varje dag kl. 06:00",
    description="Påminn ägaren och sektionschefen om åtgärder som passerat sitt slutdatum",
)
def overdue_atgarder(session: Session, today: dt.date, *, config: Mapping[str, Any]) -> str:
    """Once per åtgärd and person: the owner and those who manage the unit's åtgärder."""
    created = total = 0
    for unit in session.scalars(select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.code)):
        managers = holders_in(session, Perm.MANAGE_ATGARDER, unit)
        for atgard in overdue(session, unit, today):
            total += 1
            created += notify_each(
                session, [atgard.owner, *managers], key=f"atgard_overdue:{atgard.id}", kind="atgard_overdue",
                title=f"Åtgärd i {unit.code} är försenad (slutdatum {atgard.due_date.isoformat()})",
                body=f"Åtgärden ”{atgard.description[:200]}” skulle ha varit genomförd {atgard.due_date.isoformat()}.",
                link=route_path("reviews.atgard_detail", code=unit.code, atgard_id=atgard.id),
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
    """A drawn case not signed by its period's deadline (REVIEW_LATE_AFTER_MONTHS) is försenad:
    once per case and person, the current reviewer and those who assign the unit's reviewers
    are told."""
    months = late_after_months(config)
    created = late = 0
    for unit in session.scalars(select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.code)):
        assigners = holders_in(session, Perm.ASSIGN_REVIEWER, unit)
        for period, overview, row in late_reviews_in(session, unit, today, months):
            late += 1
            created += notify_each(
                session, [row.reviewer, *assigners], key=f"review_late:{row.drawn_case.id}", kind="review_late",
                title=f"Granskningen av {row.drawn_case.case_ref} ({unit.code}, {period_label(period)}) är försenad",
                body=f"Den skulle ha varit klarmarkerad senast {overview.deadline.isoformat()}.",
                link=route_path("reviews.overview", code=unit.code, period=period),
            )
    return f"{late} försenade granskningar; {created} nya påminnelser."


JOBS = (overdue_atgarder, late_reviews)
