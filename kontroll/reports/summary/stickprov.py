"""The monthly stickprov in the summary: months drawn, reviews signed in time, the status."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kontroll.core.models import Unit
from kontroll.core.periods import MONTH_NAMES, Period, period_label
from kontroll.core.swedish import count
from kontroll.core.swedish import join as swedish_list
from kontroll.core.timezone import local_date
from kontroll.reports.summary.model import (
    GRON,
    GUL,
    INGEN,
    ROD,
    MonthRow,
    StickprovSummary,
    worst,
)
from kontroll.reviews.models import Review, ReviewState
from kontroll.sampling.models import Draw, DrawnCase


def months_expected(year: int, today: dt.date) -> int:
    """Months of ``year`` that have begun by ``today``."""
    if year < today.year:
        return 12
    if year > today.year:
        return 0
    return today.month


def stickprov_summary(session: Session, unit: Unit, year: int, today: dt.date, late_months: int) -> StickprovSummary:
    """The stickprov of ``unit``'s ``year`` as of ``today``; a review is late after the period's
    deadline (``late_months``: REVIEW_LATE_AFTER_MONTHS)."""
    expected = months_expected(year, today)
    draws = {d.period: d for d in session.scalars(
        select(Draw).where(Draw.unit_id == unit.id, Draw.period.like(f"{year:04d}-%"), Draw.voided_dt.is_(None)))}
    counts: dict[str, int] = dict(session.execute(
        select(Draw.period, func.count(DrawnCase.id)).join(DrawnCase, DrawnCase.draw_id == Draw.id)
        .where(Draw.unit_id == unit.id, Draw.period.like(f"{year:04d}-%"), Draw.voided_dt.is_(None))
        .group_by(Draw.period)).all())
    signed: dict[str, list[dt.datetime]] = defaultdict(list)
    for period, signed_dt in session.execute(
        select(Draw.period, Review.signed_dt).join(DrawnCase, DrawnCase.draw_id == Draw.id)
        .join(Review, Review.drawn_case_id == DrawnCase.id)
        .where(Draw.unit_id == unit.id, Draw.period.like(f"{year:04d}-%"), Draw.voided_dt.is_(None),
               Review.state == ReviewState.KLAR.value)
    ):
        signed[period].append(signed_dt)
    months: list[MonthRow] = []
    missing: list[str] = []
    drawn_total = reviewed_total = on_time_total = late_total = overdue_total = 0
    current_missing = False
    for month, p in enumerate(Period.months_of(year), start=1):
        period = str(p)
        ended = p.last_day < today
        deadline = p.deadline(late_months)
        drawn = counts.get(period, 0)
        dates = [local_date(s) for s in signed.get(period, [])]
        on_time = sum(1 for d in dates if d <= deadline)
        months.append(MonthRow(period, period_label(period), period in draws, drawn, len(dates), on_time, ended))
        if month <= expected and period not in draws:
            if ended:
                missing.append(period_label(period))
            else:
                current_missing = True
        drawn_total += drawn
        reviewed_total += len(dates)
        on_time_total += on_time
        late_total += len(dates) - on_time
        if today > deadline:
            overdue_total += max(0, drawn - len(dates))
    reasons: list[str] = []
    if expected == 0:
        status = INGEN
        reasons.append("Året har inte börjat.")
    else:
        status = GRON
        if missing:
            status = ROD
            reasons.append(f"Stickprov saknas för {swedish_list(missing)}.")
        if overdue_total:
            status = ROD
            reasons.append(f"{count(overdue_total, 'draget ärende', 'dragna ärenden')} har inte granskats fast "
                           "tiden har gått ut.")
        if late_total:
            status = worst(status, GUL)
            reasons.append(f"{count(late_total, 'granskning', 'granskningar')} klarmarkerades för sent.")
        if current_missing:
            status = worst(status, GUL)
            reasons.append(f"Stickprov för {MONTH_NAMES[today.month - 1]} är inte draget ännu.")
        if status == GRON:
            reasons.append("Stickprov finns för alla månader och granskningarna är klarmarkerade i tid.")
    return StickprovSummary(expected, sum(1 for m in months[:expected] if m.has_draw), missing, drawn_total,
                            reviewed_total, on_time_total, late_total, overdue_total, status, reasons, months)
