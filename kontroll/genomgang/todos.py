"""The genomgångar's to-dos: a planned genomgång coming up and one under way (its förste
socialsekreterare), and a year plan that cannot meet the unit's target (the sektionschef)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kontroll.core.models import User
from kontroll.core.notifications import page_path
from kontroll.core.permissions import Perm, units_where
from kontroll.core.todos import Todo
from kontroll.genomgang.models import (
    Genomgang,
    GenomgangResult,
    GenomgangState,
    genomgang_participants,
)
from kontroll.genomgang.services import assess_units_year

#: a planned genomgång is on the list this many days ahead; its reminder goes out a week ahead
SHOW_DAYS_AHEAD = 14
REMINDER_DAYS = 7


def _quarter_start(today: dt.date) -> dt.date:
    return dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)


def todos(session: Session, user: User, today: dt.date, config: Mapping[str, Any]) -> list[Todo]:
    out: list[Todo] = []
    performing = {u.id: u for u in units_where(session, user, Perm.PERFORM_GENOMGANG)}
    if performing:
        horizon = today + dt.timedelta(days=SHOW_DAYS_AHEAD)
        for genomgang in session.scalars(select(Genomgang).where(
                Genomgang.unit_id.in_(performing), Genomgang.state == GenomgangState.PLANERAD.value,
                Genomgang.planned_on >= today, Genomgang.planned_on <= horizon).order_by(Genomgang.planned_on)):
            unit = performing[genomgang.unit_id]
            day = genomgang.planned_on.isoformat()
            out.append(Todo(
                kind="genomgang", key=f"genomgang:{genomgang.id}", unit_code=unit.code,
                title=f"Genomgång i {unit.code} den {day}",
                detail=(f"{unit.name} har en genomgång av alla aktuella ärenden planerad den {day}. "
                        "Se till att ärendelistan är aktuell innan ni startar."),
                link=page_path("genomgang.detail", code=unit.code, genomgang_id=genomgang.id),
                due=genomgang.planned_on, remind_on=genomgang.planned_on - dt.timedelta(days=REMINDER_DAYS),
                reminder_key=f"genomgang_soon:{unit.code}:{day}", reminder_kind="genomgang_soon",
            ))
        ongoing = session.execute(
            select(Genomgang, func.count(GenomgangResult.id))
            .join(genomgang_participants, genomgang_participants.c.genomgang_id == Genomgang.id)
            .outerjoin(GenomgangResult, GenomgangResult.genomgang_id == Genomgang.id)
            .where(genomgang_participants.c.user_id == user.id, Genomgang.state == GenomgangState.PAGAENDE.value,
                   Genomgang.unit_id.in_(performing))
            .group_by(Genomgang.id)
        ).all()
        for genomgang, done in ongoing:
            unit = performing[genomgang.unit_id]
            out.append(Todo(
                kind="genomgang", key=f"genomgang:{genomgang.id}", unit_code=unit.code,
                title=f"Slutför genomgången i {unit.code} från {genomgang.planned_on.isoformat()} "
                      f"({done} av {genomgang.case_count} ärenden klara)",
                link=page_path("genomgang.work", code=unit.code, genomgang_id=genomgang.id, status="kvar"),
            ))
    signing = {u.id: u for u in units_where(session, user, Perm.SIGN_ASSESSMENT)}
    if signing:
        assessments = assess_units_year(session, list(signing.values()), today.year)
        for unit in signing.values():
            assessment = assessments[unit.id]
            if not assessment.target_unreachable:
                continue
            quarter = (today.month - 1) // 3 + 1
            out.append(Todo(
                kind="genomgang_plan", key=f"genomgang_plan:{unit.code}:{today.year}", unit_code=unit.code,
                title=f"Planera fler genomgångar: {unit.code} når inte målet för {today.year}",
                detail=" ".join(assessment.target_warnings),
                link=page_path("genomgang.year", code=unit.code, ar=today.year),
                remind_on=_quarter_start(today), reminder_key=f"genomgang_behind:{unit.code}:{today.year}-Q{quarter}",
                reminder_kind="genomgang_behind", reminder_title=f"{unit.code} når inte målet för genomgångar {today.year}",
            ))
    return out
