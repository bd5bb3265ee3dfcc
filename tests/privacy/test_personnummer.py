"""The one personnummer detector: every spelling in kontroll.privacy.personnummer.SPELLINGS,
generated over real dates (and samordningsnummer), inside other text, through the detector,
the import (CSV and XLSX, any mapped column), and the JSON API. Refusals name column and row,
never the value, and store nothing."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kontroll.cases.models import CaseListSnapshot, SnapshotCase
from kontroll.cases.parsing import CaseListError, parse_case_list
from kontroll.privacy.personnummer import SPELLINGS, contains_personnummer, luhn_digit
from tests.support.xlsx import write_xlsx

SPELLING_NAMES = [name for name, _make, _needs in SPELLINGS]
NEEDS_CHECK = {name for name, _make, needs in SPELLINGS if needs}


@st.composite
def numbers(draw, check_ok: bool = True) -> str:
    """Twelve digits YYYYMMDDNNNC of a personnummer or samordningsnummer with a real date;
    the check digit valid, or (``check_ok=False``) wrong."""
    day = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)))
    samordning = draw(st.booleans())
    serial = draw(st.integers(0, 999))
    ten = f"{day:%y%m}{day.day + (60 if samordning else 0):02d}{serial:03d}"
    check = luhn_digit(ten)
    if not check_ok:
        check = (check + draw(st.integers(1, 9))) % 10
    return f"{day.year // 100}{ten}{check}"


AROUND = st.sampled_from(["", "Se ", "Klient ", "(", "ärende EB-"]), st.sampled_from(["", " ringde.", ")", ", se akt"])


@settings(max_examples=300, deadline=None)
@given(number=numbers(), spelling=st.sampled_from(SPELLING_NAMES), before=AROUND[0], after=AROUND[1])
def test_every_spelling_with_a_valid_check_digit_is_found(number, spelling, before, after):
    make = dict((n, m) for n, m, _ in SPELLINGS)[spelling]
    assert contains_personnummer(before + make(number) + after)


@settings(max_examples=300, deadline=None)
@given(number=numbers(check_ok=False), spelling=st.sampled_from(sorted(set(SPELLING_NAMES) - NEEDS_CHECK)),
       before=AROUND[0], after=AROUND[1])
def test_a_separator_before_the_last_four_digits_is_refused_whatever_the_check_digit(number, spelling, before, after):
    make = dict((n, m) for n, m, _ in SPELLINGS)[spelling]
    assert contains_personnummer(before + make(number) + after)


@settings(max_examples=200, deadline=None)
@given(number=numbers(check_ok=False), spelling=st.sampled_from(sorted(NEEDS_CHECK)))
def test_digits_in_a_row_need_a_valid_check_digit(number, spelling):
    make = dict((n, m) for n, m, _ in SPELLINGS)[spelling]
    value = make(number)
    # a wrong check digit written without a separator is a number, not a personnummer; unless
    # the first ten of twelve digits in a row happen to be a valid one themselves (19YYMMDDNN)
    from kontroll.privacy.personnummer import luhn_valid, real_date

    head = number[:10]
    head_is_one = number in value and real_date(head[:6]) and luhn_valid(head)
    assert contains_personnummer(value) == head_is_one


@pytest.mark.parametrize("text", [
    "EB-2022-004862", "EB-2010-120536", "2024-01-31", "25 153,34", "12 345,67 kr", "070-123 45 67",
    "Beslut 2024-03-31 kl. 14:00", "perioden 2024-03-01 – 2024-03-31", "2024-03-31 - 2024-04-30",
    "Riksnormen 2025: 3 470 kr", "8501011237", "Ärendet aktualiserades 2023-11-23.", "",
])
def test_ordinary_values_are_not_flagged(text):
    assert not contains_personnummer(text)


# --- the import ------------------------------------------------------------------------------

COLUMNS = ["Ärendenummer", "Handläggare", "Grupp", "Hushållstyp"]


def _csv(rows: list[list[str]]) -> bytes:
    return ("\ufeff" + "\r\n".join(";".join(r) for r in [COLUMNS] + rows) + "\r\n").encode("utf-8")


@settings(max_examples=60, deadline=None)
@given(number=numbers(), spelling=st.sampled_from(SPELLING_NAMES), column=st.integers(0, 3),
       row=st.integers(0, 4), xlsx=st.booleans())
def test_the_import_refuses_every_spelling_in_any_mapped_column_naming_column_and_row(number, spelling, column, row,
                                                                                     xlsx):
    make = dict((n, m) for n, m, _ in SPELLINGS)[spelling]
    rows = [[f"EB-{i}", "Anna A", "Grupp 1", "Övriga"] for i in range(5)]
    value = make(number)
    rows[row][column] = value
    data = write_xlsx([COLUMNS] + rows) if xlsx else _csv(rows)
    with pytest.raises(CaseListError) as err:
        parse_case_list(data, "lista.xlsx" if xlsx else "lista.csv")
    e = err.value
    assert "personnummer" in e.message and e.column == COLUMNS[column] and e.rows == [row + 2]
    assert number[-4:] not in e.message and number[2:8] not in e.message


def _counts(db):
    return (db.scalar(select(func.count()).select_from(CaseListSnapshot)),
            db.scalar(select(func.count()).select_from(SnapshotCase)))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(number=numbers(), spelling=st.sampled_from(SPELLING_NAMES))
def test_the_api_refuses_every_spelling_and_stores_nothing(api, db, number, spelling):
    client, key = api
    make = dict((n, m) for n, m, _ in SPELLINGS)[spelling]
    before = _counts(db)
    data = _csv([["EB-1", "Anna A", "Grupp 1", "Övriga"], [make(number), "Bo B", "Grupp 2", "Övriga"]])
    response = client.post("/api/v1/enheter/IFO-FS/arendelista?filnamn=l.csv", data=data,
                           headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 422
    body = response.get_json()
    assert body["kolumn"] == "Ärendenummer" and body["rader"] == [3] and "personnummer" in body["fel"]
    assert number[-4:] not in response.get_data(as_text=True)
    db.expire_all()
    assert _counts(db) == before


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(number=numbers(), spelling=st.sampled_from(SPELLING_NAMES))
def test_the_upload_form_refuses_every_spelling_and_stores_nothing(upload, db, number, spelling):
    client, token = upload
    make = dict((n, m) for n, m, _ in SPELLINGS)[spelling]
    before = _counts(db)
    data = _csv([["EB-1", "Anna A " + make(number), "Grupp 1", "Övriga"]])
    response = client.post("/enheter/IFO-FS/arendelistor/ny", content_type="multipart/form-data",
                           data={"csrf_token": token, "fil": (io.BytesIO(data), "lista.csv")})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "personnummer" in html and "rad 2" in html and number[-4:] not in html
    db.expire_all()
    assert _counts(db) == before


@pytest.fixture
def api(app, world):
    from kontroll.cases import services as svc
    from kontroll.core import users as user_svc
    from kontroll.db import get_database

    with get_database(app).session_scope() as session:
        key, _row = svc.create_api_token(session, user_svc.get_user_by_username(session, "sektionschef"),
                                         user_svc.get_unit_by_code(session, "IFO-FS"), "Test")
    return app.test_client(), key


@pytest.fixture
def upload(app, world):
    from tests.support.web import csrf_from, login

    client = app.test_client()
    login(client, "forste")
    return client, csrf_from(client.get("/enheter/IFO-FS/arendelistor/ny").get_data(as_text=True))
