"""Comparison with earlier years: one point per year, summed over the units."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kontroll.core.models import Unit
from kontroll.reports.summary.model import YearPoint
from kontroll.reviews.models import Brist, Review, ReviewState
from kontroll.sampling.models import Draw, DrawnCase


def history(session: Session, units: list[Unit], last_year: int, years: int = 6) -> list[YearPoint]:
    """Per year, from ``last_year - years + 1`` to ``last_year``: months with a draw, signed
    reviews, reviews with at least one brist and closed genomgångar, summed over ``units``."""
    first = last_year - years + 1
    ids = [u.id for u in units]
    points = {y: YearPoint(y, 0, 0, 0, 0) for y in range(first, last_year + 1)}
    if not ids:
        return list(points.values())
    period_from, period_to = f"{first:04d}-01", f"{last_year:04d}-12"
    valid = (Draw.unit_id.in_(ids), Draw.voided_dt.is_(None), Draw.period >= period_from, Draw.period <= period_to)
    for period, n in session.execute(select(Draw.period, func.count(func.distinct(Draw.unit_id))).where(*valid)
                                     .group_by(Draw.period)):
        points[int(period[:4])].months_drawn += n  # unit-months with a valid draw
    for period, n in session.execute(
        select(Draw.period, func.count(Review.id)).join(DrawnCase, DrawnCase.draw_id == Draw.id)
        .join(Review, Review.drawn_case_id == DrawnCase.id)
        .where(*valid, Review.state == ReviewState.KLAR.value).group_by(Draw.period)):
        points[int(period[:4])].reviewed += n
    for period, n in session.execute(
        select(Draw.period, func.count(func.distinct(Brist.review_id))).join(DrawnCase, DrawnCase.draw_id == Draw.id)
        .join(Review, Review.drawn_case_id == DrawnCase.id).join(Brist, Brist.review_id == Review.id)
        .where(*valid, Review.state == ReviewState.KLAR.value).group_by(Draw.period)):
        points[int(period[:4])].deviating += n
    from kontroll.genomgang.models import Genomgang

    for year, n in session.execute(
        select(Genomgang.year, func.count()).where(Genomgang.unit_id.in_(ids), Genomgang.year >= first,
                                                   Genomgang.year <= last_year, Genomgang.closed_dt.is_not(None))
        .group_by(Genomgang.year)):
        points[int(year)].genomgangar += n
    return list(points.values())


def years_present(session: Session, units: list[Unit]) -> list[int]:
    """Years with a draw or a genomgång in any of ``units``, ascending."""
    ids = [u.id for u in units]
    if not ids:
        return []
    from kontroll.genomgang.models import Genomgang

    years = {int(p[:4]) for p in session.scalars(select(Draw.period).where(Draw.unit_id.in_(ids)).distinct())}
    years |= set(session.scalars(select(Genomgang.year).where(Genomgang.unit_id.in_(ids)).distinct()))
    return sorted(years)
