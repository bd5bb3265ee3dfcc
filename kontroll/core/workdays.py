"""Swedish working days: weekends, public holidays and the customary days off.

Pure functions on ``datetime.date``, no Flask and no database. Used by the scheduled jobs
("remind the drawer on the first working day of the month") and by later deadline rules.

Non-working days:

- Saturdays and Sundays;
- the public holidays of lagen (1989:253) om allmänna helgdagar: nyårsdagen, trettondedag
  jul, långfredagen, påskdagen, annandag påsk, första maj, Kristi himmelsfärdsdag,
  pingstdagen, nationaldagen, midsommardagen, alla helgons dag, juldagen, annandag jul;
- the eves that collective agreements and practice treat as days off: midsommarafton,
  julafton and nyårsafton (påskafton and pingstafton are always Saturdays anyway).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

ONE_DAY = dt.timedelta(days=1)


def easter_sunday(year: int) -> dt.date:
    """Western (Gregorian) Easter Sunday: the anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own name
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _saturday_on_or_after(start: dt.date) -> dt.date:
    return start + dt.timedelta(days=(5 - start.weekday()) % 7)


@lru_cache(maxsize=64)
def holidays(year: int) -> Mapping[dt.date, str]:
    """The holidays and customary days off of ``year``, with their Swedish names.

    Includes the public holidays that always fall on a Sunday (påskdagen, pingstdagen) and the
    customary days off (midsommarafton, julafton, nyårsafton), so the answer is "days off
    besides ordinary weekends".
    """
    easter = easter_sunday(year)
    # midsommardagen: the Saturday between 20 and 26 June; alla helgons dag: the Saturday
    # between 31 October and 6 November
    midsummer_day = _saturday_on_or_after(dt.date(year, 6, 20))
    all_saints = _saturday_on_or_after(dt.date(year, 10, 31))
    days = {
        dt.date(year, 1, 1): "Nyårsdagen",
        dt.date(year, 1, 6): "Trettondedag jul",
        easter - 2 * ONE_DAY: "Långfredagen",
        easter - ONE_DAY: "Påskafton",
        easter: "Påskdagen",
        easter + ONE_DAY: "Annandag påsk",
        dt.date(year, 5, 1): "Första maj",
        easter + 39 * ONE_DAY: "Kristi himmelsfärdsdag",
        easter + 48 * ONE_DAY: "Pingstafton",
        easter + 49 * ONE_DAY: "Pingstdagen",
        dt.date(year, 6, 6): "Sveriges nationaldag",
        midsummer_day - ONE_DAY: "Midsommarafton",
        midsummer_day: "Midsommardagen",
        all_saints: "Alla helgons dag",
        dt.date(year, 12, 24): "Julafton",
        dt.date(year, 12, 25): "Juldagen",
        dt.date(year, 12, 26): "Annandag jul",
        dt.date(year, 12, 31): "Nyårsafton",
    }
    return MappingProxyType(days)


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in holidays(day.year)


def next_working_day(day: dt.date) -> dt.date:
    """``day`` itself when it is a working day, else the next one."""
    while not is_working_day(day):
        day += ONE_DAY
    return day


def first_working_day(year: int, month: int) -> dt.date:
    """The first working day of a month (2027-01 → 4 January: 1 January is nyårsdagen)."""
    return next_working_day(dt.date(year, month, 1))
