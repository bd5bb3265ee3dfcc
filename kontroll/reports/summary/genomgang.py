"""Genomgångar in the summary: done and planned against the unit's target, and the status."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from kontroll.core.models import Unit
from kontroll.genomgang import services as genomgang_svc
from kontroll.reports.summary.model import (
    GRON,
    GUL,
    INGEN,
    ROD,
    GenomgangSummary,
    worst,
)


def genomgang_summary(session: Session, unit: Unit, year: int, today: dt.date) -> GenomgangSummary:
    a = genomgang_svc.assess_unit_year(session, unit, year)
    reasons: list[str] = []
    if year > today.year:
        status = INGEN
        reasons.append("Året har inte börjat.")
    elif year < today.year:
        status = GRON
        if a.done < a.target_min:
            status = ROD
            reasons.append(f"{a.done} genomförda av minst {a.target_min}.")
        elif a.done > a.target_max:
            status = GUL
            reasons.append(f"{a.done} genomförda, fler än målets högst {a.target_max}.")
    else:
        status = GRON
        if a.target_unreachable:
            status = ROD
        elif a.done + a.pending > a.target_max:
            status = GUL
        reasons.extend(a.target_warnings)
    if status != INGEN and a.spacing_warnings:
        status = worst(status, GUL)
        reasons.extend(a.spacing_warnings)
    if status == GRON and not reasons:
        reasons.append(a.summary + ".")
    return GenomgangSummary(a.done, a.pending, a.target_min, a.target_max, status, reasons)
