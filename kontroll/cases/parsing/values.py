"""Cells into values: cleaning text, reading dates and amounts as Swedish Excel writes them, and
the per-field converters. Every text is checked for personnummer here (kontroll.privacy)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Callable

from kontroll.cases.parsing.errors import _CellProblem, _safe_example
from kontroll.cases.parsing.fields import (
    MAX_ABS_AMOUNT,
    MAX_FIELD_CHARS,
    MAX_YEAR,
    MIN_YEAR,
)
from kontroll.privacy.personnummer import contains_personnummer

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


_DATE_RE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[ T]([01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:[.,]\d{1,9})?)?)?",
    re.ASCII,
)


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


# Converters: one per mapped field. A converter takes a raw cell (str from
# CSV; str, number, date or None from XLSX) and returns the field value, None
# for an empty cell, or raises _CellProblem. Text and date converters cache
# raw -> value; only values that passed every check are cached.

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


def _none_converter(raw: Any) -> None:
    return None
