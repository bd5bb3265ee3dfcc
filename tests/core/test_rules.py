"""The one-home rules, each pinned where it lives: periods, Swedish words, the time zone, who a
handläggare is, form dates."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kontroll.cases import handlaggare
from kontroll.core import swedish
from kontroll.core.errors import ValidationError
from kontroll.core.inputs import date_or_none, form_date
from kontroll.core.periods import Period, late_after_months, period_label
from kontroll.core.timezone import local_date, local_zone

NBSP = "\u00a0"

# --- periods ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "label"), [("2026-12", "december 2026"), ("2027-01", "januari 2027"),
                                              (" 2026-05 ", "maj 2026")])
def test_a_period_parses_and_names_itself_in_swedish(text, label):
    assert Period.parse(text).label == label == period_label(text)
    assert str(Period.parse(text)) == text.strip()


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "26-12", "2026/12", "", "december", "1999-12", "2101-01"])
def test_a_bad_period_is_refused_in_swedish(text):
    with pytest.raises(ValidationError, match="ska skrivas ÅÅÅÅ-MM"):
        Period.parse(text)


@given(year=st.integers(2000, 2090), month=st.integers(1, 12), steps=st.integers(-120, 120))
def test_stepping_is_month_arithmetic(year, month, steps):
    p = Period(year, month)
    q = p.shifted(steps)
    assert (q.year * 12 + q.month) - (p.year * 12 + p.month) == steps
    assert q.previous(steps) == p and p.next(steps) == q
    assert (q > p) is (steps > 0)


def test_before_counts_back_nearest_first():
    assert [str(p) for p in Period(2026, 2).before(3)] == ["2026-01", "2025-12", "2025-11"]


@pytest.mark.parametrize(("period", "months", "deadline"), [
    ("2026-12", 1, "2027-01-31"), ("2027-01", 1, "2027-02-28"), ("2028-01", 1, "2028-02-29"),
    ("2026-11", 2, "2027-01-31"), ("2026-06", 0, "2026-06-30"),
])
def test_the_review_deadline_is_the_end_of_the_month_so_many_months_on(period, months, deadline):
    assert Period.parse(period).deadline(months) == dt.date.fromisoformat(deadline)


def test_the_month_of_a_moment_is_read_where_the_users_are():
    new_year_utc = dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.timezone.utc)  # 00:30 on 1 January in Stockholm
    assert str(Period.of(new_year_utc, "Europe/Stockholm")) == "2027-01"
    assert str(Period.of(new_year_utc, "UTC")) == "2026-12"
    assert str(Period.of(new_year_utc, "America/New_York")) == "2026-12"


def test_late_after_months_reads_the_setting():
    assert late_after_months({"REVIEW_LATE_AFTER_MONTHS": 3}) == 3
    assert late_after_months({}) == 1


# --- Swedish ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "kwargs", "text"), [
    (7, {}, "7"), (1234, {}, f"1{NBSP}234"), (1234567, {}, f"1{NBSP}234{NBSP}567"),
    (1234.5, {}, f"1{NBSP}234,5"), (0.25, {"decimals": 2}, "0,25"), (97.5, {"decimals": 2, "trim": True}, "97,5"),
    (95.0, {"decimals": 2, "trim": True}, "95"), (None, {}, ""),
])
def test_numbers_are_written_the_swedish_way(value, kwargs, text):
    assert swedish.number(value, **kwargs) == text


def test_percent_count_and_join():
    assert swedish.percent(0.125) == f"12,5{NBSP}%"
    assert swedish.percent(None) == "–"
    assert swedish.count(1, "genomgång", "genomgångar") == "1 genomgång"
    assert swedish.count(1500, "ärende", "ärenden") == f"1{NBSP}500 ärenden"
    assert swedish.join(["a", "b", "c"]) == "a, b och c"
    assert swedish.join(["a", "", "b"], "eller") == "a eller b"
    assert swedish.join(["a"]) == "a" and swedish.join([]) == ""


# --- the time zone ------------------------------------------------------------------------


def test_the_zone_is_the_setting_else_stockholm(app):
    assert local_zone({"TIMEZONE": "Europe/Helsinki"}) == ZoneInfo("Europe/Helsinki")
    assert local_zone({}) == ZoneInfo("Europe/Stockholm")
    app.config["TIMEZONE"] = "America/New_York"
    with app.app_context():
        assert local_zone() == ZoneInfo("America/New_York")
        assert local_date(dt.datetime(2027, 1, 1, 3, 0, tzinfo=dt.timezone.utc)) == dt.date(2026, 12, 31)


# --- who a handläggare is ---------------------------------------------------------------------


def test_one_person_whatever_the_spelling_of_case_spaces_and_composition():
    composed, decomposed = "Åsa Öberg", "A\u030asa  O\u0308berg"
    assert handlaggare.identity(composed, None) == handlaggare.identity(decomposed.lower(), None)
    assert handlaggare.identity(None, " asob ") == handlaggare.identity("Någon annan", "ASOB")
    assert handlaggare.identity("Åsa Öberg", "ASOB", user_id=7) == "u:7"
    assert handlaggare.identity(None, None) == ""


def test_labels_and_the_team_label():
    assert handlaggare.label("Åsa Öberg", "ASOB") == "Åsa Öberg (ASOB)"
    assert handlaggare.label(None, "ASOB") == "ASOB"
    assert handlaggare.label(None, None) == handlaggare.NO_HANDLAGGARE
    assert handlaggare.team_label(None) == handlaggare.NO_TEAM == "(ingen grupp)"


def test_a_user_is_the_handlaggare_by_link_else_signature_else_name():
    user = SimpleNamespace(id=7, case_system_id="asob", full_name="Åsa Öberg")
    assert handlaggare.is_handlaggare(user, user_id=7, namn=None, signatur=None)
    assert not handlaggare.is_handlaggare(user, user_id=8, namn="Åsa Öberg", signatur="ASOB")  # the link decides
    assert handlaggare.is_handlaggare(user, user_id=None, namn=None, signatur=" ASOB")
    assert handlaggare.is_handlaggare(user, user_id=None, namn="A\u030asa  o\u0308berg", signatur=None)
    assert not handlaggare.is_handlaggare(user, user_id=None, namn="Åsa Berg", signatur="ASBE")


# --- dates typed into forms ---------------------------------------------------------------


def test_form_dates():
    assert form_date(" 2026-12-15 ", "f", "Datum") == dt.date(2026, 12, 15)
    assert form_date(dt.date(2026, 1, 1), "f", "Datum") == dt.date(2026, 1, 1)
    with pytest.raises(ValidationError, match="Datum ska skrivas ÅÅÅÅ-MM-DD") as err:
        form_date("15/12", "given_on", "Datum")
    assert err.value.field == "given_on"
    assert date_or_none("2026-02-30") is None and date_or_none("") is None and date_or_none(None) is None
