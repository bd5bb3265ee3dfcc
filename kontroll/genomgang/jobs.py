"""The genomgångar's scheduled reminders: a planned genomgång a week ahead, and a year plan that
cannot meet the unit's target."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.core.jobs import DAILY_0600, by_day, job, route_path
from kontroll.core.models import Unit
from kontroll.core.notifications import notify
from kontroll.core.permissions import Perm, holders_in
from kontroll.core.swedish import count
from kontroll.genomgang.services import assess_unit_year
from kontroll.genomgang.models import Genomgang, GenomgangState

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
    (:func:`kontroll.genomgang.year.assess_year`): those who sign the unit's bedömning
    (the sektionschef, Perm.SIGN_ASSESSMENT), once per quarter."""
    horizon = today + dt.timedelta(days=GENOMGANG_REMINDER_DAYS)
    quarter = (today.month - 1) // 3 + 1
    created = upcoming = behind = 0
    for unit in session.scalars(select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.code)):
        soon = list(session.scalars(select(Genomgang).where(
            Genomgang.unit_id == unit.id, Genomgang.state == GenomgangState.PLANERAD.value,
            Genomgang.planned_on >= today, Genomgang.planned_on <= horizon).order_by(Genomgang.planned_on)))
        forste = holders_in(session, Perm.PERFORM_GENOMGANG, unit) if soon else []
        for genomgang in soon:
            upcoming += 1
            for user in forste:
                created += notify(
                    session, user, kind="genomgang_soon",
                    title=f"Genomgång i {unit.code} den {genomgang.planned_on.isoformat()}",
                    body=(f"{unit.name} har en genomgång av alla aktuella ärenden planerad den "
                          f"{genomgang.planned_on.isoformat()}. Se till att ärendelistan är aktuell innan ni startar."),
                    link=route_path("genomgang.detail", code=unit.code, genomgang_id=genomgang.id),
                    dedupe_key=f"genomgang_soon:{unit.code}:{genomgang.planned_on.isoformat()}:{user.id}",
                ) is not None
        assessment = assess_unit_year(session, unit, today.year)
        if assessment.target_unreachable:
            behind += 1
            for user in holders_in(session, Perm.SIGN_ASSESSMENT, unit):
                created += notify(
                    session, user, kind="genomgang_behind",
                    title=f"{unit.code} når inte målet för genomgångar {today.year}",
                    body=" ".join(assessment.target_warnings),
                    link=route_path("genomgang.year", code=unit.code, ar=today.year),
                    dedupe_key=f"genomgang_behind:{unit.code}:{today.year}-Q{quarter}:{user.id}",
                ) is not None
    return (f"{count(upcoming, 'genomgång', 'genomgångar')} inom en vecka; "
            f"{count(behind, 'enhet', 'enheter')} når inte årets mål; "
            f"{count(created, 'ny påminnelse', 'nya påminnelser')}.")


JOBS = (genomgang_reminders,)
