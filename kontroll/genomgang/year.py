"""The year's genomgångar against the unit's target: a pure function that takes the year's
dates and says plainly whether the target can still be met and whether the spacing is poor.
It never looks at the clock or the database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from kontroll.core.swedish import count

#: a gap between two genomgångar longer than this is poor spacing
LONG_GAP_DAYS = 122
QUARTER_NAMES = ("första kvartalet", "andra kvartalet", "tredje kvartalet", "sista kvartalet")


@dataclass(frozen=True)
class YearAssessment:
    year: int
    target_min: int
    target_max: int
    done: int
    pending: int
    #: Swedish sentences, empty when all is well
    target_warnings: tuple[str, ...]
    spacing_warnings: tuple[str, ...]

    @property
    def target_unreachable(self) -> bool:
        return self.done + self.pending < self.target_min

    @property
    def summary(self) -> str:
        text = f"{self.done} av minst {self.target_min} genomförda, {self.pending} planerade eller pågående"
        if self.target_unreachable:
            return text + " – målet nås inte"
        if self.done >= self.target_min:
            return text + " – målet är nått"
        return text + " – målet nås om de planerade genomförs"


def assess_year(year: int, target_min: int, target_max: int, done: Iterable[dt.date],
                pending: Iterable[dt.date]) -> YearAssessment:
    """Assess a unit's year from the dates of its closed (``done``) and its planned or
    ongoing (``pending``) genomgångar. Pure: the same dates always give the same answer."""
    done = sorted(done)
    pending = sorted(pending)
    total = len(done) + len(pending)
    target: list[str] = []
    if total < target_min:
        planned = f"{len(pending)} planerad" if len(pending) == 1 else f"{len(pending)} planerade"
        target.append(f"{len(done)} av minst {target_min} genomförda, {planned} – målet nås inte. "
                      f"Planera {count(target_min - total, 'genomgång till', 'genomgångar till')} för {year}.")
    if total > target_max:
        target.append(f"{total} genomgångar är genomförda eller planerade, fler än målets högst {target_max}.")
    spacing: list[str] = []
    dates = sorted(done + pending)
    if len(dates) >= 2:
        quarters = {(d.month - 1) // 3 for d in dates}
        if len(quarters) == 1:
            spacing.append(f"Alla genomgångar ligger i {QUARTER_NAMES[quarters.pop()]}. "
                           "Sprid dem över året, helst två per halvår.")
    if dates:
        per_half = max(1, target_min // 2)
        first = sum(1 for d in dates if d.month <= 6)
        halves = (("första halvåret", first), ("andra halvåret", len(dates) - first))
        for name, held in halves:
            if held == 0:
                spacing.append(f"Ingen genomgång under {name}.")
            elif held < per_half and target_min >= 2:
                spacing.append(f"Bara {count(held, 'genomgång', 'genomgångar')} under {name}; "
                               f"rutinen förutsätter minst {per_half} per halvår.")
        for a, b in zip(dates, dates[1:]):
            if (b - a).days > LONG_GAP_DAYS:
                spacing.append(f"Långt uppehåll: {(b - a).days} dagar mellan {a.isoformat()} och {b.isoformat()}.")
    return YearAssessment(year, target_min, target_max, len(done), len(pending), tuple(target), tuple(spacing))
