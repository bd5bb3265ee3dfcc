"""Brister of the year per area, and the state of the åtgärder taken for them."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.core.timezone import year_bounds
from kontroll.reports.summary.model import AtgardRow
from kontroll.reviews.models import Atgard, AtgardState, Brist


def atgard_rows(session: Session, unit_ids: list[int], year: int, today: dt.date) -> list[AtgardRow]:
    """Brister created in the year, per area, and the state of the åtgärder taken for them.
    An åtgärd that covers brister in several areas counts once in each of those areas."""
    if not unit_ids:
        return []
    start, end = year_bounds(year)
    brister = session.execute(
        select(Brist.id, Brist.area_key, Brist.area_title)
        .where(Brist.unit_id.in_(unit_ids), Brist.created_dt >= start, Brist.created_dt < end)
    ).all()
    links: dict[int, list[tuple[int, str, dt.date]]] = defaultdict(list)
    if brister:
        from kontroll.reviews.models import atgard_brister

        for brist_id, atgard_id, state, due in session.execute(
            select(atgard_brister.c.brist_id, Atgard.id, Atgard.state, Atgard.due_date)
            .join(Atgard, Atgard.id == atgard_brister.c.atgard_id)
            .join(Brist, Brist.id == atgard_brister.c.brist_id)
            .where(Brist.unit_id.in_(unit_ids), Brist.created_dt >= start, Brist.created_dt < end)
        ):
            links[brist_id].append((atgard_id, state, due))
    per_area: dict[str, dict[str, object]] = {}
    for brist_id, key, title in brister:
        a = per_area.setdefault(key, {"title": title, "brister": 0, "without": 0, "atgarder": {}})
        a["brister"] += 1  # type: ignore[operator]
        if not links.get(brist_id):
            a["without"] += 1  # type: ignore[operator]
        for atgard_id, state, due in links.get(brist_id, []):
            a["atgarder"][atgard_id] = (state, due)  # type: ignore[index]
    rows = []
    for key, a in per_area.items():
        atg: dict[int, tuple[str, dt.date]] = a["atgarder"]  # type: ignore[assignment]
        states = [s for s, _ in atg.values()]
        rows.append(AtgardRow(
            key, str(a["title"]), int(a["brister"]), int(a["without"]),  # type: ignore[call-overload]
            states.count(AtgardState.OPPEN.value), states.count(AtgardState.GENOMFORD.value),
            states.count(AtgardState.VERIFIERAD.value),
            sum(1 for s, due in atg.values() if s == AtgardState.OPPEN.value and today > due)))
    return sorted(rows, key=lambda r: r.title)


def merge_atgard_rows(many: list[list[AtgardRow]]) -> list[AtgardRow]:
    out: dict[str, AtgardRow] = {}
    for rows in many:
        for r in rows:
            m = out.setdefault(r.key, AtgardRow(r.key, r.title, 0, 0, 0, 0, 0, 0))
            m.brister += r.brister
            m.without_atgard += r.without_atgard
            m.open += r.open
            m.done += r.done
            m.verified += r.verified
            m.overdue += r.overdue
    return sorted(out.values(), key=lambda r: r.title)
