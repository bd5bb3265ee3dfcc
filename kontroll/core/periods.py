"""Months of the routine (perioder): one type for parsing, naming, stepping and deadlines.

A stickprov belongs to a month, stored as the text ``YYYY-MM`` (``Draw.period``). Everything
that turns such a text into a date, a Swedish name or a neighbouring month is here, and
nowhere else:

- :meth:`Period.parse` reads what people and URLs write, with a Swedish refusal;
- :meth:`Period.of` is the month of a moment *where the users are* (the configured time zone,
  :func:`kontroll.core.timezone.local_zone`), never the server's or UTC's month;
- :attr:`Period.label` is the Swedish name ("december 2026");
- :meth:`Period.deadline` is the last day by which a review of the month must be signed,
  ``REVIEW_LATE_AFTER_MONTHS`` months on (read by :func:`late_after_months`).

Pure apart from :func:`late_after_months`, which reads the setting once for every consumer.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import total_ordering
from typing import Any
from zoneinfo import ZoneInfo

from kontroll.core.errors import ValidationError

#: the Swedish month names, January first
MONTH_NAMES = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september",
               "oktober", "november", "december")
#: the years kontroll handles (periods, plans, reports)
FIRST_YEAR, LAST_YEAR = 2000, 2100


@total_ordering
@dataclass(frozen=True)
class Period:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month {self.month} out of range")

    # --- making one ------------------------------------------------------------------------

    @classmethod
    def parse(cls, value: str | Period) -> Period:
        """``YYYY-MM`` as written in a form, a URL or on the command line."""
        if isinstance(value, Period):
            return value
        try:
            year, month = str(value).strip().split("-")
            y, m = int(year), int(month)
            if len(year) != 4 or not 1 <= m <= 12 or not FIRST_YEAR <= y <= LAST_YEAR:
                raise ValueError
        except ValueError:
            raise ValidationError(f"Perioden ”{value}” ska skrivas ÅÅÅÅ-MM, t.ex. 2026-12.") from None
        return cls(y, m)

    @classmethod
    def of(cls, moment: dt.date | dt.datetime, tz: ZoneInfo | str | None = None) -> Period:
        """The month of ``moment``; a datetime is read in ``tz`` (default: the configured zone)."""
        if isinstance(moment, dt.datetime):
            from kontroll.core.timezone import local_zone

            zone = ZoneInfo(tz) if isinstance(tz, str) else (tz or local_zone())
            moment = moment.astimezone(zone).date()
        return cls(moment.year, moment.month)

    @classmethod
    def months_of(cls, year: int) -> list[Period]:
        return [cls(year, m) for m in range(1, 13)]

    # --- reading it ------------------------------------------------------------------------

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Period):
            return NotImplemented
        return (self.year, self.month) < (other.year, other.month)

    @property
    def label(self) -> str:
        """The Swedish name: "december 2026"."""
        return f"{MONTH_NAMES[self.month - 1]} {self.year}"

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    # --- stepping --------------------------------------------------------------------------

    def shifted(self, months: int) -> Period:
        index = self.year * 12 + self.month - 1 + months
        return Period(index // 12, index % 12 + 1)

    def previous(self, months: int = 1) -> Period:
        return self.shifted(-months)

    def next(self, months: int = 1) -> Period:
        return self.shifted(months)

    def before(self, count: int) -> list[Period]:
        """The ``count`` months before this one, nearest first."""
        return [self.shifted(-n) for n in range(1, count + 1)]

    # --- the routine's deadline ----------------------------------------------------------

    def deadline(self, late_after_months: int) -> dt.date:
        """The last day by which a review of a case drawn in this month must be signed: the
        end of the month ``late_after_months`` months on (1: the end of the next month)."""
        return self.shifted(late_after_months).last_day


def period_label(value: str | Period) -> str:
    """The Swedish name of a stored ``YYYY-MM`` ("december 2026"), for templates and texts."""
    return Period.parse(value).label


def late_after_months(config: Mapping[str, Any] | None = None) -> int:
    """``REVIEW_LATE_AFTER_MONTHS``: the one place every consumer (the month overview, the
    reminders, the committee's summary, the start page) reads when a review is late."""
    if config is None:
        from flask import current_app, has_app_context

        config = current_app.config if has_app_context() else {}
    return int(config.get("REVIEW_LATE_AFTER_MONTHS", 1))
