"""Deviations per checklist area in the signed reviews of the year, with the 95 % bound."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.checklists.models import TemplateVersion
from kontroll.checklists.services import template_of
from kontroll.reports.stats import clopper_pearson_upper, plain_swedish_bound
from kontroll.reports.summary.model import CONFIDENCE, AreaRow
from kontroll.reviews.models import Review, ReviewAnswer, ReviewState
from kontroll.sampling.models import Draw, DrawnCase


@dataclass
class AreaCount:
    title: str
    items: int = 0
    deviations: int = 0
    cases: set[int] = field(default_factory=set)
    deviating: set[int] = field(default_factory=set)


def area_counts(session: Session, unit_ids: list[int], year: int) -> dict[str, AreaCount]:
    """Signed reviews of the year's valid draws, per checklist area."""
    if not unit_ids:
        return {}
    rows = session.execute(
        select(Review.id, Review.template_version_id, ReviewAnswer.item_key, ReviewAnswer.answer)
        .join(ReviewAnswer, ReviewAnswer.review_id == Review.id)
        .join(DrawnCase, DrawnCase.id == Review.drawn_case_id)
        .join(Draw, Draw.id == DrawnCase.draw_id)
        .where(Review.unit_id.in_(unit_ids), Review.state == ReviewState.KLAR.value,
               Draw.period.like(f"{year:04d}-%"), Draw.voided_dt.is_(None))
    ).all()
    versions = {tv.id: template_of(tv) for tv in session.scalars(
        select(TemplateVersion).where(TemplateVersion.id.in_({r[1] for r in rows})))} if rows else {}
    lookup: dict[int, dict[str, tuple[str, str, object]]] = {}
    for vid, template in versions.items():
        lookup[vid] = {item.key: (area.key, area.title, item) for area, item in template.items()}
    out: dict[str, AreaCount] = {}
    for review_id, vid, item_key, answer in rows:
        hit = lookup.get(vid, {}).get(item_key)
        if hit is None or answer in (None, "ej_aktuellt"):
            continue
        area_key, area_title, item = hit
        count = out.setdefault(area_key, AreaCount(area_title))
        count.items += 1
        count.cases.add(review_id)
        if item.is_deviation(answer):  # type: ignore[attr-defined]
            count.deviations += 1
            count.deviating.add(review_id)
    return out


def area_rows(counts: dict[str, AreaCount]) -> list[AreaRow]:
    rows = []
    for key, c in counts.items():
        n, d = len(c.cases), len(c.deviating)
        rows.append(AreaRow(key, c.title, n, c.items, c.deviations, d, d / n if n else None,
                            clopper_pearson_upper(n, d, CONFIDENCE) if n else None,
                            plain_swedish_bound(n, d, CONFIDENCE)))
    return sorted(rows, key=lambda r: r.title)


def merge_area_counts(many: list[dict[str, AreaCount]]) -> dict[str, AreaCount]:
    out: dict[str, AreaCount] = {}
    for counts in many:
        for key, c in counts.items():
            m = out.setdefault(key, AreaCount(c.title))
            m.items += c.items
            m.deviations += c.deviations
            m.cases |= c.cases  # review ids are unique across units
            m.deviating |= c.deviating
    return out
