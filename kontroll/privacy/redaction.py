"""A way out for what is already stored: find every stored personnummer, and replace one with a
marker through a controlled, audited path (docs/architecture.md, invariant 8).

- :func:`scan` walks every free-text column of every table (the same declaration the flush
  guard reads: :func:`kontroll.privacy.guard.column_mode`) and reports table, column and row
  id of each value the detector flags — never the value.
- :func:`redact` replaces one such value (or, in a JSON column, each string in it that holds
  one) with the marker ``[maskerat N]``. It is the only change the immutability triggers let
  through, and only while its :class:`~kontroll.privacy.models.Redaction` is pending. The
  record keeps what verification needs to explain the change later: for a case-list row,
  whether the snapshot's hash held just before and the hashes after; for an audit entry, the
  hash of its new text. The record is sealed with the audit key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from kontroll.core import audit
from kontroll.core.errors import ValidationError
from kontroll.core.models import User
from kontroll.core.permissions import Perm, PermissionDenied, can
from kontroll.db import Base, utcnow
from kontroll.privacy.guard import column_mode, value_has_personnummer
from kontroll.privacy.models import Redaction, expected_snapshot_digest
from kontroll.privacy.personnummer import contains_personnummer

#: rows read per round trip while scanning
SCAN_BATCH = 5000


@dataclass(frozen=True)
class Finding:
    table: str
    column: str
    row_id: Any

    def __str__(self) -> str:
        return f"{self.table}.{self.column} rad {self.row_id}"


def scanned_columns() -> dict[str, tuple[Table, list[tuple[str, str]]]]:
    """Every table with free-text columns: name -> (table, [(column, mode)])."""
    out: dict[str, tuple[Table, list[tuple[str, str]]]] = {}
    for table in Base.metadata.sorted_tables:
        if table.name == Redaction.__tablename__:
            continue
        columns = [(c.name, mode) for c in table.columns if (mode := column_mode(c)) is not None]
        if columns and len(table.primary_key.columns) == 1:
            out[table.name] = (table, columns)
    return out


def scan(session: Session) -> Iterator[Finding]:
    """Every stored value that holds a personnummer, table by table, in primary-key order."""
    for name, (table, columns) in scanned_columns().items():
        pk = list(table.primary_key.columns)[0]
        last: Any = None
        while True:
            query = select(pk, *(table.c[c] for c, _ in columns)).order_by(pk).limit(SCAN_BATCH)
            if last is not None:
                query = query.where(pk > last)
            rows = session.execute(query).all()
            if not rows:
                break
            for row in rows:
                for (column, mode), value in zip(columns, row[1:]):
                    if value_has_personnummer(value, mode):
                        yield Finding(name, column, row[0])
            last = rows[-1][0]


def _replace_in_json(value: Any, marker: str) -> Any:
    if isinstance(value, str):
        return marker if contains_personnummer(value) else value
    if isinstance(value, dict):
        return {(marker if contains_personnummer(str(k)) else k): _replace_in_json(v, marker) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_in_json(v, marker) for v in value]
    return value


def _redacted_value(value: str, mode: str, marker: str, table: str) -> str:
    if mode != "json":
        return marker
    try:
        decoded = json.loads(value)
    except ValueError:
        return marker
    replaced = _replace_in_json(decoded, marker)
    if table == "audit_entries":
        return audit.canonical_json(replaced)
    return json.dumps(replaced, ensure_ascii=False, sort_keys=True)


def _snapshot_state(session: Session, snapshot_id: int) -> tuple[str, str]:
    """(canonical SHA-256, population digest) of a stored snapshot as it is now."""
    from kontroll.cases.services import stored_snapshot_digest
    from kontroll.sampling.verification import population_digest, population_of

    digest, _count = stored_snapshot_digest(session, snapshot_id)
    return digest, population_digest(population_of(session, snapshot_id))


def redact(session: Session, actor: User, table_name: str, row_id: Any, column_name: str, key: bytes) -> Redaction:
    """Replace the personnummer in one stored value with a marker (flushes; the caller commits)."""
    if not can(actor, Perm.REDACT):
        raise PermissionDenied("Bara en systemadministratör (för hela organisationen) kan maskera uppgifter.")
    if not key:
        raise ValidationError("Granskningsloggens nyckel saknas: en maskering måste förseglas med den.")
    tables = scanned_columns()
    if table_name not in tables:
        raise ValidationError(f"Tabellen ”{table_name}” har inga textkolumner som kan maskeras. "
                              "Använd tabellnamnet som kontroll privacy scan skriver.")
    table, columns = tables[table_name]
    modes = dict(columns)
    if column_name not in modes:
        raise ValidationError(f"Kolumnen ”{column_name}” i {table_name} är ingen textkolumn som kan maskeras.")
    pk = list(table.primary_key.columns)[0]
    try:
        row_key = pk.type.python_type(row_id)
    except (TypeError, ValueError, NotImplementedError):
        row_key = row_id
    row = session.execute(select(table).where(pk == row_key)).mappings().first()
    if row is None:
        raise ValidationError(f"Rad {row_id} finns inte i {table_name}.")
    value = row[column_name]
    mode = modes[column_name]
    if not value_has_personnummer(value, mode):
        raise ValidationError(f"{table_name}.{column_name} rad {row_id} innehåller inget som liknar ett "
                              "personnummer. Ingenting har ändrats.")

    if table_name == "drawn_cases" and column_name == "case_ref":
        raise ValidationError(f"Ett draget ärendes nummer är en kopia av raden i ärendelistan: maskera den raden "
                              f"(snapshot_cases rad {row['snapshot_case_id']}, kolumn case_ref), så följer "
                              "stickprovet med.")
    if not isinstance(row[pk.name], int):
        raise ValidationError(f"Rader i {table_name} kan inte maskeras (de saknar ett numeriskt id); "
                              "de rensas automatiskt när de blir gamla.")
    record = Redaction(table_name=table_name, row_id=row[pk.name], column_name=column_name, marker="[maskerat]",
                       redacted_dt=utcnow(), redacted_by_id=actor.id, applied=False)
    snapshot_id = row["snapshot_id"] if table_name == "snapshot_cases" else None
    if snapshot_id is not None:
        _before_snapshot_redaction(session, record, snapshot_id, key)
    session.add(record)
    session.flush()
    record.marker = f"[maskerat {record.id}]"
    new_value = _redacted_value(value, mode, record.marker, table_name)
    session.flush()  # the pending redaction is in the database before the UPDATE the triggers check
    session.execute(update(table).where(pk == row_key).values({column_name: new_value}))
    if table_name == "snapshot_cases" and column_name == "case_ref":
        from kontroll.sampling.models import DrawnCase

        # the drawn cases carry a copy of the reference: it goes with the row
        session.execute(update(DrawnCase).where(DrawnCase.snapshot_case_id == row_key)
                        .values(case_ref=record.marker))
    if snapshot_id is not None:
        record.snapshot_sha256_after, record.population_sha256_after = _snapshot_state(session, snapshot_id)
    if table_name == "audit_entries":
        from kontroll.core.models import AuditEntry

        entry = session.get(AuditEntry, row_key)
        assert entry is not None
        session.refresh(entry)
        record.text_sha256_after = audit.entry_text_sha256(entry)
    record.applied = True
    record.seal = record.compute_seal(key)
    session.flush()
    audit.record(session, actor, "privacy.redact", object_type=table_name, object_id=row_key,
                 details={"tabell": table_name, "kolumn": column_name, "rad": row_key, "maskering": record.id})
    return record


def _before_snapshot_redaction(session: Session, record: Redaction, snapshot_id: int, key: bytes) -> None:
    """What held just before a case-list row is redacted: the snapshot's hash (against the one
    it was imported with, or the last sealed redaction's), and which draws from it verified."""
    from kontroll.cases.models import CaseListSnapshot
    from kontroll.sampling.models import Draw
    from kontroll.sampling.verification import verify_draw

    snapshot = session.get(CaseListSnapshot, snapshot_id)
    assert snapshot is not None
    digest, _population = _snapshot_state(session, snapshot_id)
    record.snapshot_id = snapshot_id
    record.verified_before = digest == expected_snapshot_digest(session, snapshot_id, snapshot.sha256, key)
    verified = [d.id for d in session.scalars(select(Draw).where(Draw.snapshot_id == snapshot_id).order_by(Draw.id))
                if verify_draw(session, d).ok]
    record.draws_verified_before = json.dumps(verified)
