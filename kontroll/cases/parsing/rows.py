"""The entry point: :func:`parse_case_list` turns a file into validated :class:`CaseRow`s; the
row loop is written out by hand because it runs once per case (180,000 times for a large list)."""

from __future__ import annotations

import csv
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable

from kontroll.cases.parsing.errors import (
    _UNREADABLE,
    CaseListError,
    _CellProblem,
    _Problems,
    _too_many_rows,
)
from kontroll.cases.parsing.fields import (
    _DATE_FIELDS,
    _TEXT_FIELDS,
    FIELDS,
    MAX_FILE_BYTES,
    MAX_HEADER_SCAN_ROWS,
    CaseRow,
    ImportLimits,
    ParsedCaseList,
)
from kontroll.cases.parsing.mapping import _find_header_row, _resolve_columns, _unmapped
from kontroll.cases.parsing.readers import _csv_source, _guarded_rows, _xlsx_workbook
from kontroll.cases.parsing.values import (
    _amount_value,
    _make_date_converter,
    _make_text_converter,
    _none_converter,
    _ref_converter,
)


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
