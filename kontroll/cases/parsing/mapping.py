"""Which column holds which field: header synonyms, the unit's saved mapping and the user's
overrides; finding the header row (refusing one that holds personnummer)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from kontroll.cases.parsing.errors import CaseListError
from kontroll.cases.parsing.fields import (
    FIELD_LABELS,
    FIELDS,
    HANDLAGGARE_FIELDS,
    MAX_HEADER_SCAN_ROWS,
)
from kontroll.cases.parsing.readers import _is_blank
from kontroll.cases.parsing.values import _clean_header, _norm_header
from kontroll.privacy.personnummer import contains_personnummer

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


_NORMALISED_SYNONYMS: dict[str, tuple[str, ...]] = {
    f: tuple(dict.fromkeys(_norm_header(s) for s in syns))
    for f, syns in _SYNONYMS.items()
}


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
