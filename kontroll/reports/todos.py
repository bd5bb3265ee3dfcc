"""The summary's to-do: write and sign the unit's bedömning of the year for the nämnd (those who
sign it), from December until it is signed, at the latest by the end of February."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.core.models import User
from kontroll.core.notifications import page_path
from kontroll.core.permissions import Perm, units_where
from kontroll.core.todos import Todo
from kontroll.reports.models import Assessment

#: the bedömning of a year is asked for from 1 December and is due at the end of February
FROM_MONTH = 12
DUE_MONTH = 2
#: after this month of the following year, an unsigned bedömning is no longer on the list
LAST_MONTH = 6


def _years(today: dt.date) -> list[int]:
    years = [today.year] if today.month >= FROM_MONTH else []
    if today.month <= LAST_MONTH:
        years.append(today.year - 1)
    return years


def _due(year: int) -> dt.date:
    return dt.date(year + 1, DUE_MONTH + 1, 1) - dt.timedelta(days=1)


def todos(session: Session, user: User, today: dt.date, config: Mapping[str, Any]) -> list[Todo]:
    units = {u.id: u for u in units_where(session, user, Perm.SIGN_ASSESSMENT)}
    years = _years(today)
    if not units or not years:
        return []
    signed = set(map(tuple, session.execute(select(Assessment.unit_id, Assessment.year)
                                           .where(Assessment.unit_id.in_(units), Assessment.year.in_(years)))))
    return [Todo(
        kind="assessment", key=f"assessment:{unit.code}:{year}", unit_code=unit.code,
        title=f"Skriv och signera bedömningen för {year} ({unit.code})",
        detail="Nämnden läser din bedömning i årssammanfattningen.",
        link=page_path("reports.unit_summary", code=unit.code, ar=year) + "#bedomning", due=_due(year),
    ) for year in years for unit in units.values() if (unit.id, year) not in signed]
