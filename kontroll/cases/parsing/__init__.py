"""Parsing of case lists (ärendelistor) exported from case systems.

A case list is a CSV or XLSX file exported from Lifecare, Treserva, Viva or
Combine. This module turns the bytes of such a file into a list of
:class:`CaseRow` and computes the canonical form and SHA-256 of a snapshot
(see ``docs/caselist-canonical-form.md``).

Privacy rules (docs/architecture.md, invariants 6 and 8):

* Only *mapped* columns are read. The cells of every other column (for example
  Personnummer, Namn, Antal barn) are never converted, inspected or kept; only
  the header row is looked at to build the mapping.
* A value in a mapped column that looks like a personnummer or
  samordningsnummer stops the import. The error names the column and row but
  never the value.

Pure Python: no Flask, no database. All user-facing messages are Swedish.

The package's parts, in the order a file goes through them: :mod:`.readers` (bytes into
rows of cells), :mod:`.mapping` (which column is which field), :mod:`.values` (cells into
values), :mod:`.errors` (what the user is told), :mod:`.rows` (the entry point,
:func:`parse_case_list`), :mod:`.canonical` (the canonical form and hash); :mod:`.fields`
names the fields, types and limits they share.
"""

from __future__ import annotations

from kontroll.cases.parsing.canonical import (
    CANONICAL_FORMAT_ID,
    CANONICAL_SQL,
    canonical_bytes,
    snapshot_sha256,
)
from kontroll.cases.parsing.errors import CaseListError
from kontroll.cases.parsing.fields import (
    DEFAULT_MAX_CELLS,
    DEFAULT_MAX_ROWS,
    DEFAULT_MAX_SHARED_STRINGS,
    FIELD_LABELS,
    FIELDS,
    HANDLAGGARE_FIELDS,
    MAX_FIELD_CHARS,
    MAX_FILE_BYTES,
    MAX_HEADER_SCAN_ROWS,
    REQUIRED_FIELDS,
    XLSX_MAX_ENTRIES,
    XLSX_MAX_RATIO,
    XLSX_MAX_UNCOMPRESSED,
    CaseRow,
    ImportLimits,
    ParsedCaseList,
)
from kontroll.cases.parsing.mapping import guess_mapping
from kontroll.cases.parsing.rows import parse_case_list

__all__ = [
    "CANONICAL_FORMAT_ID",
    "CANONICAL_SQL",
    "DEFAULT_MAX_CELLS",
    "DEFAULT_MAX_ROWS",
    "DEFAULT_MAX_SHARED_STRINGS",
    "FIELDS",
    "FIELD_LABELS",
    "HANDLAGGARE_FIELDS",
    "MAX_FIELD_CHARS",
    "MAX_FILE_BYTES",
    "MAX_HEADER_SCAN_ROWS",
    "REQUIRED_FIELDS",
    "XLSX_MAX_ENTRIES",
    "XLSX_MAX_RATIO",
    "XLSX_MAX_UNCOMPRESSED",
    "CaseListError",
    "CaseRow",
    "ImportLimits",
    "ParsedCaseList",
    "canonical_bytes",
    "guess_mapping",
    "parse_case_list",
    "snapshot_sha256",
]
