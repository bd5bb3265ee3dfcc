"""Refusals of a case list: the error the user reads (Swedish, naming column and rows, never a
personnummer), and the collector that groups cell problems so a whole column is fixed at once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kontroll.cases.parsing.fields import FIELD_LABELS, MAX_ERROR_ROWS, MAX_FIELD_CHARS
from kontroll.privacy.personnummer import contains_personnummer

_UNREADABLE = (
    "Filen kunde inte läsas som CSV eller Excel (xlsx). "
    "Exportera ärendelistan på nytt som CSV (semikolonavgränsad, UTF-8 eller "
    "Windows-1252) eller som Excel-arbetsbok (.xlsx)."
)


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


def _too_many_rows(limit: int) -> CaseListError:
    count = f"{limit:,}".replace(",", "\u00a0")
    return CaseListError(
        f"Filen har fler än {count} rader och kan inte importeras. Dela upp listan, eller be "
        "systemadministratören höja gränsen (IMPORT_MAX_ROWS). Ingenting har sparats.")


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
