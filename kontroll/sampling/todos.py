"""The draw's to-dos: import this month's case list (those who import lists, while the month is
not drawn), draw this month's stickprov (the unit's drawer), and choose reviewers for the drawn
cases that have none (those who assign reviewers)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kontroll.cases.models import CaseListSnapshot
from kontroll.core.models import Unit, User
from kontroll.core.notifications import page_path
from kontroll.core.periods import Period, late_after_months
from kontroll.core.permissions import Perm, may_draw, units_where
from kontroll.core.swedish import count
from kontroll.core.timezone import local_date
from kontroll.core.todos import Todo
from kontroll.core.workdays import first_working_day
from kontroll.sampling.models import Assignment, Draw, DrawnCase


def units_without_draw(session: Session, units: list[Unit], period: str) -> list[Unit]:
    """The active ones of ``units`` with no valid draw for ``period`` (one query): the rule the
    draw page, the start page and the draw reminder share."""
    if not units:
        return []
    drawn = set(session.scalars(select(Draw.unit_id).where(
        Draw.unit_id.in_([u.id for u in units]), Draw.period == period, Draw.voided_dt.is_(None))))
    return [u for u in units if u.is_active and u.id not in drawn]


def draw_todo(unit: Unit, today: dt.date) -> Todo:
    month = Period.of(today)
    first = first_working_day(today.year, today.month)
    return Todo(
        kind="draw", key=f"draw:{unit.code}:{month}", unit_code=unit.code,
        title=f"Dra stickprovet för {month.label} ({unit.code})",
        detail=(f"{unit.name} har inget stickprov för {month.label} ännu. Du drar det som "
                f"{unit.drawer_role.label.lower()} för enheten. Kontrollera först att den senaste "
                "ärendelistan är aktuell."),
        link=page_path("sampling.draw_page", code=unit.code), due=month.last_day, remind_on=first,
        reminder_key=f"draw_due:{unit.code}:{month}", reminder_kind="draw_due",
        reminder_title=f"Dags att dra månadens stickprov för {unit.code} ({month.label})",
    )


def caselist_todos(session: Session, user: User, today: dt.date) -> list[Todo]:
    """A unit whose newest list is from before this month and that has no stickprov for the
    month yet needs this month's list."""
    month = Period.of(today)
    waiting = units_without_draw(session, units_where(session, user, Perm.IMPORT_CASELIST), str(month))
    if not waiting:
        return []
    newest = dict(session.execute(select(CaseListSnapshot.unit_id, func.max(CaseListSnapshot.imported_dt))
                                  .where(CaseListSnapshot.unit_id.in_([u.id for u in waiting]))
                                  .group_by(CaseListSnapshot.unit_id)).all())
    out = []
    for unit in waiting:
        last = newest.get(unit.id)
        if last is not None and Period.of(local_date(last)) >= month:
            continue
        out.append(Todo(
            kind="caselist", key=f"caselist:{unit.code}:{month}", unit_code=unit.code,
            title=f"Importera ärendelistan för {month.label} ({unit.code})",
            detail="Stickprovet dras ur den senaste listan; "
                   + (f"den senaste är från {local_date(last).isoformat()}." if last else "ingen lista är importerad ännu."),
            link=page_path("cases.upload_form", code=unit.code), due=first_working_day(today.year, today.month),
        ))
    return out


def todos(session: Session, user: User, today: dt.date, config: Mapping[str, Any]) -> list[Todo]:
    out = caselist_todos(session, user, today)
    mine = [u for u in units_where(session, user, Perm.VIEW_DRAWS) if may_draw(user, u)]
    out += [draw_todo(unit, today) for unit in units_without_draw(session, mine, str(Period.of(today)))]

    assigning = {u.id: u for u in units_where(session, user, Perm.ASSIGN_REVIEWER)}
    if assigning:
        months = late_after_months(config)
        oldest = str(Period.of(today).previous(months + 6))
        unassigned = (select(Draw, func.count(DrawnCase.id))
                      .join(DrawnCase, DrawnCase.draw_id == Draw.id)
                      .where(Draw.unit_id.in_(assigning), Draw.voided_dt.is_(None), Draw.period >= oldest,
                             ~select(Assignment.id).where(Assignment.drawn_case_id == DrawnCase.id,
                                                          Assignment.replaced_dt.is_(None)).exists())
                      .group_by(Draw.id).order_by(Draw.period))
        for draw, n in session.execute(unassigned):
            unit = assigning[draw.unit_id]
            period = Period.parse(draw.period)
            out.append(Todo(
                kind="assign", key=f"assign:{draw.id}", unit_code=unit.code,
                title=f"Utse granskare för {count(n, 'ärende', 'ärenden')} i stickprovet för {period.label} ({unit.code})",
                link=page_path("sampling.draw_detail", code=unit.code, draw_id=draw.id),
                due=period.deadline(months),
            ))
    return out
