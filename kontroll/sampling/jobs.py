"""The draw's scheduled job: remind the drawer on the month's first working day."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.core.jobs import DAILY_0600, NotDue, by_month, job
from kontroll.core.models import Unit
from kontroll.core.periods import Period
from kontroll.core.permissions import drawers
from kontroll.core.swedish import count
from kontroll.core.todos import active_users, send_reminders
from kontroll.core.workdays import first_working_day
from kontroll.sampling.todos import units_without_draw

log = logging.getLogger(__name__)


@job(
    "draw_due",
    period=by_month,
    schedule=DAILY_0600,
    schedule_label="varje dag kl. 06:00; påminner en gång per månad, från månadens första arbetsdag",
    description="Påminn den som drar stickprovet när enheten saknar stickprov för månaden",
)
def draw_due(session: Session, today: dt.date, *, config: Mapping[str, Any]) -> str:
    """On or after the month's first working day: each drawer is reminded of their to-do to draw
    (kontroll.sampling.todos), once per unit and month."""
    first = first_working_day(today.year, today.month)
    if today < first:
        raise NotDue(f"Månadens första arbetsdag är {first.isoformat()}; ingen påminnelse före den.")
    month = Period.of(today)
    units = list(session.scalars(select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.code)))
    waiting = units_without_draw(session, units, str(month))
    nobody = [u.code for u in waiting if not drawers(session, u)]
    for code in nobody:
        log.warning("unit %s has no active drawer: nobody to remind of the draw", code)
    sent = send_reminders(session, active_users(session), today, config, {"draw"})
    summary = (f"{count(len(sent), 'påminnelse', 'påminnelser')} om stickprovet för {month.label}; "
               f"{count(len(waiting), 'enhet saknar', 'enheter saknar')} stickprov.")
    if nobody:
        summary += f" Ingen att påminna i: {', '.join(nobody)}."
    return summary


JOBS = (draw_due,)
