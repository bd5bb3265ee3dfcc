"""The canonical form of a snapshot and its SHA-256 (docs/caselist-canonical-form.md).

The canonical line exists in three forms, side by side here so that they cannot drift apart:

1. :func:`_canonical_line` — the specification in code, field by field (slow, exact);
2. :func:`_fast_line` — the same for ordinary rows, built at import speed (tests pin it to 1);
3. :data:`CANONICAL_SQL` — the same rendered by the database from stored rows, used by
   :func:`kontroll.cases.services.stored_snapshot_digest` to re-verify a snapshot without
   loading objects (tests pin it to 1).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kontroll.cases.parsing.fields import FIELDS, CaseRow
from kontroll.cases.parsing.values import _CENT, _ZERO

#: First line of the canonical form; bump the version if the format changes.
CANONICAL_FORMAT_ID = "kontroll-arendelista-v1"


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


#: The canonical lines rendered by the database from stored rows (form 3 above), ordered by code
#: point of case_ref: SQLite's BINARY collation and PostgreSQL's "C" collation compare UTF-8
#: bytes, which orders like code points.
CANONICAL_SQL = {
    # values rendered exactly as docs/caselist-canonical-form.md says; ordered by code point
    # (SQLite's BINARY collation and PostgreSQL's "C" collation compare UTF-8 bytes, which
    # orders like code points)
    "sqlite": """
        SELECT case_ref, coalesce(handlaggare_namn, ''), coalesce(handlaggare_signatur, ''),
               coalesce(team, ''), coalesce(aktualiseringsdatum, ''), coalesce(senaste_beslutsdatum, ''),
               coalesce(hushallstyp, ''),
               CASE WHEN belopp IS NULL THEN '' ELSE printf('%.2f', belopp) END
        FROM snapshot_cases WHERE snapshot_id = :sid ORDER BY case_ref""",
    "postgresql": """
        SELECT case_ref, coalesce(handlaggare_namn, ''), coalesce(handlaggare_signatur, ''),
               coalesce(team, ''), coalesce(to_char(aktualiseringsdatum, 'YYYY-MM-DD'), ''),
               coalesce(to_char(senaste_beslutsdatum, 'YYYY-MM-DD'), ''), coalesce(hushallstyp, ''),
               coalesce(belopp::text, '')
        FROM snapshot_cases WHERE snapshot_id = :sid ORDER BY case_ref COLLATE "C"
    """,
}
