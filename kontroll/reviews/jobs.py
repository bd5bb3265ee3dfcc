"""Reminders of the reviews: åtgärder past their due date and reviews not signed in time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.core.jobs import DAILY_0600, by_day, job
from kontroll.core.models import Unit
from kontroll.core.periods import late_after_months
from kontroll.core.todos import active_users, send_reminders
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
    """Once per åtgärd and person: the owner and those who manage the unit's åtgärder, from their
    to-dos (kontroll.reviews.todos)."""
    units = list(session.scalars(select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.code)))
    total = sum(len(overdue(session, unit, today)) for unit in units)
    sent = send_reminders(session, active_users(session), today, config, {"atgard", "atgard_late"})
    return f"{total} försenade åtgärder; {len(sent)} nya påminnelser."


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
    are told (their to-dos, kontroll.reviews.todos)."""
    months = late_after_months(config)
    units = list(session.scalars(select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.code)))
    late = sum(len(late_reviews_in(session, unit, today, months)) for unit in units)
    sent = send_reminders(session, active_users(session), today, config, {"review", "review_late"})
    return f"{late} försenade granskningar; {len(sent)} nya påminnelser."


JOBS = (overdue_atgarder, late_reviews)
