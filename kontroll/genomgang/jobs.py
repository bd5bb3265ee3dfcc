"""The genomgångar's scheduled reminders: a planned genomgång a week ahead, and a year plan that
cannot meet the unit's target."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kontroll.core.jobs import DAILY_0600, by_day, job
from kontroll.core.models import Unit
from kontroll.core.swedish import count
from kontroll.core.todos import active_users, send_reminders
from kontroll.genomgang.models import Genomgang, GenomgangState
from kontroll.genomgang.services import assess_units_year
from kontroll.genomgang.todos import REMINDER_DAYS


@job(
    "genomgang_reminders",
    period=by_day,
    schedule=DAILY_0600,
    schedule_label="varje dag kl. 06:00",
    description="Påminn om planerade genomgångar en vecka i förväg, och sektionschefen när årets mål inte nås",
)
def genomgang_reminders(session: Session, today: dt.date, *, config: Mapping[str, Any]) -> str:
    """A week (or less) before a planned genomgång: each förste socialsekreterare of the unit,
    once per plan date and person. When the unit's year plan cannot meet its target: those who
    sign the unit's bedömning (the sektionschef, Perm.SIGN_ASSESSMENT), once per quarter. Both
    from the to-dos (kontroll.genomgang.todos)."""
    sent = send_reminders(session, active_users(session), today, config, {"genomgang", "genomgang_plan"})
    units = list(session.scalars(select(Unit).where(Unit.is_active.is_(True))))
    upcoming = session.scalar(select(func.count(Genomgang.id)).where(
        Genomgang.unit_id.in_([u.id for u in units]), Genomgang.state == GenomgangState.PLANERAD.value,
        Genomgang.planned_on >= today, Genomgang.planned_on <= today + dt.timedelta(days=REMINDER_DAYS))) or 0
    behind = sum(a.target_unreachable for a in assess_units_year(session, units, today.year).values())
    return (f"{count(upcoming, 'genomgång', 'genomgångar')} inom en vecka; "
            f"{count(behind, 'enhet', 'enheter')} når inte årets mål; "
            f"{count(len(sent), 'ny påminnelse', 'nya påminnelser')}.")


JOBS = (genomgang_reminders,)
