"""Bounded imports: a case list larger than the configured limits is refused before it is
parsed (the CSV's lines, the XLSX's rows, cells and shared strings counted while streaming),
with a Swedish message, and nothing is stored. Times and memory are measured in
bench/bench_import_bounds.py, not here."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from kontroll.cases import parsing
from kontroll.cases.models import CaseListSnapshot, SnapshotCase
from kontroll.cases.parsing import CaseListError, ImportLimits, parse_case_list
from tests.support.web import csrf_from, login
from tests.support.xlsx import write_xlsx

HEADER = ["Ärendenummer", "Handläggare"]


def csv_rows(n: int) -> bytes:
    return ("Ärendenummer;Handläggare\r\n" + "".join(f"EB-{i};Anna A\r\n" for i in range(n))).encode()


@pytest.fixture
def no_openpyxl(monkeypatch):
    """Fail if openpyxl is asked to open the workbook: refusals must come before the parse."""
    import openpyxl

    def refuse(*_a, **_k):
        raise AssertionError("openpyxl parsed a workbook that should have been refused before")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)


def test_a_csv_over_the_row_limit_is_refused_before_decoding():
    with pytest.raises(CaseListError, match="fler än 1\u00a0000 rader"):
        parse_case_list(csv_rows(1200), "x.csv", limits=ImportLimits(max_rows=1000))
    assert len(parse_case_list(csv_rows(1000), "x.csv", limits=ImportLimits(max_rows=1000)).rows) == 1000


def test_the_row_guard_also_holds_inside_the_parse():
    # the line count leaves room for blank lines above the header (MAX_HEADER_SCAN_ROWS), so a
    # list a little over the limit passes it; the parse itself then stops at the limit
    data = csv_rows(150)
    assert 151 <= 120 + parsing.MAX_HEADER_SCAN_ROWS
    with pytest.raises(CaseListError, match="fler än 120 rader"):
        parse_case_list(data, "x.csv", limits=ImportLimits(max_rows=120))


def test_an_xlsx_over_the_row_limit_is_refused_before_openpyxl(no_openpyxl):
    data = write_xlsx([HEADER] + [[f"EB-{i}", "A"] for i in range(1500)])
    with pytest.raises(CaseListError, match="fler än 1\u00a0000 rader"):
        parse_case_list(data, "x.xlsx", limits=ImportLimits(max_rows=1000))


def test_an_xlsx_with_too_many_cells_is_refused_before_openpyxl(no_openpyxl):
    data = write_xlsx([HEADER + ["x"] * 50] + [[f"EB-{i}", "A"] + [1] * 50 for i in range(200)])
    with pytest.raises(CaseListError, match="fler än 5\u00a0000 celler"):
        parse_case_list(data, "x.xlsx", limits=ImportLimits(max_rows=1000, max_cells=5000))


def test_an_xlsx_with_too_many_shared_strings_is_refused_before_openpyxl(no_openpyxl):
    data = write_xlsx([HEADER, ["EB-1", "A"]], shared_strings=[f"s{i}" for i in range(3000)])
    with pytest.raises(CaseListError, match="många olika textvärden"):
        parse_case_list(data, "x.xlsx", limits=ImportLimits(max_shared_strings=2000))


def test_an_xlsx_within_the_limits_imports():
    data = write_xlsx([HEADER] + [[f"EB-{i}", "Anna A"] for i in range(300)], shared_strings=["a", "b"])
    parsed = parse_case_list(data, "x.xlsx", limits=ImportLimits(max_rows=300, max_cells=700, max_shared_strings=2))
    assert len(parsed.rows) == 300


def test_the_worst_case_of_the_probe_is_refused_with_the_default_limits(no_openpyxl):
    """1.1 million rows in a small XLSX (the probe's 5.7 MB file held a request for minutes)."""
    data = write_xlsx([HEADER] + [[i] for i in range(1_100_000)])
    assert len(data) < 12 * 1024 * 1024
    with pytest.raises(CaseListError, match="fler än 500\u00a0000 rader"):
        parse_case_list(data, "x.xlsx")


def _counts(db):
    return (db.scalar(select(func.count()).select_from(CaseListSnapshot)),
            db.scalar(select(func.count()).select_from(SnapshotCase)))


def test_the_configured_limit_holds_for_the_upload_and_the_api(client, app, world, db):
    from kontroll.cases import services as svc

    app.config["IMPORT_MAX_ROWS"] = 50
    before = _counts(db)
    login(client, "forste")
    token = csrf_from(client.get("/enheter/IFO-FS/arendelistor/ny").get_data(as_text=True))
    response = client.post("/enheter/IFO-FS/arendelistor/ny", content_type="multipart/form-data",
                           data={"csrf_token": token, "fil": (io.BytesIO(csv_rows(200)), "lista.csv")})
    assert response.status_code == 422
    assert "fler än 50 rader" in response.get_data(as_text=True)
    with app.app_context():
        from kontroll.core import users as user_svc
        from kontroll.db import get_session

        session = get_session()
        key, _row = svc.create_api_token(session, user_svc.get_user_by_username(session, "sektionschef"),
                                         user_svc.get_unit_by_code(session, "IFO-FS"), "Test")
        session.commit()
    response = client.post("/api/v1/enheter/IFO-FS/arendelista?filnamn=l.csv", data=csv_rows(200),
                           headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 422 and "fler än 50 rader" in response.get_json()["fel"]
    db.expire_all()
    assert _counts(db) == before


def test_rows_written_with_a_namespace_prefix_are_counted_too(no_openpyxl):
    """Strict OOXML writers prefix every tag (``x:row``): the scan counts those as well."""
    import zipfile

    from tests.support.xlsx import write_xlsx

    plain = write_xlsx([HEADER, ["EB-1", "A"]])
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain)) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                rows = "".join(f'<x:row><x:c t="inlineStr"><x:is><x:t>EB-{i}</x:t></x:is></x:c></x:row>'
                               for i in range(200))
                body = ('<?xml version="1.0"?><x:worksheet xmlns:x="http://schemas.openxmlformats.org/'
                        f'spreadsheetml/2006/main"><x:sheetData>{rows}</x:sheetData></x:worksheet>').encode()
            dst.writestr(item.filename, body)
    with pytest.raises(CaseListError, match="fler än 10 rader"):
        parse_case_list(buf.getvalue(), "x.xlsx", limits=ImportLimits(max_rows=10))
