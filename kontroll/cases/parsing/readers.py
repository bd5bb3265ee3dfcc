"""Bytes into rows of cells: CSV (encoding, delimiter, Excel's sep= line) and XLSX (zip limits,
rows, cells and shared strings counted while streaming, before openpyxl reads anything)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

# openpyxl decides at import time whether to parse XML through defusedxml
# (entity expansion, external entities). Import it explicitly so a missing
# package fails loudly here instead of silently downgrading openpyxl.
import defusedxml  # noqa: F401

from kontroll.cases.parsing.errors import _UNREADABLE, CaseListError, _too_many_rows
from kontroll.cases.parsing.fields import (
    MAX_HEADER_SCAN_ROWS,
    XLSX_MAX_ENTRIES,
    XLSX_MAX_RATIO,
    XLSX_MAX_UNCOMPRESSED,
    XLSX_RATIO_MIN_SIZE,
    ImportLimits,
)


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
