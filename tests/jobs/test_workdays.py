"""Swedish working days: weekends, public holidays, Easter, Midsummer, the customary eves."""

from __future__ import annotations

import datetime as dt

import pytest

from kontroll.core.workdays import (
    easter_sunday,
    first_working_day,
    holidays,
    is_working_day,
    next_working_day,
)
from tests.support.jobs import d


@pytest.mark.parametrize(
    ("year", "easter"),
    [(2000, "2000-04-23"), (2008, "2008-03-23"), (2011, "2011-04-24"), (2019, "2019-04-21"),
     (2024, "2024-03-31"), (2025, "2025-04-20"), (2026, "2026-04-05"), (2027, "2027-03-28"),
     (2038, "2038-04-25"), (2285, "2285-03-22")],
)
def test_easter_sunday(year, easter):
    assert easter_sunday(year) == d(easter)


@pytest.mark.parametrize(
    ("month", "first"),
    [
        ("2027-01", "2027-01-04"),  # 1 Jan (Fri) nyårsdagen, then a weekend; 6 Jan is later
        ("2026-01", "2026-01-02"),  # 1 Jan (Thu) nyårsdagen; the Friday works
        ("2026-05", "2026-05-04"),  # 1 May (Fri) första maj, then a weekend
        ("2026-11", "2026-11-02"),  # 1 Nov is a Sunday (alla helgons dag was Sat 31 Oct)
        ("2026-12", "2026-12-01"),  # an ordinary Tuesday
        ("2024-04", "2024-04-02"),  # 1 Apr 2024 annandag påsk
        ("2029-04", "2029-04-03"),  # 1 Apr 2029 påskdagen, 2 Apr annandag påsk
        ("2030-06", "2030-06-03"),  # 1 Jun 2030 is a Saturday
        ("2025-06", "2025-06-02"),
    ],
)
def test_first_working_day_of_the_month(month, first):
    year, m = map(int, month.split("-"))
    assert first_working_day(year, m) == d(first)


def test_the_holidays_of_2026_by_name():
    days = {day.isoformat(): name for day, name in holidays(2026).items()}
    assert days == {
        "2026-01-01": "Nyårsdagen",
        "2026-01-06": "Trettondedag jul",
        "2026-04-03": "Långfredagen",
        "2026-04-04": "Påskafton",
        "2026-04-05": "Påskdagen",
        "2026-04-06": "Annandag påsk",
        "2026-05-01": "Första maj",
        "2026-05-14": "Kristi himmelsfärdsdag",
        "2026-05-23": "Pingstafton",
        "2026-05-24": "Pingstdagen",
        "2026-06-06": "Sveriges nationaldag",
        "2026-06-19": "Midsommarafton",
        "2026-06-20": "Midsommardagen",
        "2026-10-31": "Alla helgons dag",
        "2026-12-24": "Julafton",
        "2026-12-25": "Juldagen",
        "2026-12-26": "Annandag jul",
        "2026-12-31": "Nyårsafton",
    }


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-12-01", True),
        ("2026-12-05", False),  # Saturday
        ("2026-12-06", False),  # Sunday
        ("2026-12-24", False),  # julafton (Thursday)
        ("2026-12-31", False),  # nyårsafton (Thursday)
        ("2027-01-06", False),  # trettondedag jul (Wednesday)
        ("2027-01-05", True),   # trettondagsafton is a working day
        ("2026-04-03", False),  # långfredagen
        ("2026-04-06", False),  # annandag påsk
        ("2026-04-07", True),
        ("2026-05-14", False),  # Kristi himmelsfärdsdag (Thursday)
        ("2026-05-15", True),   # the klämdag after it is a working day
        ("2025-06-06", False),  # nationaldagen on a Friday
        ("2026-06-19", False),  # midsommarafton (always a Friday)
        ("2027-06-25", False),
        ("2026-06-18", True),
        ("2025-11-01", False),  # alla helgons dag (always a Saturday)
        ("2026-05-25", True),   # annandag pingst is no longer a holiday (since 2005)
    ],
)
def test_is_working_day(day, working):
    assert is_working_day(d(day)) is working


def test_midsummer_and_all_saints_always_fall_on_the_right_weekday():
    for year in range(2000, 2101):
        names = {name: day for day, name in holidays(year).items()}
        assert names["Midsommarafton"].weekday() == 4 and d(f"{year}-06-19") <= names["Midsommarafton"] <= d(f"{year}-06-25")
        assert names["Midsommardagen"].weekday() == 5
        assert names["Alla helgons dag"].weekday() == 5
        assert d(f"{year}-10-31") <= names["Alla helgons dag"] <= d(f"{year}-11-06")
        assert names["Långfredagen"].weekday() == 4 and names["Annandag påsk"].weekday() == 0
        assert names["Kristi himmelsfärdsdag"].weekday() == 3


def test_next_working_day_skips_the_christmas_days_off():
    assert holidays(2026)[d("2026-12-24")] == "Julafton"
    assert next_working_day(d("2026-12-24")) == d("2026-12-28")  # 24–27 off
    assert next_working_day(d("2026-12-28")) == d("2026-12-28")
    assert next_working_day(d("2026-12-31")) == d("2027-01-04")  # 31 Dec, 1 Jan, weekend


def test_the_holiday_table_cannot_be_changed_by_a_caller():
    with pytest.raises(TypeError):
        holidays(2026)[dt.date(2026, 12, 1)] = "Ny helgdag"  # type: ignore[index]
