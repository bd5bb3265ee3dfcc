"""Case-list import: validate, preview with the diff against the previous snapshot, store.

The web upload, the CLI and the JSON API all go through :func:`prepare_import` and
:func:`store_snapshot`, so they validate alike. Nothing is stored until the data is valid;
a refused import leaves the database as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import zlib
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from kontroll.cases import handlaggare as handlaggare_rules
from kontroll.cases.models import (
    CaseListSnapshot,
    PendingImport,
    SnapshotCase,
)
from kontroll.cases.parsing import (
    CANONICAL_FORMAT_ID,
    CANONICAL_SQL,
    FIELDS,
    CaseListError,
    CaseRow,
    ImportLimits,
    ParsedCaseList,
    parse_case_list,
    snapshot_sha256,
)
from kontroll.cases.settings import (
    create_api_token,
    revoke_api_token,
    save_mapping,
    saved_mapping,
    token_user,
)
from kontroll.cases.snapshots import (
    snapshot_case_count,
    snapshot_cases,
    snapshot_count,
    snapshot_filter_options,
    snapshots_of,
)
from kontroll.core import audit
from kontroll.core.errors import ValidationError
from kontroll.core.models import RoleAssignment, Unit, User
from kontroll.core.permissions import Perm, PermissionDenied, can
from kontroll.db import utcnow
from kontroll.privacy.personnummer import contains_personnummer

CANONICAL_VERSION = CANONICAL_FORMAT_ID
PENDING_LIFETIME = dt.timedelta(hours=1)
PREVIEW_ROWS = 10
#: rows per INSERT batch
BATCH = 5000
__all__ = [  # the feature's services, with its settings and the reading of stored lists
    "BATCH", "CANONICAL_VERSION", "EMPTY_LIST", "PENDING_LIFETIME", "PREVIEW_ROWS", "Diff", "ImportPreview", "Linker",
    "cancel_pending", "check_filename", "confirm_pending", "create_api_token", "diff_against", "import_file",
    "latest_snapshot", "prepare_import", "purge_pending", "require_import", "revoke_api_token", "safe_filename",
    "save_mapping", "save_pending", "saved_mapping", "snapshot_case_count", "snapshot_cases", "snapshot_count",
    "snapshot_filter_options", "snapshots_of", "store_snapshot", "stored_snapshot_digest", "token_user",
]
EMPTY_LIST = "Filen innehåller inga ärenden: bara rubrikraden eller tomma rader. Ingenting har sparats."


# --- linking handläggare to users -------------------------------------------------------


@dataclass
class Linker:
    """Links a case's handläggare to a kontroll user: by signature (the user's case-system
    id, exact after trimming, case-insensitive), else by exact full name (reported as such).
    Only users with a role in the unit count, so a namesake elsewhere is never linked."""

    by_signature: dict[str, int]
    by_name: dict[str, int | None]

    @classmethod
    def for_unit(cls, session: Session, unit: Unit) -> Linker:
        rows = session.execute(
            select(User.id, User.case_system_id, User.full_name)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(RoleAssignment.unit_id == unit.id)
            .distinct()
        ).all()
        by_signature = {handlaggare_rules.signature_key(sig): uid for uid, sig, _ in rows if sig}
        by_name: dict[str, int | None] = {}
        for uid, _, name in rows:
            key = handlaggare_rules.name_key(name)
            # two users with the same name: no link by name (ambiguous)
            by_name[key] = None if key in by_name and by_name[key] != uid else uid
        return cls(by_signature, by_name)

    def link(self, row: CaseRow) -> tuple[int | None, str | None]:
        if row.handlaggare_signatur:
            uid = self.by_signature.get(handlaggare_rules.signature_key(row.handlaggare_signatur))
            if uid is not None:
                return uid, "signatur"
        if row.handlaggare_namn:
            uid = self.by_name.get(handlaggare_rules.name_key(row.handlaggare_namn))
            if uid is not None:
                return uid, "namn"
        return None, None




# --- preview ------------------------------------------------------------------------------


@dataclass
class Diff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    #: (case_ref, previous handläggare, new handläggare)
    moved: list[tuple[str, str, str]] = field(default_factory=list)
    previous: CaseListSnapshot | None = None

    @property
    def is_first(self) -> bool:
        return self.previous is None


@dataclass
class ImportPreview:
    unit: Unit
    parsed: ParsedCaseList
    filename: str
    sha256: str
    diff: Diff
    per_handlaggare: list[tuple[str, int, str | None]]  # label, count, link method
    per_team: list[tuple[str, int]]
    unlinked_handlaggare: list[str]
    linked_by_name: list[str]

    @property
    def row_count(self) -> int:
        return len(self.parsed.rows)

    @property
    def first_rows(self) -> list[CaseRow]:
        return self.parsed.rows[:PREVIEW_ROWS]


def safe_filename(name: str | None) -> str:
    """The base name of an uploaded file, for the record only (never used as a path)."""
    name = (name or "").replace("\\", "/")
    name = os.path.basename(name)
    name = "".join(ch for ch in name if ch.isprintable())
    return name.strip()[:255] or "namnlös fil"


def check_filename(name: str | None) -> None:
    """The file's name is stored with the snapshot: it must not carry a personnummer."""
    if contains_personnummer(safe_filename(name)):
        raise CaseListError("Filens namn innehåller något som ser ut som ett personnummer. Byt namn på filen "
                            "och försök igen. Ingenting har sparats.")




def latest_snapshot(session: Session, unit: Unit) -> CaseListSnapshot | None:
    return session.scalar(
        select(CaseListSnapshot)
        .where(CaseListSnapshot.unit_id == unit.id)
        .order_by(CaseListSnapshot.imported_dt.desc(), CaseListSnapshot.id.desc())
        .limit(1)
    )


def diff_against(session: Session, previous: CaseListSnapshot | None, rows: list[CaseRow]) -> Diff:
    diff = Diff(previous=previous)
    if previous is None:
        return diff
    old = {
        ref: (namn, sig)
        for ref, namn, sig in session.execute(
            select(SnapshotCase.case_ref, SnapshotCase.handlaggare_namn, SnapshotCase.handlaggare_signatur).where(
                SnapshotCase.snapshot_id == previous.id
            )
        )
    }
    new_refs = set()
    for row in rows:
        new_refs.add(row.case_ref)
        before = old.get(row.case_ref)
        if before is None:
            diff.added.append(row.case_ref)
            continue
        old_namn, old_sig = before
        now_namn, now_sig = row.handlaggare_namn, row.handlaggare_signatur
        if handlaggare_rules.identity(old_namn, old_sig) != handlaggare_rules.identity(now_namn, now_sig):
            diff.moved.append((row.case_ref, handlaggare_rules.label(old_namn, old_sig, none="–"),
                               handlaggare_rules.label(now_namn, now_sig)))
    diff.removed = sorted(ref for ref in old if ref not in new_refs)
    diff.added.sort()
    diff.moved.sort()
    return diff




def prepare_import(
    session: Session,
    unit: Unit,
    data: bytes,
    filename: str | None,
    overrides: dict[str, str] | None = None,
    limits: ImportLimits | None = None,
) -> ImportPreview:
    """Parse and validate a case list and compute what importing it would change.

    Raises :class:`CaseListError` (Swedish, names column and row) on any problem. Reads only.
    """
    check_filename(filename)
    parsed = parse_case_list(data, safe_filename(filename), saved_mapping=saved_mapping(session, unit),
                             overrides=overrides or None, limits=limits)
    if not parsed.rows:
        raise CaseListError(EMPTY_LIST)
    linker = Linker.for_unit(session, unit)
    per_handlaggare: Counter[str] = Counter()
    methods: dict[str, str | None] = {}
    per_team: Counter[str] = Counter()
    for row in parsed.rows:
        label = handlaggare_rules.label(row.handlaggare_namn, row.handlaggare_signatur)
        per_handlaggare[label] += 1
        if label not in methods:
            methods[label] = linker.link(row)[1]
        per_team[handlaggare_rules.team_label(row.team)] += 1
    return ImportPreview(
        unit=unit,
        parsed=parsed,
        filename=safe_filename(filename),
        sha256=snapshot_sha256(parsed.rows),
        diff=diff_against(session, latest_snapshot(session, unit), parsed.rows),
        per_handlaggare=sorted(((k, n, methods[k]) for k, n in per_handlaggare.items()), key=lambda t: t[0].casefold()),
        per_team=sorted(per_team.items()),
        unlinked_handlaggare=sorted((k for k, m in methods.items() if m is None), key=str.casefold),
        linked_by_name=sorted((k for k, m in methods.items() if m == "namn"), key=str.casefold),
    )


# --- storing ------------------------------------------------------------------------------


def require_import(actor: User, unit: Unit) -> None:
    if not can(actor, Perm.IMPORT_CASELIST, unit):
        raise PermissionDenied("Du får inte importera ärendelistor för den här enheten.")


def store_snapshot(
    session: Session,
    actor: User,
    unit: Unit,
    rows: list[CaseRow],
    *,
    filename: str,
    file_format: str,
    mapping: dict[str, str],
    unmapped_headers: list[str],
    source: str,
    now: dt.datetime | None = None,
    sha256: str | None = None,
) -> CaseListSnapshot:
    """Store a validated case list as a new immutable snapshot (flushes; caller commits).
    ``now`` is for demo data and tests; it defaults to the current time. ``sha256`` may be
    passed when the caller has just computed it from the same rows."""
    require_import(actor, unit)
    if not rows:
        raise ValidationError("Ärendelistan är tom.")
    digest = sha256 or snapshot_sha256(rows)
    linker = Linker.for_unit(session, unit)
    links = [linker.link(r) for r in rows]
    snapshot = CaseListSnapshot(
        unit_id=unit.id,
        imported_by_id=actor.id,
        source=source,
        imported_dt=now or utcnow(),
        source_filename=safe_filename(filename),
        file_format=file_format,
        row_count=len(rows),
        sha256=digest,
        canonical_version=CANONICAL_VERSION,
        mapping=json.dumps({"kolumner": mapping, "sparas_inte": unmapped_headers}, ensure_ascii=False, sort_keys=True),
        linked_by_signature=sum(1 for _, m in links if m == "signatur"),
        linked_by_name=sum(1 for _, m in links if m == "namn"),
        unlinked=sum(1 for _, m in links if m is None),
    )
    session.add(snapshot)
    session.flush()
    sid = snapshot.id
    table = SnapshotCase.__table__
    batch: list[dict[str, Any]] = []
    for row, (uid, method) in zip(rows, links):
        batch.append(
            {
                "snapshot_id": sid,
                "case_ref": row.case_ref,
                "handlaggare_namn": row.handlaggare_namn,
                "handlaggare_signatur": row.handlaggare_signatur,
                "team": row.team,
                "aktualiseringsdatum": row.aktualiseringsdatum,
                "senaste_beslutsdatum": row.senaste_beslutsdatum,
                "hushallstyp": row.hushallstyp,
                "belopp": row.belopp,
                "handlaggare_user_id": uid,
                "link_method": method,
                "source_row": row.source_row,
            }
        )
        if len(batch) >= BATCH:
            session.execute(insert(table), batch)
            batch = []
    if batch:
        session.execute(insert(table), batch)
    audit.record(
        session,
        actor,
        "caselist.import",
        object_type="case_list_snapshot",
        object_id=sid,
        unit=unit,
        details={"rows": len(rows), "sha256": digest, "source": source, "filename": snapshot.source_filename},
    )
    return snapshot


def import_file(
    session: Session,
    actor: User,
    unit: Unit,
    data: bytes,
    filename: str,
    *,
    overrides: dict[str, str] | None = None,
    source: str,
    now: dt.datetime | None = None,
    limits: ImportLimits | None = None,
) -> CaseListSnapshot:
    """Validate and store in one step (CLI, API, demo): no preview, so no diff is computed."""
    require_import(actor, unit)
    check_filename(filename)
    parsed = parse_case_list(data, safe_filename(filename), saved_mapping=saved_mapping(session, unit),
                             overrides=overrides or None, limits=limits)
    if not parsed.rows:
        raise CaseListError(EMPTY_LIST)
    return store_snapshot(
        session,
        actor,
        unit,
        parsed.rows,
        filename=safe_filename(filename),
        file_format=parsed.file_format,
        mapping=parsed.mapping,
        unmapped_headers=parsed.unmapped_headers,
        source=source,
        now=now,
    )


# --- recomputing a stored snapshot's hash ------------------------------------------------

def stored_snapshot_digest(session: Session, snapshot_id: int) -> tuple[str, int]:
    """(SHA-256 of the canonical form, row count) recomputed from the rows as stored now.

    Renders the canonical form in SQL, which is several times faster than loading objects;
    tests pin that it equals :func:`kontroll.cases.parsing.snapshot_sha256` of the same rows.
    """
    dialect = session.get_bind().dialect.name
    rows = session.execute(text(CANONICAL_SQL[dialect]), {"sid": snapshot_id}).all()
    header = CANONICAL_VERSION + "\n" + "\t".join(FIELDS) + "\n"
    body = "\n".join(["\t".join(r) for r in rows])
    digest = hashlib.sha256((header + body + ("\n" if rows else "")).encode("utf-8")).hexdigest()
    return digest, len(rows)


# --- pending imports (between preview and confirmation) ----------------------------------


def _rows_to_payload(parsed: ParsedCaseList) -> bytes:
    rows = [
        [r.case_ref, r.handlaggare_namn, r.handlaggare_signatur, r.team,
         r.aktualiseringsdatum.isoformat() if r.aktualiseringsdatum else None,
         r.senaste_beslutsdatum.isoformat() if r.senaste_beslutsdatum else None,
         r.hushallstyp, None if r.belopp is None else str(r.belopp), r.source_row]
        for r in parsed.rows
    ]
    doc = {"rows": rows, "mapping": parsed.mapping, "unmapped": parsed.unmapped_headers,
           "format": parsed.file_format}
    return zlib.compress(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), 6)


def _payload_to_rows(payload: bytes) -> tuple[list[CaseRow], dict[str, Any]]:
    doc = json.loads(zlib.decompress(payload).decode("utf-8"))
    rows = [
        CaseRow(
            case_ref=r[0], handlaggare_namn=r[1], handlaggare_signatur=r[2], team=r[3],
            aktualiseringsdatum=dt.date.fromisoformat(r[4]) if r[4] else None,
            senaste_beslutsdatum=dt.date.fromisoformat(r[5]) if r[5] else None,
            hushallstyp=r[6], belopp=None if r[7] is None else Decimal(r[7]), source_row=r[8],
        )
        for r in doc["rows"]
    ]
    return rows, doc


def save_pending(session: Session, actor: User, preview: ImportPreview) -> PendingImport:
    purge_pending(session)
    pending = PendingImport(
        id=secrets.token_urlsafe(32),
        unit_id=preview.unit.id,
        user_id=actor.id,
        created_dt=utcnow(),
        source_filename=preview.filename,
        sha256=preview.sha256,
        previous_snapshot_id=preview.diff.previous.id if preview.diff.previous else None,
        payload=_rows_to_payload(preview.parsed),
    )
    session.add(pending)
    session.flush()
    return pending


def purge_pending(session: Session, now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    session.execute(delete(PendingImport).where(PendingImport.created_dt < now - PENDING_LIFETIME))


def confirm_pending(session: Session, actor: User, unit: Unit, pending_id: str) -> CaseListSnapshot:
    """Store the previewed list. Refused when the preview is gone, belongs to someone else,
    or another list was imported since (the diff the user saw would be wrong)."""
    require_import(actor, unit)
    pending = session.get(PendingImport, pending_id)
    if (
        pending is None
        or pending.unit_id != unit.id
        or pending.user_id != actor.id
        or pending.created_dt < utcnow() - PENDING_LIFETIME
    ):
        raise ValidationError(
            "Förhandsgranskningen finns inte längre (den gäller en timme). Ladda upp filen igen."
        )
    latest = latest_snapshot(session, unit)
    if (latest.id if latest else None) != pending.previous_snapshot_id:
        session.delete(pending)
        session.flush()
        raise ValidationError(
            "En annan ärendelista har importerats för enheten sedan du förhandsgranskade. "
            "Ladda upp filen igen så att du ser rätt skillnader."
        )
    rows, doc = _payload_to_rows(pending.payload)
    snapshot = store_snapshot(
        session, actor, unit, rows, filename=pending.source_filename, file_format=doc["format"],
        mapping=doc["mapping"], unmapped_headers=doc["unmapped"], source="webb",
    )
    if snapshot.sha256 != pending.sha256:  # pragma: no cover - the stored preview was damaged
        raise ValidationError("Förhandsgranskningen är skadad. Ladda upp filen igen. Ingenting har sparats.")
    session.delete(pending)
    session.flush()
    return snapshot


def cancel_pending(session: Session, actor: User, pending_id: str) -> None:
    pending = session.get(PendingImport, pending_id)
    if pending is not None and pending.user_id == actor.id:
        session.delete(pending)
        session.flush()
