"""The draw's scheduled job: remind the drawer on the month's first working day."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from kontroll.core.jobs import DAILY_0600, NotDue, by_month, job, route_path
from kontroll.core.models import Unit
from kontroll.core.notifications import notify
from kontroll.core.periods import Period
from kontroll.core.permissions import drawers
from kontroll.core.swedish import count
from kontroll.core.workdays import first_working_day
from kontroll.sampling.models import Draw

log = logging.getLogger(__name__)


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
    month = Period.of(today)
    period, label = str(month), month.label  # "december 2026"
    has_valid_draw = exists().where(Draw.unit_id == Unit.id, Draw.period == period, Draw.voided_dt.is_(None))
    units = list(session.scalars(select(Unit).where(Unit.is_active.is_(True), ~has_valid_draw).order_by(Unit.code)))
    created = 0
    nobody: list[str] = []
    for unit in units:
        people = drawers(session, unit)
        if not people:
            nobody.append(unit.code)
            log.warning("unit %s has no active %s: nobody to remind of the draw", unit.code, unit.drawer_role.value)
        for user in people:
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
                link=route_path("sampling.draw_page", code=unit.code),
                dedupe_key=f"draw_due:{unit.code}:{period}:{user.id}",
            )
            created += notification is not None
    summary = (f"{count(created, 'påminnelse', 'påminnelser')} om stickprovet för {label}; "
               f"{count(len(units), 'enhet saknar', 'enheter saknar')} stickprov.")
    if nobody:
        summary += f" Ingen att påminna i: {', '.join(nobody)}."
    return summary


JOBS = (draw_due,)
