"""What a case list holds: the fields kontroll keeps, their Swedish labels, the limits, and the
row and result types. The one place that says which columns exist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

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


@dataclass
class ParsedCaseList:
    rows: list[CaseRow]
    mapping: dict[str, str]
    unmapped_headers: list[str]
    file_format: str
    encoding: str | None
    delimiter: str | None
