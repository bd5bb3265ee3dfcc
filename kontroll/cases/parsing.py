"""Parsing of case lists (ärendelistor) exported from case systems.

A case list is a CSV or XLSX file exported from Lifecare, Treserva, Viva or
Combine. This module turns the bytes of such a file into a list of
:class:`CaseRow` and computes the canonical form and SHA-256 of a snapshot
(see ``docs/caselist-canonical-form.md``).

Privacy rules (design.md, invariant 6):

* Only *mapped* columns are read. The cells of every other column (for example
  Personnummer, Namn, Antal barn) are never converted, inspected or kept; only
  the header row is looked at to build the mapping.
* A value in a mapped column that looks like a personnummer or
  samordningsnummer stops the import. The error names the column and row but
  never the value.

Pure Python: no Flask, no database. All user-facing messages are Swedish.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Callable

# openpyxl decides at import time whether to parse XML through defusedxml
# (entity expansion, external entities). Import it explicitly so a missing
# package fails loudly here instead of silently downgrading openpyxl.
import defusedxml  # noqa: F401

from kontroll.privacy.personnummer import contains_personnummer

__all__ = [
    "FIELDS",
    "FIELD_LABELS",
    "REQUIRED_FIELDS",
    "HANDLAGGARE_FIELDS",
    "CaseListError",
    "CaseRow",
    "ParsedCaseList",
    "guess_mapping",
    "parse_case_list",
    "canonical_bytes",
    "snapshot_sha256",
    "CANONICAL_FORMAT_ID",
]

FIELDS = (
    "case_ref",
    "handlaggare_namn",
    "handlaggare_signatur",
    "team",
    "aktualiseringsdatum",
    "senaste_beslutsdatum",
    "hushallstyp",
    "belopp",
)

FIELD_LABELS: dict[str, str] = {
    "case_ref": "Ärendenummer",
    "handlaggare_namn": "Handläggare (namn)",
    "handlaggare_signatur": "Handläggarsignatur",
    "team": "Grupp/team",
    "aktualiseringsdatum": "Aktualiseringsdatum",
    "senaste_beslutsdatum": "Senaste beslutsdatum",
    "hushallstyp": "Hushållstyp",
    "belopp": "Beviljat belopp",
}

#: Fields that must always be mapped.
REQUIRED_FIELDS = ("case_ref",)
#: At least one of these must be mapped.
HANDLAGGARE_FIELDS = ("handlaggare_namn", "handlaggare_signatur")

#: First line of the canonical form; bump the version if the format changes.
CANONICAL_FORMAT_ID = "kontroll-arendelista-v1"

# Limits -------------------------------------------------------------------
MAX_FILE_BYTES = 100 * 1024 * 1024
#: rows of cases (IMPORT_MAX_ROWS); a larger list is refused before it is parsed
DEFAULT_MAX_ROWS = 500_000
#: cells in one sheet, counted while streaming the XLSX before openpyxl reads anything
DEFAULT_MAX_CELLS = 12_000_000
#: entries in an XLSX's shared-string table (openpyxl holds them all in memory)
DEFAULT_MAX_SHARED_STRINGS = 2_000_000
MAX_FIELD_CHARS = 200
MAX_ERROR_ROWS = 1000  # row numbers kept in CaseListError.rows
MAX_HEADER_SCAN_ROWS = 100  # the header must be among the first 100 rows
XLSX_MAX_ENTRIES = 200
XLSX_MAX_UNCOMPRESSED = 100 * 1024 * 1024
XLSX_MAX_RATIO = 200  # deflate tops out near 1030:1; real sheets stay < 30:1
XLSX_RATIO_MIN_SIZE = 1024 * 1024  # ratio only checked for entries above 1 MB
MAX_ABS_AMOUNT = Decimal("1000000000000")  # 10^12 kr
MIN_YEAR, MAX_YEAR = 1900, 2199

_TEXT_FIELDS = frozenset(
    {"case_ref", "handlaggare_namn", "handlaggare_signatur", "team", "hushallstyp"}
)
_DATE_FIELDS = frozenset({"aktualiseringsdatum", "senaste_beslutsdatum"})

_UNREADABLE = (
    "Filen kunde inte läsas som CSV eller Excel (xlsx). "
    "Exportera ärendelistan på nytt som CSV (semikolonavgränsad, UTF-8 eller "
    "Windows-1252) eller som Excel-arbetsbok (.xlsx)."
)

# Header synonyms, in priority order per field (normalised by _norm_header).
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "case_ref": (
        "Ärendenummer", "Ärendenr", "Ärende-ID", "Ärende id", "Aktnummer",
        "Dossiernummer", "Ärende",
    ),
    "handlaggare_namn": (
        "Handläggare", "Ansvarig handläggare", "Handläggarnamn",
        "Handläggarens namn",
    ),
    "handlaggare_signatur": (
        "Handläggarsignatur", "Signatur", "Sign", "Handläggar-ID",
        "Användar-ID",
    ),
    "team": ("Grupp", "Handläggargrupp", "Team", "Arbetsgrupp"),
    "aktualiseringsdatum": ("Aktualiseringsdatum", "Akt.datum", "Aktualiserad"),
    "senaste_beslutsdatum": (
        "Senaste beslut", "Senaste beslutsdatum", "Beslutsdatum",
    ),
    "hushallstyp": ("Hushållstyp", "Hushåll"),
    "belopp": ("Beviljat belopp", "Beviljat belopp (kr)", "Belopp", "Belopp (kr)"),
}


# --------------------------------------------------------------------------
# Public types
# --------------------------------------------------------------------------


class CaseListError(ValueError):
    """A case list that cannot be imported.

    ``message`` is Swedish and meant for the user. ``column`` is the header as
    written in the file (or ``None``); ``rows`` are 1-based row numbers as
    shown in Excel (the header is normally row 1), at most MAX_ERROR_ROWS of
    them (the message states the total).
    """

    def __init__(self, message: str, *, column: str | None = None,
                 rows: Iterable[int] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.rows = list(rows)

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


@dataclass(frozen=True, slots=True)
class CaseRow:
    case_ref: str
    handlaggare_namn: str | None
    handlaggare_signatur: str | None
    team: str | None
    aktualiseringsdatum: date | None
    senaste_beslutsdatum: date | None
    hushallstyp: str | None
    belopp: Decimal | None
    source_row: int


@dataclass(frozen=True)
class ImportLimits:
    """How large a case list may be. Enforced before the full parse: a CSV's line count, and an
    XLSX's rows, cells and shared strings counted while its XML streams through a decompressor,
    so that a refusal costs seconds and little memory whatever the file holds."""

    max_rows: int = DEFAULT_MAX_ROWS
    max_cells: int = DEFAULT_MAX_CELLS
    max_shared_strings: int = DEFAULT_MAX_SHARED_STRINGS

    @classmethod
    def from_config(cls, config: Any) -> ImportLimits:
        return cls(int(config.get("IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS)),
                   int(config.get("IMPORT_MAX_CELLS", DEFAULT_MAX_CELLS)),
                   int(config.get("IMPORT_MAX_SHARED_STRINGS", DEFAULT_MAX_SHARED_STRINGS)))


def _too_many_rows(limit: int) -> CaseListError:
    count = f"{limit:,}".replace(",", "\u00a0")
    return CaseListError(
        f"Filen har fler än {count} rader och kan inte importeras. Dela upp listan, eller be "
        "systemadministratören höja gränsen (IMPORT_MAX_ROWS). Ingenting har sparats.")


@dataclass
class ParsedCaseList:
    rows: list[CaseRow]
    mapping: dict[str, str]
    unmapped_headers: list[str]
    file_format: str
    encoding: str | None
    delimiter: str | None


# --------------------------------------------------------------------------
# Value cleaning
# --------------------------------------------------------------------------

# A run of whitespace that contains at least one control or line-break
# character (tab, CR, LF, VT, FF, NEL, U+2028/9, other C0/C1 controls).
_CTRL = "\x00-\x1f\x7f-\x9f\u2028\u2029"
_CONTROL_RUN = re.compile(f"[\\s{_CTRL}]*[{_CTRL}][\\s{_CTRL}]*")


def _clean_text(value: str) -> str | None:
    """Strip, collapse control runs to one space, NFC-normalise; '' -> None."""
    value = value.strip()
    if not value:
        return None
    if not value.isprintable():  # cheap C-level test; true for most values
        value = _CONTROL_RUN.sub(" ", value).strip()
        if not value:
            return None
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
    return value


def _clean_header(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        value = _number_text(value) if isinstance(value, (int, float)) else str(value)
    value = _clean_text(value) or ""
    return " ".join(value.split())


def _norm_header(value: str) -> str:
    """Case-, accent-, whitespace- and punctuation-insensitive header key."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(
        ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch)
    )


_NORMALISED_SYNONYMS: dict[str, tuple[str, ...]] = {
    f: tuple(dict.fromkeys(_norm_header(s) for s in syns))
    for f, syns in _SYNONYMS.items()
}


def _number_text(value: int | float) -> str:
    """Text of a numeric cell: Excel turns ids into numbers (12345.0)."""
    if isinstance(value, bool):
        return "SANT" if value else "FALSKT"
    if isinstance(value, int):
        return str(value)
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value.is_integer():
        return str(int(value))
    return repr(value)


# --------------------------------------------------------------------------
# Dates and amounts
# --------------------------------------------------------------------------

_DATE_RE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[ T]([01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:[.,]\d{1,9})?)?)?",
    re.ASCII,
)


class _CellProblem(Exception):
    """Internal: one cell cannot be used. Carries a kind and a safe example."""

    def __init__(self, kind: str, example: str | None = None) -> None:
        self.kind = kind
        self.example = example


def _safe_example(value: str) -> str | None:
    """A bad value that may be echoed in an error message, or None.

    Only short values without letters (such as "2024-13-01" or "1,2,3"):
    a value with letters could be a client's name from a wrongly mapped
    column, and messages may end up in logs. Never a personnummer.
    """
    if len(value) > 40 or any(ch.isalpha() for ch in value):
        return None
    if contains_personnummer(value):
        return None
    return value


def _parse_date_text(value: str) -> date:
    m = _DATE_RE.fullmatch(value)
    if m is None:
        raise _CellProblem("date", _safe_example(value))
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise _CellProblem("date", _safe_example(value))
    try:
        return date(year, month, day)
    except ValueError:
        raise _CellProblem("date", _safe_example(value)) from None


_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")
_AMOUNT_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ",
                                "\u2007": " ", "\u2212": "-"})
_AMOUNT_RE = re.compile(
    r"([+-]?) ?"
    r"(?:"
    r"(\d{1,3}(?: \d{3})+|\d+)(?:[.,](\d+))?"  # 25 153,34 / 25153.34 / 25153
    r"|(\d{1,3}(?:\.\d{3})+),(\d+)"  # 1.234,56
    r"|(\d{1,3}(?:,\d{3})+)\.(\d+)"  # 1,234.56
    r")"
    r"(?: ?(?:kr\.?|sek))?",
    re.ASCII | re.IGNORECASE,
)


def _finish_amount(value: Decimal, example: str | None) -> Decimal:
    try:
        if not value.is_finite() or abs(value) >= MAX_ABS_AMOUNT:
            raise _CellProblem("amount", example)
        value = value.quantize(_CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise _CellProblem("amount", example) from None
    return _ZERO if value == 0 else value


def _parse_amount_text(value: str) -> Decimal:
    text = value.translate(_AMOUNT_SPACES)
    m = _AMOUNT_RE.fullmatch(text)
    if m is None:
        raise _CellProblem("amount", _safe_example(value))
    sign = m.group(1)
    if m.group(2) is not None:
        whole, frac = m.group(2).replace(" ", ""), m.group(3)
    elif m.group(4) is not None:
        whole, frac = m.group(4).replace(".", ""), m.group(5)
    else:
        whole, frac = m.group(6).replace(",", ""), m.group(7)
    number = Decimal(f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}")
    return _finish_amount(number, _safe_example(value))


# Excel error values as openpyxl (data_only) and Excel's CSV export write them.
_EXCEL_ERRORS = frozenset({
    "#N/A", "#NAMN?", "#NAME?", "#VALUE!", "#VÄRDEFEL!", "#REF!", "#REFERENS!",
    "#DIV/0!", "#NUM!", "#NULL!", "#SPILL!", "#CALC!", "#GETTING_DATA",
    "#SAKNAS!", "#SAKNAS",
})


# --------------------------------------------------------------------------
# Converters: one per mapped field. A converter takes a raw cell (str from
# CSV; str, number, date or None from XLSX) and returns the field value, None
# for an empty cell, or raises _CellProblem. Text and date converters cache
# raw -> value; only values that passed every check are cached.
# --------------------------------------------------------------------------

_MISSING = object()


def _check_text(value: str) -> str:
    if contains_personnummer(value):
        raise _CellProblem("personnummer")
    if len(value) > MAX_FIELD_CHARS:
        raise _CellProblem("too_long")
    if value[0] == "#" and value.upper() in _EXCEL_ERRORS:
        raise _CellProblem("excel_error", value)
    return value


def _check_number_cell(value: int | float) -> None:
    """A numeric XLSX cell may be a personnummer Excel turned into a number."""
    if isinstance(value, bool):
        return
    if isinstance(value, float) and not value.is_integer():
        return
    text = _number_text(value)
    if contains_personnummer(text):
        raise _CellProblem("personnummer")


def _text_value(raw: Any, is_ref: bool) -> str | None:
    """Full conversion of one cell of a text field."""
    if raw is None:
        return None
    if type(raw) is str:
        value = _clean_text(raw)
        return None if value is None else _check_text(value)
    if isinstance(raw, (datetime, date, time, timedelta)):
        if is_ref:
            raise _CellProblem("ref_is_date")
        if isinstance(raw, datetime) and raw.time() == time(0):
            raw = raw.date()
        return _check_text(raw.isoformat())
    if isinstance(raw, (int, float)):
        _check_number_cell(raw)
        return _check_text(_number_text(raw))
    value = _clean_text(str(raw))
    return None if value is None else _check_text(value)


def _make_text_converter() -> Callable[[Any], str | None]:
    cache: dict[Any, str | None] = {}
    get = cache.get

    def convert(raw: Any) -> str | None:
        value = get(raw, _MISSING)
        if value is _MISSING:
            value = _text_value(raw, False)
            cache[raw] = value
        return value  # type: ignore[return-value]

    return convert


def _ref_converter(raw: Any) -> str | None:
    """case_ref: unique per row, so no cache; plain ASCII values take a fast path."""
    if type(raw) is str and raw.isascii() and raw.isprintable():
        value = raw.strip()
        if not value:
            return None
        if len(value) > MAX_FIELD_CHARS or value[0] == "#":
            return _check_text(value)
        if contains_personnummer(value):
            raise _CellProblem("personnummer")
        return value
    return _text_value(raw, True)


def _date_value(raw: Any, epoch: datetime | None) -> date | None:
    if raw is None:
        return None
    if type(raw) is str:
        value = _clean_text(raw)
        if value is None:
            return None
        if contains_personnummer(value):
            raise _CellProblem("personnummer")
        return _parse_date_text(value)
    if isinstance(raw, datetime):
        result = raw.date()
    elif isinstance(raw, date):
        result = raw
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool) and epoch:
        _check_number_cell(raw)
        result = _excel_serial_to_date(raw, epoch)
    else:
        raise _CellProblem("date")
    if not MIN_YEAR <= result.year <= MAX_YEAR:
        raise _CellProblem("date", result.isoformat())
    return result


def _make_date_converter(epoch: datetime | None) -> Callable[[Any], date | None]:
    cache: dict[Any, date | None] = {}
    get = cache.get

    def convert(raw: Any) -> date | None:
        value = get(raw, _MISSING)
        if value is _MISSING:
            value = _date_value(raw, epoch)
            cache[raw] = value
        return value  # type: ignore[return-value]

    return convert


def _excel_serial_to_date(serial: int | float, epoch: datetime) -> date:
    from openpyxl.utils.datetime import from_excel

    if not 1 <= serial < 2_958_466:  # up to 9999-12-31
        raise _CellProblem("date", _number_text(serial))
    try:
        result = from_excel(serial, epoch)
    except (ValueError, OverflowError, TypeError):
        raise _CellProblem("date", _number_text(serial)) from None
    if isinstance(result, datetime):
        return result.date()
    if isinstance(result, date):
        return result
    raise _CellProblem("date", _number_text(serial))


# The common Swedish form "25 153,34" (or 25153.34): at most 12 integer digits,
# exactly two decimals. Anything else goes through _parse_amount_text.
_AMOUNT_FAST = re.compile(
    r"-?(?:\d{1,3}(?:[ \u00a0\u202f]\d{3}){0,3}|\d{1,12})[,.]\d\d", re.ASCII)
_AMOUNT_FAST_TABLE = str.maketrans({" ": None, "\u00a0": None, "\u202f": None,
                                    ",": "."})


def _amount_value(raw: Any) -> Decimal | None:
    if raw is None:
        return None
    if type(raw) is str:
        # Below 13 characters a fast-path amount has at most 9 integer digits
        # and cannot hold a personnummer.
        if _AMOUNT_FAST.fullmatch(raw) and (len(raw) < 13 or not contains_personnummer(raw)):
            number = Decimal(raw.translate(_AMOUNT_FAST_TABLE))
            return _ZERO if raw[0] == "-" and not number else number
        value = _clean_text(raw)
        if value is None:
            return None
        if contains_personnummer(value):
            raise _CellProblem("personnummer")
        return _parse_amount_text(value)
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        _check_number_cell(raw)
        try:
            number = Decimal(raw) if isinstance(raw, int) else Decimal(repr(raw))
        except (InvalidOperation, ValueError):
            raise _CellProblem("amount") from None
        return _finish_amount(number, None)
    if isinstance(raw, Decimal):
        return _finish_amount(raw, None)
    raise _CellProblem("amount")


# --------------------------------------------------------------------------
# Error collection
# --------------------------------------------------------------------------


def _rows_text(rows: list[int], count: int, limit: int = 10) -> str:
    shown = rows[:limit]
    if count == 1:
        return f"rad {rows[0]}"
    if count <= limit:
        return "rad " + ", ".join(map(str, shown[:-1])) + f" och {shown[-1]}"
    return ("rad " + ", ".join(map(str, shown))
            + f" och {count - len(shown)} rader till")


class _Problems:
    """Collects cell problems so the user can fix a whole column at once."""

    def __init__(self) -> None:
        # (kind, header, field) -> [rows (at most MAX_ERROR_ROWS), count, example]
        self.groups: dict[tuple[str, str, str], list[Any]] = {}
        self.duplicates: list[tuple[int, int]] = []
        self.ref_header = ""

    def add(self, kind: str, header: str, field_name: str, row: int,
            example: str | None = None) -> None:
        key = (kind, header, field_name)
        group = self.groups.get(key)
        if group is None:
            self.groups[key] = [[row], 1, example]
        else:
            if len(group[0]) < MAX_ERROR_ROWS:
                group[0].append(row)
            group[1] += 1

    def error(self) -> CaseListError:
        keys = list(self.groups)
        pn_keys = [k for k in keys if k[0] == "personnummer"]
        total_kinds = len(keys) + (1 if self.duplicates else 0)
        if pn_keys:
            err = self._group_error(pn_keys[0])
        elif keys:
            err = self._group_error(keys[0])
        else:
            err = self._duplicate_error()
        if total_kinds > 1:
            err.message += (" Filen har även andra fel som visas när detta är rättat.")
            err.args = (err.message,)
        return err

    def _duplicate_error(self) -> CaseListError:
        h = self.ref_header
        first, dup = self.duplicates[0]
        if len(self.duplicates) == 1:
            msg = (f"Samma ärendenummer (kolumnen ”{h}”) finns på både rad {first} "
                   f"och rad {dup}. Varje ärende får bara finnas en gång i listan.")
        else:
            pairs = ", ".join(f"rad {a} och {b}" for a, b in self.duplicates[:5])
            more = len(self.duplicates) - 5
            tail = f" och {more} par till" if more > 0 else ""
            msg = (f"{len(self.duplicates)} ärendenummer (kolumnen ”{h}”) finns på "
                   f"fler än en rad: {pairs}{tail}. Varje ärende får bara finnas "
                   f"en gång i listan.")
        rows = sorted({r for pair in self.duplicates for r in pair})[:MAX_ERROR_ROWS]
        return CaseListError(msg, column=h, rows=rows)

    def _group_error(self, key: tuple[str, str, str]) -> CaseListError:
        kind, h, field_name = key
        rows, count, example = self.groups[key]
        where = _rows_text(rows, count)
        if example and count == 1:
            ex = f", värdet ”{example}”"
        elif example:
            ex = f", till exempel ”{example}”"
        else:
            ex = ""
        label = FIELD_LABELS[field_name]
        if kind == "personnummer":
            msg = (f"Kolumnen ”{h}” (vald som {label.lower()}) innehåller något som "
                   f"ser ut som ett personnummer eller samordningsnummer ({where}). "
                   "Personnummer får inte importeras. Kontrollera att rätt kolumn är "
                   "vald. Ingenting har sparats.")
        elif kind == "date":
            msg = (f"Kolumnen ”{h}” innehåller ett datum som inte kunde läsas "
                   f"({where}{ex}). Skriv datum som ÅÅÅÅ-MM-DD, till exempel 2024-03-31.")
        elif kind == "amount":
            msg = (f"Kolumnen ”{h}” innehåller ett belopp som inte kunde läsas "
                   f"({where}{ex}). Skriv belopp som till exempel 12 345,67.")
        elif kind == "too_long":
            msg = (f"Kolumnen ”{h}” innehåller ett värde som är längre än "
                   f"{MAX_FIELD_CHARS} tecken ({where}).")
        elif kind == "excel_error":
            msg = (f"Kolumnen ”{h}” innehåller ett Excel-fel ({where}{ex}). "
                   "Rätta cellen i Excel och exportera filen igen.")
        elif kind == "ref_is_date":
            msg = (f"Kolumnen ”{h}” innehåller ett ärendenummer som Excel har gjort om "
                   f"till ett datum ({where}). Formatera kolumnen som text och "
                   "exportera filen igen.")
        elif kind == "missing_ref":
            if count == 1:
                msg = (f"Rad {rows[0]} har uppgifter men saknar ärendenummer "
                       f"(kolumnen ”{h}”). Fyll i ärendenumret eller ta bort raden.")
            else:
                msg = (f"{count} rader har uppgifter men saknar ärendenummer "
                       f"(kolumnen ”{h}”, {where}). Fyll i ärendenumren eller ta bort "
                       "raderna.")
        else:  # pragma: no cover - defensive
            msg = f"Kolumnen ”{h}” innehåller ett värde som inte kunde läsas ({where})."
        return CaseListError(msg, column=h, rows=rows)


# --------------------------------------------------------------------------
# Mapping
# --------------------------------------------------------------------------


def _headers_text(headers: Iterable[str], limit: int = 30) -> str:
    shown = [h if len(h) <= 40 else h[:39] + "…" for h in headers if h]
    if not shown:
        return "(inga kolumnrubriker hittades)"
    text = ", ".join(f"”{h}”" for h in shown[:limit])
    if len(shown) > limit:
        text += f" och {len(shown) - limit} till"
    return text


def _resolve_field(key: Any) -> str | None:
    if not isinstance(key, str):
        return None
    if key in FIELD_LABELS:
        return key
    norm = _norm_header(key)
    for f in FIELDS:
        if norm in (_norm_header(f), _norm_header(FIELD_LABELS[f])):
            return f
    return None


def _find_header(target: Any, headers: list[str]) -> str | None:
    if not isinstance(target, str):
        return None
    cleaned = _clean_header(target)
    if cleaned in headers:
        return cleaned
    norm = _norm_header(cleaned)
    if not norm:
        return None
    for h in headers:
        if h and _norm_header(h) == norm:
            return h
    return None


def guess_mapping(headers: list[str], saved: dict[str, str] | None = None,
                  overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Map fields to headers: overrides > saved mapping > built-in guesses.

    Returns ``{field: header}`` with headers as cleaned from ``headers``
    (stripped, NFC, single spaces). An empty override or saved value means
    "do not map this field". An override naming an unknown field or a header
    that is not in ``headers`` raises :class:`CaseListError`. Saved entries
    that no longer match the file are ignored. Required fields are not
    checked here (see :func:`parse_case_list`).
    """
    cleaned = [_clean_header(h) for h in headers]
    mapping: dict[str, str] = {}
    claimed: dict[str, str] = {}  # header -> field
    unmapped: set[str] = set()

    for key, target in (overrides or {}).items():
        f = _resolve_field(key)
        if f is None:
            raise CaseListError(
                f"Okänt fält ”{key}” i kolumnkopplingen. Giltiga fält: "
                + ", ".join(FIELDS) + ".")
        if target is None or (isinstance(target, str) and not target.strip()):
            unmapped.add(f)
            mapping.pop(f, None)
            continue
        h = _find_header(target, cleaned)
        if h is None:
            raise CaseListError(
                f"Kolumnen ”{target}” som angavs för {FIELD_LABELS[f].lower()} finns "
                f"inte i filen. Kolumner i filen: {_headers_text(cleaned)}.",
                column=str(target))
        other = claimed.get(h)
        if other is not None and other != f:
            raise CaseListError(
                f"Kolumnen ”{h}” kan inte användas både för "
                f"{FIELD_LABELS[other].lower()} och för {FIELD_LABELS[f].lower()}.",
                column=h)
        mapping[f] = h
        claimed[h] = f

    for key, target in (saved or {}).items():
        if key not in FIELD_LABELS or key in mapping or key in unmapped:
            continue
        if target is None or (isinstance(target, str) and not target.strip()):
            unmapped.add(key)
            continue
        h = _find_header(target, cleaned)
        if h is None or h in claimed:
            continue
        mapping[key] = h
        claimed[h] = key

    normalised = [(h, _norm_header(h)) for h in cleaned if h]
    for f in FIELDS:
        if f in mapping or f in unmapped:
            continue
        for syn in _NORMALISED_SYNONYMS[f]:
            hit = next((h for h, n in normalised if n == syn and h not in claimed), None)
            if hit is not None:
                mapping[f] = hit
                claimed[hit] = f
                break

    return {f: mapping[f] for f in FIELDS if f in mapping}


# --------------------------------------------------------------------------
# Reading CSV and XLSX into (row number, cells)
# --------------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            raise CaseListError(
                _UNREADABLE + " Filen är märkt som UTF-8 men innehåller ogiltiga tecken."
            ) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel "Unicode text"
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise CaseListError(_UNREADABLE) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        raise CaseListError(
            _UNREADABLE + " Teckenkodningen känns inte igen.") from None


_SEP_LINE = re.compile(r"sep=(.)", re.IGNORECASE)
_QUOTED = re.compile(r'"[^"]*"')
_BINARY_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _sniff_delimiter(line: str) -> str:
    bare = _QUOTED.sub("", line)
    counts = {d: bare.count(d) for d in (";", "\t", ",")}
    best = max(counts.values())
    if best == 0:
        return ";"
    return next(d for d in (";", "\t", ",") if counts[d] == best)


def _csv_source(data: bytes) -> tuple[str, str, Iterator[tuple[int, list[Any]]]]:
    text, encoding = _decode(data)
    if "\x00" in text:
        raise CaseListError(_UNREADABLE + " Filen innehåller binära tecken.")
    if "\n" not in text and "\r" in text:  # old Mac line endings (CR only)
        text = text.replace("\r", "\n")
    start = 0
    delimiter = None
    # Excel's optional "sep=;" first line; Excel hides it, so it is not a row.
    first_end = text.find("\n")
    first_line = text[: first_end if first_end >= 0 else len(text)].strip()
    m = _SEP_LINE.fullmatch(first_line)
    if m and m.group(1) in ";,\t|":
        delimiter = m.group(1)
        start = first_end + 1 if first_end >= 0 else len(text)
    if delimiter is None:
        pos = 0
        header_line = ""
        for _ in range(MAX_HEADER_SCAN_ROWS):
            end = text.find("\n", pos)
            line = text[pos: end if end >= 0 else len(text)]
            if line.strip():
                header_line = line
                break
            if end < 0:
                break
            pos = end + 1
        if _BINARY_CHARS.search(header_line):
            raise CaseListError(_UNREADABLE)
        delimiter = _sniff_delimiter(header_line)
    reader = csv.reader(_iter_lines(text, start), delimiter=delimiter, quotechar='"',
                        doublequote=True, skipinitialspace=False, strict=False)
    return encoding, delimiter, enumerate(reader, 1)


def _iter_lines(text: str, start: int) -> Iterator[str]:
    """Lines ending in LF (CRLF kept for csv), without copying the whole text.

    Unlike str.splitlines this does not split on U+2028, FF, NEL and the like,
    which csv must see as ordinary characters inside fields.
    """
    find = text.find
    end_of_text = len(text)
    while start < end_of_text:
        end = find("\n", start)
        if end < 0:
            yield text[start:]
            return
        end += 1
        yield text[start:end]
        start = end


def _check_zip(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except Exception:
        raise CaseListError(_UNREADABLE + " Excel-filen är skadad.") from None
    if len(infos) > XLSX_MAX_ENTRIES:
        raise CaseListError(
            f"Excel-filen innehåller för många delar ({len(infos)}, högst "
            f"{XLSX_MAX_ENTRIES} tillåts) och har inte lästs.")
    if not any(info.filename == "[Content_Types].xml" for info in infos):
        raise CaseListError(
            "Filen är en zip-fil men ingen Excel-arbetsbok (.xlsx). Spara ärendelistan "
            "som Excel-arbetsbok (.xlsx) eller som CSV och försök igen.")
    total = 0
    for info in infos:
        total += info.file_size
        if (info.file_size > XLSX_RATIO_MIN_SIZE
                and info.file_size > XLSX_MAX_RATIO * max(info.compress_size, 1)):
            raise CaseListError(
                "Excel-filen är misstänkt kraftigt komprimerad (möjlig zip-bomb) "
                "och har inte lästs.")
    if total > XLSX_MAX_UNCOMPRESSED:
        raise CaseListError(
            "Excel-filen är för stor uppackad (mer än "
            f"{XLSX_MAX_UNCOMPRESSED // (1024 * 1024)} MB) och har inte lästs.")


# A tag as written without a namespace prefix (what Excel and LibreOffice write), and as a
# pattern for any prefix (strict OOXML writers use ``x:row``).
_ROW_TAG = (re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s>/]"), (b"<row ", b"<row>", b"<row/"))
_CELL_TAG = (re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s>/]"), (b"<c ", b"<c>", b"<c/"))
_SI_TAG = (re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s>/]"), (b"<si ", b"<si>", b"<si/"))
_PREFIXED = re.compile(rb"<[A-Za-z_][\w.-]*:(?:worksheet|sst)[\s>]")
_SCAN_CHUNK = 1 << 20


def _count_in(block: bytes, tag: tuple[re.Pattern[bytes], tuple[bytes, ...]], prefixed: bool) -> int:
    if prefixed:
        return len(tag[0].findall(block))
    return sum(block.count(literal) for literal in tag[1])


def _count_tags(zf: zipfile.ZipFile, name: str, tags: list[tuple[tuple[re.Pattern[bytes], tuple[bytes, ...]], int]]
                ) -> list[int]:
    """Count each tag in one zip entry while it streams through the decompressor, chunk by
    chunk (a tag split between two chunks is found in the carried overlap); stop as soon as a
    count passes its limit. Memory stays at two chunks whatever the entry's size; plain
    ``bytes.count`` unless the part uses namespace prefixes."""
    counts = [0] * len(tags)
    tail = b""
    prefixed: bool | None = None
    with zf.open(name) as stream:
        while chunk := stream.read(_SCAN_CHUNK):
            if prefixed is None:
                prefixed = _PREFIXED.search(chunk[:4096]) is not None
            block = tail + chunk
            for i, (tag, limit) in enumerate(tags):
                # a tag wholly inside the carried tail was counted with the previous block
                counts[i] += _count_in(block, tag, prefixed) - _count_in(tail, tag, prefixed)
                if counts[i] > limit:
                    return counts
            tail = block[-64:]
    return counts


def _check_xlsx_size(data: bytes, limits: ImportLimits) -> None:
    """Refuse a workbook whose sheets hold more rows or cells, or whose shared-string table
    holds more strings, than ``limits`` allow: counted before openpyxl parses anything."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            lower = name.lower()
            if lower.startswith("xl/worksheets/") and lower.endswith(".xml"):
                rows, cells = _count_tags(zf, name, [(_ROW_TAG, limits.max_rows + MAX_HEADER_SCAN_ROWS),
                                                     (_CELL_TAG, limits.max_cells)])
                if rows > limits.max_rows + MAX_HEADER_SCAN_ROWS:
                    raise _too_many_rows(limits.max_rows)
                if cells > limits.max_cells:
                    count = f"{limits.max_cells:,}".replace(",", "\u00a0")
                    raise CaseListError(
                        f"Ett kalkylblad i Excel-filen har fler än {count} celler och kan inte importeras. "
                        "Exportera bara ärendelistans kolumner, eller spara listan som CSV. Ingenting har sparats.")
            elif lower == "xl/sharedstrings.xml":
                (strings,) = _count_tags(zf, name, [(_SI_TAG, limits.max_shared_strings)])
                if strings > limits.max_shared_strings:
                    raise CaseListError(
                        "Excel-filen innehåller ovanligt många olika textvärden och kan inte importeras. "
                        "Spara ärendelistan som CSV och försök igen. Ingenting har sparats.")


def _xlsx_workbook(data: bytes, limits: ImportLimits) -> Any:
    _check_zip(data)
    try:
        _check_xlsx_size(data, limits)
    except CaseListError:
        raise
    except Exception:
        raise CaseListError(_UNREADABLE + " Excel-filen är skadad.") from None
    try:
        import openpyxl
        from openpyxl.xml import DEFUSEDXML
    except ImportError:  # pragma: no cover - dependency missing
        raise CaseListError(
            "Excel-filer kan inte läsas på den här servern. Använd CSV.") from None
    if not DEFUSEDXML:  # pragma: no cover - environment switched it off
        raise CaseListError(
            "Excel-filer kan inte läsas säkert på den här servern (defusedxml är "
            "avstängt). Använd CSV.")
    try:
        return openpyxl.load_workbook(io.BytesIO(data), read_only=True,
                                      data_only=True, keep_links=False)
    except CaseListError:
        raise
    except Exception:
        raise CaseListError(_UNREADABLE + " Excel-filen är skadad.") from None


def _guarded_rows(rows: Iterator[tuple[Any, ...]], first_row: int
                  ) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """Number openpyxl's rows and turn its exceptions into CaseListError."""
    n = first_row
    try:
        for row in rows:
            yield n, row
            n += 1
    except CaseListError:
        raise
    except Exception:
        raise CaseListError(
            _UNREADABLE + f" Excel-filen är skadad (vid rad {n}).", rows=[n]) from None


def _is_blank(cells: Iterable[Any]) -> bool:
    for c in cells:
        if c is None:
            continue
        if isinstance(c, str):
            if c.strip():
                return False
        else:
            return False
    return True


# --------------------------------------------------------------------------
# parse_case_list
# --------------------------------------------------------------------------


def parse_case_list(data: bytes, filename: str, *,
                    saved_mapping: dict[str, str] | None = None,
                    overrides: dict[str, str] | None = None,
                    limits: ImportLimits | None = None) -> ParsedCaseList:
    """Parse an exported case list (CSV or XLSX) into validated rows.

    The format is decided by content (zip magic), never by ``filename``; the
    name is accepted so callers can pass it along but is not trusted. Only
    the mapped columns' cells are read. Raises :class:`CaseListError` with a
    Swedish message on any problem; nothing partial is returned.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("data must be bytes")
    data = bytes(data)  # no copy for bytes
    if len(data) < 65536 and not data.strip():
        raise CaseListError("Filen är tom.")
    if len(data) > MAX_FILE_BYTES:
        raise CaseListError(
            f"Filen är för stor (mer än {MAX_FILE_BYTES // (1024 * 1024)} MB).")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise CaseListError(
            "Filen verkar vara en äldre Excel-fil (.xls) eller en lösenordsskyddad "
            "arbetsbok. Spara den som Excel-arbetsbok (.xlsx) utan lösenord eller "
            "som CSV och försök igen.")

    limits = limits or ImportLimits()
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        wb = _xlsx_workbook(data, limits)
        try:
            return _parse_xlsx(wb, saved_mapping, overrides, limits)
        finally:
            try:
                wb.close()
            except Exception:  # pragma: no cover
                pass

    # every row ends in a line feed (or CR): more of them than the limit allows (plus room for
    # the header and blank lines before it) is refused before a byte is decoded
    if max(data.count(b"\n"), data.count(b"\r")) > limits.max_rows + MAX_HEADER_SCAN_ROWS:
        raise _too_many_rows(limits.max_rows)
    encoding, delimiter, source = _csv_source(data)
    try:
        header_row, headers = _find_header_row(source)
        mapping, columns = _resolve_columns(headers, saved_mapping, overrides)
        with _gc_paused():
            rows = _collect_rows(source, columns, mapping, epoch=None, header_row=header_row, max_rows=limits.max_rows)
    except csv.Error:
        raise CaseListError(
            _UNREADABLE + " Ett fält är för långt eller citattecknen stämmer inte."
        ) from None
    return ParsedCaseList(rows=rows, mapping=mapping,
                          unmapped_headers=_unmapped(headers, mapping),
                          file_format="csv", encoding=encoding, delimiter=delimiter)


def _parse_xlsx(wb: Any, saved_mapping: dict[str, str] | None,
                overrides: dict[str, str] | None, limits: ImportLimits) -> ParsedCaseList:
    sheets = list(wb.worksheets)
    if not sheets:
        raise CaseListError(_UNREADABLE + " Arbetsboken har inget kalkylblad.")
    ws = wb.active if wb.active in sheets else sheets[0]
    # Never trust the stored <dimension>: a wrong one would silently cut rows.
    ws.reset_dimensions()
    header_iter = _guarded_rows(ws.iter_rows(values_only=True), 1)
    header_row, headers = _find_header_row(header_iter)
    mapping, columns = _resolve_columns(headers, saved_mapping, overrides)
    max_col = max(columns.values()) + 1
    data_iter = _guarded_rows(
        ws.iter_rows(min_row=header_row + 1, max_col=max_col, values_only=True),
        header_row + 1)
    with _gc_paused():
        rows = _collect_rows(data_iter, columns, mapping,
                             epoch=getattr(wb, "epoch", None), header_row=header_row,
                             max_rows=limits.max_rows)
    return ParsedCaseList(rows=rows, mapping=mapping,
                          unmapped_headers=_unmapped(headers, mapping),
                          file_format="xlsx", encoding=None, delimiter=None)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many rows.

    Every CaseRow is a GC-tracked object; with 180,000 of them the collector's
    repeated passes over the growing list cost about a fifth of the parse.
    The loop creates no reference cycles. The collector is re-enabled only if
    this call disabled it, so concurrent imports or an application that keeps
    it off are left as they were.
    """
    was_enabled = gc.isenabled()
    if was_enabled:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _find_header_row(source: Iterator[tuple[int, Any]]) -> tuple[int, list[str]]:
    for rownum, cells in source:
        if rownum > MAX_HEADER_SCAN_ROWS:
            break
        if not _is_blank(cells):
            headers = [_clean_header(c) for c in cells]
            while headers and not headers[-1]:
                headers.pop()
            if any(contains_personnummer(h) for h in headers):
                # A file without a header row: its first case would become
                # "headers" and end up in messages and the mapping.
                raise CaseListError(
                    f"Rad {rownum} ska innehålla kolumnrubriker men ser ut att "
                    "innehålla personnummer. Exportera ärendelistan med "
                    "kolumnrubriker på första raden.", rows=[rownum])
            return rownum, headers
    raise CaseListError(
        "Filen saknar rubrikrad: de första raderna är tomma. "
        "Första raden ska innehålla kolumnrubrikerna.")


def _resolve_columns(headers: list[str], saved: dict[str, str] | None,
                     overrides: dict[str, str] | None
                     ) -> tuple[dict[str, str], dict[str, int]]:
    mapping = guess_mapping(headers, saved, overrides)
    found = _headers_text(headers)
    if "case_ref" not in mapping:
        raise CaseListError(
            "Ingen kolumn för ärendenummer hittades. Ange vilken kolumn som "
            f"innehåller ärendenumret. Kolumner i filen: {found}.")
    if not any(f in mapping for f in HANDLAGGARE_FIELDS):
        raise CaseListError(
            "Ingen kolumn för handläggare (namn eller signatur) hittades. Ange "
            f"vilken kolumn som innehåller handläggaren. Kolumner i filen: {found}.")
    columns: dict[str, int] = {}
    for f, h in mapping.items():
        positions = [i for i, x in enumerate(headers) if x == h]
        if len(positions) != 1:
            raise CaseListError(
                f"Kolumnrubriken ”{h}” finns {len(positions)} gånger i filen, så det "
                "går inte att avgöra vilken kolumn som ska användas. Byt namn på "
                "kolumnerna eller ta bort den överflödiga.", column=h)
        columns[f] = positions[0]
    return mapping, columns


def _unmapped(headers: list[str], mapping: dict[str, str]) -> list[str]:
    used = set(mapping.values())
    return [h for h in headers if h and h not in used]


def _none_converter(raw: Any) -> None:
    return None


# CaseRow is frozen; its generated __init__ sets each slot through
# object.__setattr__. Setting the slots through their descriptors does exactly
# the same at about half the cost, which matters for 180,000 rows (see
# _collect_rows). Keep CaseRow free of __post_init__ logic for that reason.
_ROW_SLOT_SETTERS = tuple(
    CaseRow.__dict__[name].__set__ for name in (*FIELDS, "source_row"))
_new_object = object.__new__


def _collect_rows(source: Iterator[tuple[int, Any]], columns: dict[str, int],
                  mapping: dict[str, str], epoch: datetime | None, header_row: int, max_rows: int) -> list[CaseRow]:
    # One converter per field in FIELDS order; an unmapped field gets the
    # case_ref column and a converter that ignores it, so every row yields
    # 8 values without ever touching an unmapped column.
    convs: list[Callable[[Any], Any]] = []
    cols: list[int] = []
    for f in FIELDS:
        if f not in columns:
            convs.append(_none_converter)
            cols.append(columns["case_ref"])
            continue
        cols.append(columns[f])
        if f == "case_ref":
            convs.append(_ref_converter)
        elif f in _TEXT_FIELDS:
            convs.append(_make_text_converter())
        elif f in _DATE_FIELDS:
            convs.append(_make_date_converter(epoch))
        else:
            convs.append(_amount_value)
    width = max(cols) + 1
    i0, i1, i2, i3, i4, i5, i6, i7 = cols
    c0, c1, c2, c3, c4, c5, c6, c7 = convs
    ref_header = mapping["case_ref"]

    max_row = header_row + max_rows
    problems = _Problems()
    problems.ref_header = ref_header
    failed = False
    seen: dict[str, int] = {}
    out: list[CaseRow] = []
    append = out.append
    seen_get = seen.get
    new_row = _new_object
    row_class = CaseRow
    s0, s1, s2, s3, s4, s5, s6, s7, s8 = _ROW_SLOT_SETTERS

    # The loop is written out by hand: it runs once per case (180,000 times
    # for a large municipality) and every call and allocation shows.
    for rownum, cells in source:
        if rownum > max_row:
            raise _too_many_rows(max_rows)
        if len(cells) < width:
            if not cells:
                continue
            cells = list(cells)
            cells.extend([None] * (width - len(cells)))
        try:
            v0 = c0(cells[i0])
            v1 = c1(cells[i1])
            v2 = c2(cells[i2])
            v3 = c3(cells[i3])
            v4 = c4(cells[i4])
            v5 = c5(cells[i5])
            v6 = c6(cells[i6])
            v7 = c7(cells[i7])
        except _CellProblem:
            failed = True
            values = _row_with_problems(
                convs, [cells[i] for i in cols], rownum, mapping, problems)
            if values is None:
                continue
            v0, v1, v2, v3, v4, v5, v6, v7 = values
        if v0 is None:
            if (v1 is not None or v2 is not None or v3 is not None or v4 is not None
                    or v5 is not None or v6 is not None or v7 is not None):
                failed = True
                problems.add("missing_ref", ref_header, "case_ref", rownum)
            continue  # else: empty row, or only delimiters/whitespace
        first = seen_get(v0)
        if first is not None:
            failed = True
            problems.duplicates.append((first, rownum))
            continue
        seen[v0] = rownum
        if failed:
            continue  # the import will fail; build no more rows
        row = new_row(row_class)
        s0(row, v0)
        s1(row, v1)
        s2(row, v2)
        s3(row, v3)
        s4(row, v4)
        s5(row, v5)
        s6(row, v6)
        s7(row, v7)
        s8(row, rownum)
        append(row)

    if failed:
        raise problems.error()
    if not out:
        raise CaseListError("Filen innehåller inga ärenden, bara rubrikraden.")
    return out


def _row_with_problems(convs: list[Callable[[Any], Any]], raws: tuple[Any, ...],
                       rownum: int, mapping: dict[str, str],
                       problems: _Problems) -> list[Any] | None:
    """Slow path for a row with at least one bad cell: record every problem.

    Returns the row's values if its case reference could be read (so that
    duplicates are still detected), else None.
    """
    values: list[Any] = []
    ref_ok = True
    for f, conv, raw in zip(FIELDS, convs, raws):
        try:
            values.append(conv(raw))
        except _CellProblem as p:
            problems.add(p.kind, mapping[f], f, rownum, p.example)
            values.append(None)
            if f == "case_ref":
                ref_ok = False
    return values if ref_ok and values[0] is not None else None


# --------------------------------------------------------------------------
# Canonical form and snapshot hash (docs/caselist-canonical-form.md)
# --------------------------------------------------------------------------


def _canon_text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be str or None")
    value = unicodedata.normalize("NFC", value)
    if "\t" in value or "\n" in value or "\r" in value:
        raise ValueError(f"{name} contains a tab or line break")
    return value


def _canon_date(value: Any, name: str) -> str:
    if value is None:
        return ""
    if type(value) is not date:
        raise TypeError(f"{name} must be a datetime.date or None")
    return value.isoformat()


def _canon_amount(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError("belopp must be Decimal or None")
    value = Decimal(value)
    if not value.is_finite():
        raise ValueError("belopp must be finite")
    q = value.quantize(_CENT, rounding=ROUND_HALF_UP)
    if q != value:
        raise ValueError("belopp has more than two decimals")
    if q == 0:
        q = _ZERO
    return f"{q:f}"


def _canonical_line(r: CaseRow) -> str:
    """One case as canonical text, checked field by field (slow, exact)."""
    ref = _canon_text(r.case_ref, "case_ref")
    if not ref:
        raise ValueError("case_ref must not be empty")
    return "\t".join((
        ref,
        _canon_text(r.handlaggare_namn, "handlaggare_namn"),
        _canon_text(r.handlaggare_signatur, "handlaggare_signatur"),
        _canon_text(r.team, "team"),
        _canon_date(r.aktualiseringsdatum, "aktualiseringsdatum"),
        _canon_date(r.senaste_beslutsdatum, "senaste_beslutsdatum"),
        _canon_text(r.hushallstyp, "hushallstyp"),
        _canon_amount(r.belopp),
    ))


def _fast_line(r: CaseRow) -> tuple[str, str] | None:
    """(case_ref, line) for the common case, else None (then use the slow path).

    Same result as _canonical_line for rows whose texts are str/None, dates
    are date/None and belopp is a Decimal with exactly two decimals; anything
    else returns None. str.join raises TypeError for a non-str text, and the
    joined line is checked once for stray TABs and line breaks.
    """
    akt = r.aktualiseringsdatum
    if akt is None:
        akt_text = ""
    elif type(akt) is date:
        akt_text = akt.isoformat()
    else:
        return None
    bes = r.senaste_beslutsdatum
    if bes is None:
        bes_text = ""
    elif type(bes) is date:
        bes_text = bes.isoformat()
    else:
        return None
    belopp = r.belopp
    if belopp is None:
        amount = ""
    elif type(belopp) is Decimal:
        amount = str(belopp)  # plain notation with "." third from the end = 2 decimals
        if amount[-3:-2] != "." or (amount[0] == "-" and not belopp):
            return None
    else:
        return None
    ref = r.case_ref
    namn, sign, team, hush = (r.handlaggare_namn, r.handlaggare_signatur, r.team,
                              r.hushallstyp)
    try:
        line = "\t".join((
            ref,
            "" if namn is None else namn,
            "" if sign is None else sign,
            "" if team is None else team,
            akt_text, bes_text,
            "" if hush is None else hush,
            amount,
        ))
    except TypeError:
        return None
    if not ref or line.count("\t") != 7 or "\n" in line or "\r" in line:
        return None
    if line.isascii():
        return ref, line
    # NFC never composes across a TAB, so normalising the line equals
    # normalising each field.
    line = unicodedata.normalize("NFC", line)
    return line[: line.index("\t")], line


def _canonical_lines(rows: Iterable[CaseRow]) -> Iterator[str]:
    yield CANONICAL_FORMAT_ID + "\n"
    yield "\t".join(FIELDS) + "\n"
    keyed: list[tuple[str, str]] = []
    append = keyed.append
    for r in rows:
        item = _fast_line(r)
        if item is None:
            line = _canonical_line(r)
            item = (line[: line.index("\t")], line)
        append(item)
    # Code point order of the (NFC) case reference.
    keyed.sort(key=_first)
    previous = None
    for ref, line in keyed:
        if ref == previous:
            raise ValueError(f"duplicate case_ref in snapshot: {ref!r}")
        previous = ref
        yield line + "\n"


def _first(item: tuple[str, str]) -> str:
    return item[0]


def canonical_bytes(rows: Iterable[CaseRow]) -> bytes:
    """The canonical UTF-8 text of a snapshot (see docs/caselist-canonical-form.md).

    Raises ValueError/TypeError for rows that have no canonical form (empty
    or duplicate case_ref, tab or line break in a value, belopp with more
    than two decimals).
    """
    return "".join(_canonical_lines(rows)).encode("utf-8")


def snapshot_sha256(rows: Iterable[CaseRow]) -> str:
    """Hex SHA-256 of :func:`canonical_bytes` (computed in chunks)."""
    h = hashlib.sha256()
    chunk: list[str] = []
    for line in _canonical_lines(rows):
        chunk.append(line)
        if len(chunk) >= 4096:
            h.update("".join(chunk).encode("utf-8"))
            chunk.clear()
    h.update("".join(chunk).encode("utf-8"))
    return h.hexdigest()
