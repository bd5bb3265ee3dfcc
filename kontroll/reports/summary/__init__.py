"""The committee's yearly summary (Nämndens årssammanfattning): one entry point,
:func:`build_summary`, over parts that each read the database for one section and return
dataclasses with counts, rates and Swedish sentences (kontroll/reports/summary/model.py).

Nothing in them identifies a client or a handläggare (docs/architecture.md, invariant 5): no
case reference, no name, no signature, no team name; the texts the sektionschef wrote are
checked for identifying data again when the summary is made (invariant 9). The status rules
are documented in ``docs/summary-rules.md`` and shown on the page (:func:`model.status_rules`).

Parts: :mod:`.stickprov`, :mod:`.genomgang`, :mod:`.areas` (deviations per checklist area),
:mod:`.coverage`, :mod:`.atgarder`, :mod:`.texts` (bedömning, overrides, fingerprint),
:mod:`.history` (earlier years).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from kontroll.core.models import Unit
from kontroll.core.periods import late_after_months
from kontroll.privacy.committee import CommitteeTextCheck
from kontroll.reports.summary.areas import (
    AreaCount,
    area_counts,
    area_rows,
    merge_area_counts,
)
from kontroll.reports.summary.atgarder import atgard_rows, merge_atgard_rows
from kontroll.reports.summary.coverage import (
    CoverageRaw,
    coverage,
    coverage_raw,
    merge_coverage,
)
from kontroll.reports.summary.genomgang import genomgang_summary
from kontroll.reports.summary.history import history, years_present  # noqa: F401
from kontroll.reports.summary.model import (  # noqa: F401 - the public names of the summary
    CONFIDENCE,
    GRON,
    GUL,
    INGEN,
    ROD,
    STATUS_LABELS,
    STATUS_TAGS,
    WITHHELD_TEXT,
    AreaRow,
    AssessmentView,
    AtgardRow,
    Coverage,
    Fingerprint,
    GenomgangSummary,
    MonthRow,
    OverrideRow,
    Planner,
    StickprovSummary,
    Summary,
    UnitSummary,
    YearPoint,
    planner,
    status_rules,
    worst,
)
from kontroll.reports.summary.stickprov import months_expected, stickprov_summary
from kontroll.reports.summary.texts import (  # noqa: F401
    RULE_LABELS,
    current_assessment,
    fingerprint,
    overrides,
)


def _unit_summary(session: Session, unit: Unit, year: int, today: dt.date, late_months: int,
                  check: CommitteeTextCheck) -> tuple[UnitSummary, dict[str, AreaCount], CoverageRaw]:
    counts = area_counts(session, [unit.id], year)
    raw = coverage_raw(session, unit, year)
    us = UnitSummary(
        unit.id, unit.code, unit.name, year,
        stickprov_summary(session, unit, year, today, late_months),
        genomgang_summary(session, unit, year, today),
        area_rows(counts), coverage(raw), atgard_rows(session, [unit.id], year, today),
        overrides(session, unit, year, check), current_assessment(session, unit, year, check), unit.sample_size)
    return us, counts, raw


def build_summary(session: Session, units: list[Unit], year: int, today: dt.date, *, forvaltning: bool = False,
                  title: str | None = None, late_months: int | None = None) -> Summary:
    """The summary of ``units`` for ``year`` as of ``today`` (dates where the users are: the
    configured time zone); ``forvaltning`` adds totals over all of them. ``late_months``:
    REVIEW_LATE_AFTER_MONTHS, read from the app when not given."""
    late_months = late_after_months() if late_months is None else late_months
    check = CommitteeTextCheck(session)
    parts = [_unit_summary(session, u, year, today, late_months, check) for u in units]
    unit_summaries = [p[0] for p in parts]
    if forvaltning:
        areas = area_rows(merge_area_counts([p[1] for p in parts]))
        spread = coverage(merge_coverage([p[2] for p in parts]))
        atgarder = merge_atgard_rows([u.atgarder for u in unit_summaries])
    else:
        only = unit_summaries[0]
        areas, spread, atgarder = only.areas, only.coverage, only.atgarder
    name = title or (f"{units[0].name} ({units[0].code})" if len(units) == 1 and not forvaltning else "Hela förvaltningen")
    return Summary(year, name, forvaltning, unit_summaries, areas, atgarder, spread, fingerprint(session), today,
                   months_expected(year, today), status_rules(late_months))
