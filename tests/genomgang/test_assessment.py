"""The year's target and spacing, from fixed dates: no dependence on today's date."""

from __future__ import annotations

import datetime as dt

from kontroll.genomgang.year import assess_year


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_two_done_one_planned_of_four_cannot_meet_the_target():
    a = assess_year(2026, 4, 6, [d("2026-02-10"), d("2026-05-12")], [d("2026-10-06")])
    assert a.target_unreachable
    assert a.target_warnings[0].startswith("2 av minst 4 genomförda, 1 planerad – målet nås inte.")
    assert "Planera 1 genomgång till för 2026." in a.target_warnings[0]
    assert a.summary.endswith("– målet nås inte")


def test_four_well_spread_is_fine():
    a = assess_year(2026, 4, 6, [d("2026-02-10"), d("2026-05-12")], [d("2026-09-08"), d("2026-11-17")])
    assert not a.target_unreachable
    assert a.target_warnings == () and a.spacing_warnings == ()
    assert a.summary == "2 av minst 4 genomförda, 2 planerade eller pågående – målet nås om de planerade genomförs"


def test_all_in_the_last_quarter_is_poor_spacing():
    a = assess_year(2026, 4, 6, [], [d("2026-10-01"), d("2026-11-01"), d("2026-11-20"), d("2026-12-10")])
    assert a.target_warnings == ()
    assert any("Alla genomgångar ligger i sista kvartalet" in w for w in a.spacing_warnings)
    assert "Ingen genomgång under första halvåret." in a.spacing_warnings


def test_none_in_a_half_year_and_a_long_gap():
    a = assess_year(2026, 4, 6, [d("2026-01-20"), d("2026-03-03"), d("2026-04-14"), d("2026-05-26")], [])
    assert "Ingen genomgång under andra halvåret." in a.spacing_warnings
    assert a.summary.endswith("– målet är nått")
    gap = assess_year(2026, 4, 6, [d("2026-01-20"), d("2026-02-20"), d("2026-11-03"), d("2026-12-01")], [])
    assert any(w.startswith("Långt uppehåll: 256 dagar mellan 2026-02-20 och 2026-11-03") for w in gap.spacing_warnings)


def test_one_in_a_half_year_is_too_few_for_a_target_of_four():
    a = assess_year(2026, 4, 6, [d("2026-03-10")], [d("2026-08-10"), d("2026-10-10"), d("2026-12-01")])
    assert a.spacing_warnings[0] == "Bara 1 genomgång under första halvåret; rutinen förutsätter minst 2 per halvår."


def test_more_than_the_maximum_is_said():
    dates = [d(f"2026-{m:02d}-10") for m in (1, 3, 5, 7, 9, 11, 12)]
    a = assess_year(2026, 4, 6, dates, [])
    assert a.target_warnings == ("7 genomgångar är genomförda eller planerade, fler än målets högst 6.",)


def test_nothing_planned():
    a = assess_year(2027, 4, 6, [], [])
    assert a.target_warnings[0].startswith("0 av minst 4 genomförda, 0 planerade – målet nås inte.")
    assert a.spacing_warnings == ()
