"""Tests for kontroll.cases.parsing (pure: no Flask, no database).

Run alone with:
    .venv/bin/python -m pytest --noconftest -q tests/cases/test_parsing.py
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import subprocess
import sys
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kontroll.cases import parsing
from kontroll.cases.parsing import (
    FIELD_LABELS,
    FIELDS,
    CaseListError,
    CaseRow,
    ParsedCaseList,
    canonical_bytes,
    guess_mapping,
    parse_case_list,
    snapshot_sha256,
)
from kontroll.privacy.personnummer import contains_personnummer

DATA = Path(__file__).resolve().parents[1] / "data"  # copies of ../shared/data
REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "caselist-canonical-form.md"

HEADER = ["Ärendenummer", "Personnummer", "Namn", "Handläggare", "Handläggarsignatur",
          "Grupp", "Aktualiseringsdatum", "Senaste beslut", "Hushållstyp", "Antal barn",
          "Beviljat belopp (kr)"]


def luhn_complete(nine: str) -> str:
    """Append the Luhn check digit to a 9-digit string (independent of the module)."""
    total = 0
    for i, ch in enumerate(nine):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return nine + str((10 - total % 10) % 10)


def bad_luhn(nine: str) -> str:
    good = luhn_complete(nine)
    return good[:-1] + str((int(good[-1]) + 1) % 10)


def make_csv(rows: list[list[str]], *, delimiter: str = ";", newline: str = "\r\n",
             encoding: str = "utf-8-sig") -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=newline)
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


def simple(rows: list[list[str]], header: list[str] | None = None, **kw) -> bytes:
    return make_csv([header or ["Ärendenummer", "Handläggare", "Aktualiseringsdatum",
                                "Belopp"], *rows], **kw)


def make_xlsx(rows: list[list], *, title: str = "Ärendelista") -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def error_of(data: bytes, filename: str = "lista.csv", **kw) -> CaseListError:
    with pytest.raises(CaseListError) as info:
        parse_case_list(data, filename, **kw)
    return info.value


# ---------------------------------------------------------------------------
# The shared example files
# ---------------------------------------------------------------------------


def test_shared_utf8_bom_file():
    data = (DATA / "arendelista-utf8-bom.csv").read_bytes()
    result = parse_case_list(data, "arendelista-utf8-bom.csv")
    assert isinstance(result, ParsedCaseList)
    assert result.file_format == "csv"
    assert result.encoding == "utf-8-sig"
    assert result.delimiter == ";"
    assert len(result.rows) == 240
    assert result.mapping == {
        "case_ref": "Ärendenummer",
        "handlaggare_namn": "Handläggare",
        "handlaggare_signatur": "Handläggarsignatur",
        "team": "Grupp",
        "aktualiseringsdatum": "Aktualiseringsdatum",
        "senaste_beslutsdatum": "Senaste beslut",
        "hushallstyp": "Hushållstyp",
        "belopp": "Beviljat belopp (kr)",
    }
    assert result.unmapped_headers == ["Personnummer", "Namn", "Antal barn"]
    assert result.rows[0] == CaseRow(
        case_ref="EB-2022-004862", handlaggare_namn="Jonas Mohammed",
        handlaggare_signatur="JOMO", team="Grupp 2",
        aktualiseringsdatum=date(2022, 10, 10), senaste_beslutsdatum=date(2023, 2, 27),
        hushallstyp="Övriga", belopp=Decimal("25153.34"), source_row=2)
    assert result.rows[-1].source_row == 241
    assert [r.source_row for r in result.rows] == list(range(2, 242))


def test_shared_ansi_file():
    data = (DATA / "arendelista-ansi.csv").read_bytes()
    result = parse_case_list(data, "arendelista-ansi.csv")
    assert result.encoding == "cp1252"
    assert result.delimiter == ";"
    assert len(result.rows) == 180
    assert result.mapping == {
        "case_ref": "Ärende-ID",
        "handlaggare_namn": "Ansvarig handläggare",
        "handlaggare_signatur": "Sign",
        "aktualiseringsdatum": "Akt.datum",
        "belopp": "Belopp",
    }
    assert result.unmapped_headers == ["Enhet"]
    first = result.rows[0]
    assert first.case_ref == "INT-2019-002944"
    assert first.handlaggare_namn == "Nils Nyström"
    assert first.aktualiseringsdatum == date(2019, 6, 2)
    assert first.belopp == Decimal("17664.97")
    assert first.team is None


def test_shared_xlsx_file():
    data = (DATA / "arendelista.xlsx").read_bytes()
    result = parse_case_list(data, "arendelista.xlsx")
    assert result.file_format == "xlsx"
    assert result.encoding is None and result.delimiter is None
    assert len(result.rows) == 120
    first = result.rows[0]
    assert first.case_ref == "EB-2020-001265"
    assert first.aktualiseringsdatum == date(2020, 7, 22)
    assert first.belopp == Decimal("4616.39")
    assert first.source_row == 2


def test_unmapped_columns_never_reach_the_result():
    data = (DATA / "arendelista-utf8-bom.csv").read_bytes()
    text = data.decode("utf-8-sig")
    personnummer = re.findall(r"\d{8}-\d{4}", text)
    assert len(personnummer) == 240
    result = parse_case_list(data, "x.csv")
    dump = repr(result)
    assert "Klient" not in dump
    assert not re.search(r"\d{8}-\d{4}", dump)
    assert not any(pn in dump for pn in personnummer)
    assert not any(pn[2:] in dump or pn.replace("-", "") in dump for pn in personnummer)


def test_unmapped_columns_are_not_even_validated():
    long_junk = "x" * 5000
    data = make_csv([
        ["Ärendenummer", "Personnummer", "Handläggare", "Datum för annat", "Kommentar"],
        ["A-1", "19121212-1212", "Anna", "inte ett datum", long_junk],
        ["A-2", "#N/A", "Bo", "2024-99-99", "\t\t"],
    ])
    result = parse_case_list(data, "x.csv")
    assert [r.case_ref for r in result.rows] == ["A-1", "A-2"]
    assert result.unmapped_headers == ["Personnummer", "Datum för annat", "Kommentar"]
    assert "19121212" not in repr(result) and long_junk not in repr(result)


# ---------------------------------------------------------------------------
# CSV variants
# ---------------------------------------------------------------------------

ROWS = [["EB-1", "Anna Andersson", "2024-01-31", "1 234,50"],
        ["EB-2", "Bo Berg", "2023-12-01", "99"]]


@pytest.mark.parametrize("kw, encoding, delimiter", [
    ({}, "utf-8-sig", ";"),
    ({"newline": "\n"}, "utf-8-sig", ";"),
    ({"encoding": "utf-8"}, "utf-8", ";"),
    ({"encoding": "cp1252"}, "cp1252", ";"),
    ({"delimiter": "\t"}, "utf-8-sig", "\t"),
    ({"delimiter": ","}, "utf-8-sig", ","),
    ({"delimiter": ",", "encoding": "cp1252", "newline": "\n"}, "cp1252", ","),
    ({"delimiter": "\t", "encoding": "utf-16"}, "utf-16", "\t"),
])
def test_csv_variants(kw, encoding, delimiter):
    result = parse_case_list(simple(ROWS, **kw), "lista.csv")
    assert result.encoding == encoding
    assert result.delimiter == delimiter
    assert [(r.case_ref, r.handlaggare_namn, r.aktualiseringsdatum, r.belopp,
             r.source_row) for r in result.rows] == [
        ("EB-1", "Anna Andersson", date(2024, 1, 31), Decimal("1234.50"), 2),
        ("EB-2", "Bo Berg", date(2023, 12, 1), Decimal("99.00"), 3)]


def test_comma_delimited_with_quoted_decimal_comma():
    data = b'\xc3\x84rende,Handl\xc3\xa4ggare,Belopp\n"EB-1","Anna","25 153,34"\n'
    result = parse_case_list(data, "x.csv")
    assert result.delimiter == ","
    assert result.rows[0].belopp == Decimal("25153.34")


def test_old_mac_line_endings_and_sep_line():
    result = parse_case_list(simple(ROWS, newline="\r", encoding="utf-8"), "x.csv")
    assert [r.case_ref for r in result.rows] == ["EB-1", "EB-2"]
    data = b"sep=,\r\n" + simple(ROWS, delimiter=",", encoding="utf-8")
    result = parse_case_list(data, "x.csv")
    assert result.delimiter == ","
    assert [r.source_row for r in result.rows] == [2, 3]  # Excel hides the sep line


def test_quoted_field_with_line_break_counts_as_one_row():
    data = simple([["EB-1", "Anna\r\nAndersson", "", ""], ["EB-2", "Bo", "", ""]])
    result = parse_case_list(data, "x.csv")
    assert result.rows[0].handlaggare_namn == "Anna Andersson"
    assert [r.source_row for r in result.rows] == [2, 3]


def test_format_is_decided_by_content_not_name():
    xlsx = make_xlsx([["Ärendenummer", "Handläggare"], ["EB-1", "Anna"]])
    assert parse_case_list(xlsx, "lista.csv").file_format == "xlsx"
    assert parse_case_list(simple(ROWS), "lista.xlsx").file_format == "csv"


def test_blank_rows_and_ragged_rows():
    data = make_csv([
        [],
        ["Ärendenummer", "Handläggare", "Grupp", "Belopp"],
        ["EB-1", "Anna"],                               # fewer cells than the header
        ["", " ", "", ""],
        ["EB-2", "Bo", "G1", "10", "extra", "cells"],   # more cells
        [],
    ])
    result = parse_case_list(data, "x.csv")
    assert [(r.case_ref, r.team, r.belopp, r.source_row) for r in result.rows] == [
        ("EB-1", None, None, 3), ("EB-2", "G1", Decimal("10.00"), 5)]


def test_rows_of_bare_delimiters_are_skipped():
    raw = "Ärendenummer;Handläggare\r\nEB-1;Anna\r\n;;;;\r\n  ;\t\r\nEB-2;Bo\r\n"
    result = parse_case_list(raw.encode(), "x.csv")
    assert [r.source_row for r in result.rows] == [2, 5]


def test_row_with_only_unmapped_data_is_skipped():
    data = make_csv([["Ärendenummer", "Personnummer", "Handläggare"],
                     ["EB-1", "", "Anna"], ["", "Summa", ""]])
    assert [r.case_ref for r in parse_case_list(data, "x.csv").rows] == ["EB-1"]


def test_value_cleaning():
    data = simple([[" EB-1 ", "  A\u030asa \t\n O\u0308berg ", "", ""],
                   ["EB-2", "Bo\u00a0Berg", "", ""]])
    rows = parse_case_list(data, "x.csv").rows
    assert rows[0].case_ref == "EB-1"
    assert rows[0].handlaggare_namn == "Åsa Öberg"  # NFC, control run collapsed
    assert rows[1].handlaggare_namn == "Bo\u00a0Berg"


def test_header_row_may_follow_blank_lines():
    data = b"\r\n\r\n" + simple(ROWS)
    result = parse_case_list(data, "x.csv")
    assert [r.source_row for r in result.rows] == [4, 5]


# ---------------------------------------------------------------------------
# XLSX
# ---------------------------------------------------------------------------


def test_xlsx_numbers_dates_and_serials():
    data = make_xlsx([
        ["Ärendenr", "Signatur", "Akt.datum", "Beslutsdatum", "Belopp (kr)", "Personnummer"],
        [12345, "ANAN", datetime(2024, 3, 1, 0, 0), 45352, 4616.39, 191212121212],
        [67890.0, "BOBE", date(2023, 1, 2), 45352.75, 1000, "19121212-1212"],
        [1.5, "CECE", "2022-05-06", "2024-03-01 13:45", "12 345,67 kr", None],
    ])
    result = parse_case_list(data, "x.xlsx")
    refs = [r.case_ref for r in result.rows]
    assert refs == ["12345", "67890", "1.5"]
    assert result.rows[0].aktualiseringsdatum == date(2024, 3, 1)
    assert result.rows[0].senaste_beslutsdatum == date(2024, 3, 1)  # serial 45352
    assert result.rows[1].senaste_beslutsdatum == date(2024, 3, 1)
    assert result.rows[1].aktualiseringsdatum == date(2023, 1, 2)
    assert result.rows[2].senaste_beslutsdatum == date(2024, 3, 1)
    assert [r.belopp for r in result.rows] == [
        Decimal("4616.39"), Decimal("1000.00"), Decimal("12345.67")]
    assert "191212" not in repr(result)


def test_xlsx_header_below_blank_rows_and_gaps():
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws["B3"] = "Ärendenummer"
    ws["C3"] = "Handläggare"
    ws["B4"] = "EB-1"
    ws["C4"] = "Anna"
    ws["B7"] = "EB-2"
    ws["C7"] = "Bo"
    buf = io.BytesIO()
    wb.save(buf)
    result = parse_case_list(buf.getvalue(), "x.xlsx")
    assert [(r.case_ref, r.source_row) for r in result.rows] == [("EB-1", 4), ("EB-2", 7)]


def test_xlsx_case_ref_turned_into_date_is_refused():
    data = make_xlsx([["Ärendenummer", "Handläggare"], [datetime(2024, 1, 2), "Anna"]])
    err = error_of(data, "x.xlsx")
    assert err.column == "Ärendenummer" and err.rows == [2]
    assert "datum" in err.message


def test_xlsx_excel_error_cell_is_refused():
    data = make_xlsx([["Ärendenummer", "Handläggare"], ["EB-1", "#N/A"]])
    err = error_of(data, "x.xlsx")
    assert err.column == "Handläggare" and err.rows == [2]
    assert "Excel-fel" in err.message


def test_xlsx_with_wrong_dimension_is_read_in_full():
    data = make_xlsx([["Ärendenummer", "Handläggare"], ["EB-1", "A"], ["EB-2", "B"],
                      ["EB-3", "C"]])
    zin = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            body = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                body, n = re.subn(rb'<dimension ref="[^"]*"\s*/>',
                                  b'<dimension ref="A1:B2"/>', body)
                assert n == 1
            zout.writestr(item, body)
    result = parse_case_list(out.getvalue(), "x.xlsx")
    assert [r.case_ref for r in result.rows] == ["EB-1", "EB-2", "EB-3"]


# ---------------------------------------------------------------------------
# Personnummer guard
# ---------------------------------------------------------------------------

PN10 = luhn_complete("121212121")          # 1212121212
PN_SAMORDNING = luhn_complete("121272121")  # day 12 + 60


@pytest.mark.parametrize("value", [
    "19121212-2731",              # from the shared file
    "191212122731",               # 12 digits, no separator
    "121212-2731",                # 10 digits with '-'
    "121212+2731",                # 10 digits with '+' (100 years or older)
    "1212122731",                 # 10 digits, no separator
    PN10,
    f"{PN10[:6]}-{PN10[6:]}",
    PN_SAMORDNING,                                # samordningsnummer, 10 digits
    f"19{PN_SAMORDNING[:6]}-{PN_SAMORDNING[6:]}",  # samordningsnummer, 12 digits
    " 19121212-2731 ",
    "19121212-2732",              # wrong check digit, but written with a separator
    "12121212121",                # 1212121212 glued to a digit
])
def test_contains_personnummer(value):
    assert contains_personnummer(value)


@pytest.mark.parametrize("value", [
    bad_luhn("121212121"),        # wrong check digit, no separator
    "121312-1212",                # month 13 (and whatever Luhn says)
    luhn_complete("121232121"),   # day 32
    luhn_complete("121292121"),   # day 92 (32 + 60)
    "EB-2022-004862",
    "12345",
    "2024-01-31",
    "25 153,34",
    "",
])
def test_not_personnummer(value):
    assert not contains_personnummer(value)


@pytest.mark.parametrize("value", [
    "19121212-2731", "191212122731", "121212-2731", "121212+2731", "1212122731",
    PN_SAMORDNING, f"{PN_SAMORDNING[:6]}-{PN_SAMORDNING[6:]}",
])
def test_personnummer_in_case_ref_column_is_refused(value):
    data = simple([["EB-1", "Anna", "", ""], [value, "Bo", "", ""]])
    err = error_of(data)
    assert err.column == "Ärendenummer"
    assert err.rows == [3]
    assert "personnummer" in err.message
    assert "rad 3" in err.message
    assert value not in err.message and value.strip()[-4:] not in err.message


@pytest.mark.parametrize("field, header", [
    ("handlaggare_namn", "Handläggare"),
    ("aktualiseringsdatum", "Aktualiseringsdatum"),
    ("belopp", "Belopp"),
])
def test_personnummer_in_any_mapped_column_is_refused(field, header):
    row = ["EB-1", "Anna", "2024-01-01", "10"]
    row[["case_ref", "handlaggare_namn", "aktualiseringsdatum", "belopp"].index(field)] = (
        "19121212-2731")
    err = error_of(simple([row]))
    assert err.column == header and err.rows == [2]
    assert "2731" not in err.message


def test_personnummer_inside_a_mapped_value_is_refused():
    err = error_of(simple([["EB-1", "Klient 19121212-2731", "", ""]]))
    assert err.column == "Handläggare" and "2731" not in err.message


def test_mapping_the_personnummer_column_of_the_shared_file_is_refused():
    data = (DATA / "arendelista-utf8-bom.csv").read_bytes()
    err = error_of(data, overrides={"case_ref": "Personnummer"})
    assert err.column == "Personnummer"
    assert err.rows[:3] == [2, 3, 4] and len(err.rows) == 240
    assert not re.search(r"\d{4}-\d{4}", err.message)


def test_personnummer_as_excel_number_is_refused():
    data = make_xlsx([["Ärendenummer", "Handläggare"], ["EB-1", "A"], [1212122731, "B"]])
    err = error_of(data, "x.xlsx")
    assert err.column == "Ärendenummer" and err.rows == [3]


def test_ten_digits_with_bad_luhn_is_not_refused():
    value = bad_luhn("121212121")
    result = parse_case_list(simple([[value, "Anna", "", ""]]), "x.csv")
    assert result.rows[0].case_ref == value


def test_personnummer_guard_wins_over_other_errors():
    data = simple([["EB-1", "Anna", "inte ett datum", ""],
                   ["EB-2", "Bo", "", ""], ["19121212-2731", "Cia", "", ""]])
    err = error_of(data)
    assert err.column == "Ärendenummer" and err.rows == [4]
    assert "andra fel" in err.message


# ---------------------------------------------------------------------------
# Other refusals
# ---------------------------------------------------------------------------


def test_duplicate_case_ref_names_both_rows():
    err = error_of(simple([["EB-1", "A", "", ""], ["EB-2", "B", "", ""],
                           ["EB-1", "C", "", ""]]))
    assert err.rows == [2, 4]
    assert "rad 2" in err.message and "rad 4" in err.message
    assert err.column == "Ärendenummer"


def test_several_duplicates_are_all_listed():
    err = error_of(simple([["A", "x", "", ""], ["B", "x", "", ""], ["A", "x", "", ""],
                           ["B", "x", "", ""]]))
    assert err.rows == [2, 3, 4, 5]


def test_data_without_case_ref_names_the_row():
    err = error_of(simple([["EB-1", "A", "", ""], ["", "B", "2024-01-01", ""]]))
    assert err.rows == [3]
    assert "Rad 3" in err.message and "saknar ärendenummer" in err.message


def test_missing_case_ref_mapping_lists_headers():
    data = make_csv([["Id", "Handläggare", "Personnummer"], ["1", "A", "x"]])
    err = error_of(data)
    assert "ärendenummer" in err.message
    for header in ("”Id”", "”Handläggare”", "”Personnummer”"):
        assert header in err.message


def test_missing_handlaggare_mapping_lists_headers():
    data = make_csv([["Ärendenummer", "Grupp"], ["1", "A"]])
    err = error_of(data)
    assert "handläggare" in err.message and "”Grupp”" in err.message


def test_signature_alone_is_enough():
    data = make_csv([["Ärendenummer", "Sign"], ["1", "ANAN"]])
    assert parse_case_list(data, "x.csv").rows[0].handlaggare_signatur == "ANAN"


@pytest.mark.parametrize("data", [
    b"\x81\x8d\x8f\x90\x9d" * 20,                  # neither UTF-8 nor cp1252
    b"\x00\x01\x02\x03binary\x00\xff" * 10,
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\x00",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,  # old .xls / encrypted
    b"PK\x03\x04" + b"\x00" * 100,                 # broken zip
    b"\xef\xbb\xbf\xff\xfe",                        # BOM + invalid UTF-8
    b"",
    b"  \r\n ",
])
def test_unreadable_bytes(data):
    err = error_of(data)
    assert err.message
    assert isinstance(err, ValueError)


def test_unreadable_message_is_swedish():
    err = error_of(b"\x81\x8d\x8f\x90\x9d" * 20)
    assert err.message.startswith("Filen kunde inte läsas som CSV eller Excel (xlsx).")


def test_zip_with_too_many_entries_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(201):
            zf.writestr(f"f{i}.xml", "x")
    err = error_of(buf.getvalue(), "x.xlsx")
    assert "för många" in err.message


def test_zip_bomb_ratio_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\x00" * (8 * 1024 * 1024))
    err = error_of(buf.getvalue(), "x.xlsx")
    assert "zip-bomb" in err.message


def test_zip_too_large_uncompressed_is_refused(monkeypatch):
    monkeypatch.setattr(parsing.readers, "XLSX_MAX_UNCOMPRESSED", 1024 * 1024)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        for i in range(3):
            zf.writestr(f"xl/part{i}.xml", bytes(range(256)) * 2048)  # 512 KiB each
    err = error_of(buf.getvalue(), "x.xlsx")
    assert "för stor" in err.message


def test_real_zip_bomb_declared_size_is_refused_without_unpacking():
    """A 101 MB entry declared in the central directory is refused up front."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            chunk = b"<row/>" * 100_000
            for _ in range(170):
                f.write(chunk)
    err = error_of(buf.getvalue(), "x.xlsx")
    assert "zip-bomb" in err.message or "för stor" in err.message


def test_zip_that_is_not_a_workbook_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", "<office:document-content/>")
    err = error_of(buf.getvalue(), "lista.ods")
    assert "ingen Excel-arbetsbok" in err.message


def test_xlsx_entity_expansion_is_refused():
    """defusedxml must be in charge: a billion-laughs sheet is not expanded."""
    data = make_xlsx([["Ärendenummer", "Handläggare"], ["EB-1", "Anna"]])
    zin = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    changed = False
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
            b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>')
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            body = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert b">EB-1<" in body
                if body.startswith(b"<?xml"):
                    body = body.split(b"?>", 1)[1]
                body = bomb + body.replace(b">EB-1<", b">&lol3;<")
                changed = True
            zout.writestr(item, body)
    import openpyxl.xml

    assert changed and openpyxl.xml.DEFUSEDXML
    err = error_of(out.getvalue(), "x.xlsx")
    assert err.message.startswith("Filen kunde inte läsas")


def test_xlsx_without_header_row():
    err = error_of(make_xlsx([[None], [None]]), "x.xlsx")
    assert err.message


def test_file_without_header_row_does_not_echo_personal_data():
    data = (DATA / "arendelista-utf8-bom.csv").read_bytes().decode("utf-8-sig")
    headerless = "\r\n".join(data.split("\r\n")[1:]).encode("utf-8")
    err = error_of(headerless)
    assert err.rows == [1]
    assert "Klient" not in err.message and "2731" not in err.message


def test_header_only_is_refused():
    err = error_of(make_csv([["Ärendenummer", "Handläggare"]]))
    assert "inga ärenden" in err.message


def test_too_long_value_is_refused():
    err = error_of(simple([["EB-1", "A" * 201, "", ""]]))
    assert err.column == "Handläggare" and err.rows == [2] and "200" in err.message
    assert parse_case_list(simple([["EB-1", "A" * 200, "", ""]]), "x").rows


def test_duplicate_mapped_header_is_refused():
    data = make_csv([["Ärendenummer", "Handläggare", "Handläggare"], ["1", "A", "B"]])
    err = error_of(data)
    assert err.column == "Handläggare" and "2 gånger" in err.message


def test_duplicate_unmapped_header_is_fine():
    data = make_csv([["Ärendenummer", "Handläggare", "Namn", "Namn"], ["1", "A", "x", "y"]])
    assert parse_case_list(data, "x.csv").unmapped_headers == ["Namn", "Namn"]


def test_overlong_csv_field_is_a_case_list_error():
    data = simple([["EB-1", "A" * 200_000, "", ""]])
    error_of(data)


# ---------------------------------------------------------------------------
# Mapping
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("header, field", [
    ("Ärendenummer", "case_ref"), ("ÄRENDENR.", "case_ref"), ("Ärende-ID", "case_ref"),
    ("ärende id", "case_ref"), ("Ärende", "case_ref"), ("Aktnummer", "case_ref"),
    ("Dossiernummer", "case_ref"), ("Arendenummer", "case_ref"),
    ("Handläggare", "handlaggare_namn"), (" Ansvarig  handläggare ", "handlaggare_namn"),
    ("Handläggarnamn", "handlaggare_namn"), ("Handlaggare", "handlaggare_namn"),
    ("Handläggarsignatur", "handlaggare_signatur"), ("Signatur", "handlaggare_signatur"),
    ("Sign", "handlaggare_signatur"), ("Handläggar-ID", "handlaggare_signatur"),
    ("Användar-ID", "handlaggare_signatur"),
    ("Grupp", "team"), ("Handläggargrupp", "team"), ("Team", "team"),
    ("Arbetsgrupp", "team"),
    ("Aktualiseringsdatum", "aktualiseringsdatum"), ("Akt.datum", "aktualiseringsdatum"),
    ("Akt datum", "aktualiseringsdatum"), ("Aktualiserad", "aktualiseringsdatum"),
    ("Senaste beslut", "senaste_beslutsdatum"),
    ("Senaste beslutsdatum", "senaste_beslutsdatum"),
    ("Beslutsdatum", "senaste_beslutsdatum"),
    ("Hushållstyp", "hushallstyp"), ("Hushåll", "hushallstyp"),
    ("Beviljat belopp", "belopp"), ("Beviljat belopp (kr)", "belopp"),
    ("Belopp", "belopp"), ("Belopp (kr)", "belopp"), ("BELOPP, KR", "belopp"),
])
def test_guess_single_header(header, field):
    mapping = guess_mapping(["Personnummer", header, "Namn"])
    assert list(mapping) == [field]
    assert mapping[field] == " ".join(header.split())


def test_guess_never_maps_personal_columns():
    assert guess_mapping(["Personnummer", "Namn", "Klient", "Antal barn", "Status",
                          "Enhet"]) == {}


def test_guess_prefers_better_synonym():
    mapping = guess_mapping(["Ärende", "Ärendenummer", "Ansvarig handläggare",
                             "Handläggare"])
    assert mapping == {"case_ref": "Ärendenummer", "handlaggare_namn": "Handläggare"}


def test_saved_mapping_wins_over_guess():
    headers = ["Ärendenummer", "Lopnr", "Handläggare", "Grupp", "Team"]
    mapping = guess_mapping(headers, saved={"case_ref": "Lopnr", "team": "Team"})
    assert mapping["case_ref"] == "Lopnr"
    assert mapping["team"] == "Team"
    assert mapping["handlaggare_namn"] == "Handläggare"


def test_saved_mapping_for_a_missing_header_falls_back_to_guess():
    mapping = guess_mapping(["Ärendenummer", "Handläggare"],
                            saved={"case_ref": "Gammal rubrik", "okänt_fält": "x"})
    assert mapping["case_ref"] == "Ärendenummer"


def test_override_wins_over_saved_and_guess():
    headers = ["Ärendenummer", "Lopnr", "Dnr", "Handläggare"]
    mapping = guess_mapping(headers, saved={"case_ref": "Lopnr"},
                            overrides={"case_ref": "dnr"})
    assert mapping["case_ref"] == "Dnr"


def test_override_can_unmap_a_guessed_field():
    mapping = guess_mapping(["Ärendenummer", "Handläggare", "Hushåll"],
                            overrides={"hushallstyp": ""})
    assert "hushallstyp" not in mapping


def test_override_accepts_swedish_label_as_field():
    mapping = guess_mapping(["Id", "Handläggare"], overrides={"Ärendenummer": "Id"})
    assert mapping["case_ref"] == "Id"


def test_unknown_override_header_is_refused_with_headers_listed():
    with pytest.raises(CaseListError) as info:
        guess_mapping(["Ärendenummer", "Handläggare"], overrides={"team": "Enhet"})
    err = info.value
    assert "”Enhet”" in err.message and "”Ärendenummer”" in err.message
    assert "”Handläggare”" in err.message
    assert err.column == "Enhet"


def test_unknown_override_field_is_refused():
    with pytest.raises(CaseListError) as info:
        guess_mapping(["Ärendenummer"], overrides={"personnummer": "Ärendenummer"})
    assert "Okänt fält" in info.value.message


def test_same_header_for_two_fields_is_refused():
    with pytest.raises(CaseListError):
        guess_mapping(["Ärendenummer", "Handläggare"],
                      overrides={"handlaggare_namn": "Handläggare",
                                 "handlaggare_signatur": "Handläggare"})


def test_override_takes_header_from_guess():
    mapping = guess_mapping(["Ärendenummer", "Handläggare", "Sign"],
                            overrides={"case_ref": "Sign"})
    assert mapping["case_ref"] == "Sign"
    assert "handlaggare_signatur" not in mapping


def test_parse_uses_saved_and_overrides():
    data = make_csv([["Löpnr", "Ärendenummer", "Handläggare"], ["L1", "E1", "Anna"]])
    assert parse_case_list(data, "x").rows[0].case_ref == "E1"
    assert parse_case_list(data, "x", saved_mapping={"case_ref": "Löpnr"}).rows[0].case_ref == "L1"
    result = parse_case_list(data, "x", saved_mapping={"case_ref": "Löpnr"},
                             overrides={"case_ref": "Ärendenummer"})
    assert result.rows[0].case_ref == "E1"
    assert result.unmapped_headers == ["Löpnr"]
    err = error_of(data, overrides={"case_ref": "Saknas"})
    assert "”Saknas”" in err.message and "”Löpnr”" in err.message


def test_field_labels_cover_fields():
    assert tuple(FIELD_LABELS) == FIELDS
    assert FIELD_LABELS["case_ref"] == "Ärendenummer"


# ---------------------------------------------------------------------------
# Amounts and dates
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("25 153,34", "25153.34"), ("25\u00a0153,34", "25153.34"),
    ("25\u202f153,34", "25153.34"), ("25153,34", "25153.34"), ("25153.34", "25153.34"),
    ("25 153,34 kr", "25153.34"), ("25 153,34kr", "25153.34"), ("25153 KR", "25153.00"),
    ("1 234 567", "1234567.00"), ("0", "0.00"), ("-0,00", "0.00"), ("-120,5", "-120.50"),
    ("\u2212120,50", "-120.50"), ("+7", "7.00"), ("1.234,56", "1234.56"),
    ("1,234.56", "1234.56"), ("12,345", "12.35"), ("0,005", "0.01"), ("  99  ", "99.00"),
    ("7 906,98", "7906.98"),
])
def test_amount_parsing(text, expected):
    data = simple([["EB-1", "A", "", text]])
    belopp = parse_case_list(data, "x").rows[0].belopp
    assert belopp == Decimal(expected)
    assert str(belopp) == expected


@pytest.mark.parametrize("text", [
    "abc", "12,34,56", "1 23,45", "12 34", "1e5", "NaN", "Infinity", "1_000",
    "12-", "--1", "1.2.3", "10000000000000", "٣٤",
])
def test_unreadable_amount_names_column_and_row(text):
    err = error_of(simple([["EB-1", "A", "", "10"], ["EB-2", "B", "", text]]))
    assert err.column == "Belopp" and err.rows == [3]
    assert "belopp" in err.message and "rad 3" in err.message


@pytest.mark.parametrize("text, expected", [
    ("2024-01-31", date(2024, 1, 31)), ("2024-1-5", date(2024, 1, 5)),
    ("2024-01-31 00:00", date(2024, 1, 31)), ("2024-01-31 13:45:10", date(2024, 1, 31)),
    ("2024-01-31T13:45:10", date(2024, 1, 31)), (" 2024-02-29 ", date(2024, 2, 29)),
])
def test_date_parsing(text, expected):
    data = simple([["EB-1", "A", text, ""]])
    assert parse_case_list(data, "x").rows[0].aktualiseringsdatum == expected


@pytest.mark.parametrize("text", [
    "2023-02-29", "2024-13-01", "31/01/2024", "2024.01.31", "20240131", "igår",
    "0999-01-01", "45352", "2024-01-31 25:00", "2024-01-31 12:60", "2024-01-31 12:00x",
])
def test_unreadable_date_names_column_and_row(text):
    err = error_of(simple([["EB-1", "A", text, ""]]))
    assert err.column == "Aktualiseringsdatum" and err.rows == [2]
    assert "ÅÅÅÅ-MM-DD" in err.message


def test_bad_values_are_echoed_only_without_letters():
    err = error_of(simple([["EB-1", "A", "2024-13-01", ""]]))
    assert "”2024-13-01”" in err.message
    err = error_of(simple([["EB-1", "A", "Klient 3", ""]]))
    assert "Klient" not in err.message
    err = error_of(simple([["EB-1", "A", "", "Anna Andersson"]]))
    assert "Anna" not in err.message


def test_error_rows_are_capped_but_counted(monkeypatch):
    monkeypatch.setattr(parsing.errors, "MAX_ERROR_ROWS", 5)
    err = error_of(simple([[f"EB-{i}", "A", "fel", ""] for i in range(40)]))
    assert err.rows == [2, 3, 4, 5, 6]
    assert "rad 2, 3, 4, 5, 6 och 35 rader till" in err.message


def test_many_bad_dates_are_reported_together():
    rows = [[f"EB-{i}", "A", "fel" if i % 2 else "2024-01-01", ""] for i in range(30)]
    err = error_of(simple(rows))
    assert err.rows == list(range(3, 32, 2))
    assert "rader till" in err.message


# ---------------------------------------------------------------------------
# Canonical form
# ---------------------------------------------------------------------------

EXAMPLE_ROWS = [
    CaseRow("INT-2022-000042", None, "NINY", None, date(2022, 6, 2), None, None, None, 4),
    CaseRow("EB-2024-000123", "Åsa Öberg", "ASOB", "Grupp 1", date(2024, 3, 1),
            date(2025, 1, 15), "Ensamstående utan barn", Decimal("25153.34"), 2),
    CaseRow("EB-2023-004711", "Jonas Mohammed", "JOMO", "Grupp 2", date(2023, 11, 20),
            None, "Sammanboende med barn", Decimal("8400.00"), 3),
]
EXAMPLE_TEXT = (
    "kontroll-arendelista-v1\n"
    "case_ref\thandlaggare_namn\thandlaggare_signatur\tteam\taktualiseringsdatum\t"
    "senaste_beslutsdatum\thushallstyp\tbelopp\n"
    "EB-2023-004711\tJonas Mohammed\tJOMO\tGrupp 2\t2023-11-20\t\tSammanboende med barn"
    "\t8400.00\n"
    "EB-2024-000123\tÅsa Öberg\tASOB\tGrupp 1\t2024-03-01\t2025-01-15\t"
    "Ensamstående utan barn\t25153.34\n"
    "INT-2022-000042\t\tNINY\t\t2022-06-02\t\t\t\n"
)
EXAMPLE_SHA256 = "80171e8586700842ea41dd975a36d44e552d4e6138256f55136fbc992d56aa87"


def test_canonical_golden():
    assert canonical_bytes(EXAMPLE_ROWS) == EXAMPLE_TEXT.encode("utf-8")
    assert snapshot_sha256(EXAMPLE_ROWS) == EXAMPLE_SHA256
    assert hashlib.sha256(EXAMPLE_TEXT.encode()).hexdigest() == EXAMPLE_SHA256


def test_canonical_does_not_depend_on_order_or_source_row():
    shuffled = [EXAMPLE_ROWS[2], EXAMPLE_ROWS[0], EXAMPLE_ROWS[1]]
    renumbered = [CaseRow(*[getattr(r, f) for f in FIELDS], source_row=99 + i)
                  for i, r in enumerate(shuffled)]
    assert snapshot_sha256(renumbered) == EXAMPLE_SHA256


def test_canonical_normalises_equivalent_inputs():
    decomposed = CaseRow("EB-2024-000123", "A\u030asa O\u0308berg", "ASOB", "Grupp 1",
                         date(2024, 3, 1), date(2025, 1, 15),
                         "Ensamsta\u030aende utan barn", Decimal("25153.340"), 2)
    assert snapshot_sha256([EXAMPLE_ROWS[0], decomposed, EXAMPLE_ROWS[2]]) == EXAMPLE_SHA256


def test_canonical_amount_format():
    def line(amount):
        row = CaseRow("A", None, None, None, None, None, None, amount, 1)
        return canonical_bytes([row]).decode().splitlines()[2]

    assert line(Decimal("1E+3")) == "A\t\t\t\t\t\t\t1000.00"
    assert line(Decimal("-0.00")) == "A\t\t\t\t\t\t\t0.00"
    assert line(Decimal("-5.5")) == "A\t\t\t\t\t\t\t-5.50"
    assert line(7) == "A\t\t\t\t\t\t\t7.00"
    with pytest.raises(ValueError):
        line(Decimal("1.005"))


def test_canonical_refuses_ambiguous_rows():
    with pytest.raises(ValueError):
        canonical_bytes([EXAMPLE_ROWS[0], EXAMPLE_ROWS[0]])
    with pytest.raises(ValueError):
        canonical_bytes([CaseRow("A\tB", None, None, None, None, None, None, None, 1)])
    with pytest.raises(ValueError):
        canonical_bytes([CaseRow("A", "x\ny", None, None, None, None, None, None, 1)])
    with pytest.raises(ValueError):
        canonical_bytes([CaseRow("", None, None, None, None, None, None, None, 1)])
    with pytest.raises(TypeError):
        canonical_bytes([CaseRow("A", None, None, None, datetime(2024, 1, 1), None, None,
                                 None, 1)])


def test_canonical_sort_is_code_point_order():
    refs = ["b", "Ö", "EB-9", "EB-10", "Z", "a"]
    rows = [CaseRow(r, None, None, None, None, None, None, None, 1) for r in refs]
    lines = canonical_bytes(rows).decode().split("\n")[2:-1]
    assert [ln.split("\t")[0] for ln in lines] == ["EB-10", "EB-9", "Z", "a", "b", "Ö"]


def test_parsed_file_hash_is_stable_across_formats():
    """The same cases from CSV (UTF-8, cp1252, comma) and XLSX give one hash."""
    rows = [["EB-2", "Åsa Öberg", "2024-01-31", "25 153,34"],
            ["EB-1", "Bo Berg", "2023-12-01", "99"]]
    hashes = {snapshot_sha256(parse_case_list(simple(rows, **kw), "x").rows)
              for kw in ({}, {"encoding": "cp1252"}, {"delimiter": ","})}
    xlsx = make_xlsx([["Ärendenummer", "Handläggare", "Aktualiseringsdatum", "Belopp"],
                      ["EB-2", "Åsa Öberg", datetime(2024, 1, 31), 25153.34],
                      ["EB-1", "Bo Berg", date(2023, 12, 1), 99]])
    hashes.add(snapshot_sha256(parse_case_list(xlsx, "x.xlsx").rows))
    assert len(hashes) == 1


def _doc_python_snippet() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Recomputing the hash"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_doc_states_the_golden_hash_and_text():
    text = DOC.read_text(encoding="utf-8")
    assert EXAMPLE_SHA256 in text
    assert repr(EXAMPLE_TEXT.encode("utf-8")) in text
    assert f"({len(EXAMPLE_TEXT.encode('utf-8'))} bytes)" in text


def test_doc_auditor_snippet_recomputes_the_hash(tmp_path):
    snippet = _doc_python_snippet()
    assert len(snippet.strip().splitlines()) <= 10
    script = tmp_path / "recompute.py"
    script.write_text(snippet, encoding="utf-8")
    export = tmp_path / "snapshot.csv"
    with export.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS)
        for r in EXAMPLE_ROWS:
            writer.writerow(["" if getattr(r, k) is None else str(getattr(r, k))
                             for k in FIELDS])
    out = subprocess.run([sys.executable, str(script), str(export)], check=True,
                         capture_output=True, text=True).stdout.strip()
    assert out == EXAMPLE_SHA256


def test_doc_auditor_snippet_matches_a_real_import(tmp_path):
    result = parse_case_list((DATA / "arendelista-utf8-bom.csv").read_bytes(), "x.csv")
    script = tmp_path / "recompute.py"
    script.write_text(_doc_python_snippet(), encoding="utf-8")
    export = tmp_path / "snapshot.csv"
    with export.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS)
        for r in reversed(result.rows):
            writer.writerow(["" if getattr(r, k) is None else str(getattr(r, k))
                             for k in FIELDS])
    out = subprocess.run([sys.executable, str(script), str(export)], check=True,
                         capture_output=True, text=True).stdout.strip()
    assert out == snapshot_sha256(result.rows)


# ---------------------------------------------------------------------------
# Robustness: nothing but CaseListError ever escapes
# ---------------------------------------------------------------------------


def _parse_or_case_list_error(data: bytes, **kw) -> ParsedCaseList | None:
    try:
        result = parse_case_list(data, "fuzz.csv", **kw)
    except CaseListError as err:
        assert isinstance(err.message, str) and err.message
        assert all(isinstance(r, int) and r >= 1 for r in err.rows)
        return None
    assert isinstance(result, ParsedCaseList)
    assert result.rows
    snapshot_sha256(result.rows)  # every parsed result has a canonical form
    return result


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data):
    _parse_or_case_list_error(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=500))
def test_arbitrary_bytes_behind_zip_magic(data):
    _parse_or_case_list_error(b"PK\x03\x04" + data)


HEADER_POOL = HEADER + ["Ärende-ID", "Sign", "Akt.datum", "Belopp", "Enhet", "",
                        "Ansvarig handläggare", "Status"]
CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "EB-1", "EB-1", "2024-01-31", "2024-02-30", "25 153,34",
                     "1,5", "kr", "#N/A", "19121212-2731", "121212-1212", "1212121212",
                     '"', '""', "a\nb", "\t", "\r", "\u2028", "sep=;", "=1+1"]),
    st.integers(-10**12, 10**13).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
)


@st.composite
def csv_like(draw):
    headers = draw(st.lists(st.sampled_from(HEADER_POOL), min_size=1, max_size=8))
    rows = draw(st.lists(st.lists(CELL, max_size=len(headers) + 2), max_size=12))
    delimiter = draw(st.sampled_from([";", ",", "\t", "|"]))
    newline = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    quoted = draw(st.booleans())
    if quoted:
        buf = io.StringIO()
        csv.writer(buf, delimiter=delimiter, lineterminator=newline).writerows(
            [headers, *rows])
        text = buf.getvalue()
    else:
        text = newline.join(delimiter.join(r) for r in [headers, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    overrides = draw(st.one_of(st.none(), st.dictionaries(
        st.sampled_from(list(FIELDS) + ["bogus"]), st.sampled_from(HEADER_POOL),
        max_size=2)))
    saved = draw(st.one_of(st.none(), st.dictionaries(
        st.sampled_from(FIELDS), st.sampled_from(HEADER_POOL), max_size=3)))
    return data, overrides, saved


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_like())
def test_arbitrary_csv_like_text(case):
    data, overrides, saved = case
    result = _parse_or_case_list_error(data, overrides=overrides, saved_mapping=saved)
    if result is not None:
        refs = [r.case_ref for r in result.rows]
        assert len(refs) == len(set(refs))
        for r in result.rows:
            assert r.case_ref and not contains_personnummer(r.case_ref)
            for f in ("case_ref", "handlaggare_namn", "handlaggare_signatur", "team",
                      "hushallstyp"):
                v = getattr(r, f)
                assert v is None or ("\t" not in v and "\n" not in v and v == v.strip())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.one_of(st.none(), st.text(max_size=10), st.integers(),
                                   st.floats(allow_nan=False, allow_infinity=False),
                                   st.dates(), st.booleans()),
                         max_size=5), max_size=6))
def test_arbitrary_xlsx_cells(rows):
    from openpyxl.utils.exceptions import IllegalCharacterError

    try:
        data = make_xlsx([["Ärendenummer", "Handläggare", "Akt.datum", "Belopp",
                           "Personnummer"], *rows])
    except (IllegalCharacterError, ValueError):
        return  # openpyxl itself refuses some control characters
    _parse_or_case_list_error(data)
