"""Redactions: the one controlled way to remove a personnummer that was stored before the
detector could refuse it (``kontroll privacy redact``).

Every other change to an imported snapshot or the audit log is still refused by the ORM and by
database triggers. A redaction is recorded *before* the value is replaced: the triggers (migration
0009) let an UPDATE through only while a redaction row for that very table and row is pending
(``applied`` false), and the redaction is marked applied in the same transaction. Each record
is sealed with an HMAC under the audit key, so verification (the draw, the snapshot hash, the
audit chain) can explain the change it finds, and a forged record explains nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from kontroll.core.models import User
from kontroll.core.timezone import local_datetime_text
from kontroll.db import MACHINE, Base, UTCDateTime, utcnow


class Redaction(Base):
    __tablename__ = "redactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64), info=MACHINE)
    row_id: Mapped[int] = mapped_column(Integer)
    column_name: Mapped[str] = mapped_column(String(64), info=MACHINE)
    #: what the value (or each string holding a personnummer inside a JSON value) became
    marker: Mapped[str] = mapped_column(String(64), info=MACHINE)
    redacted_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    redacted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    #: false while the value is being replaced: the only moment the triggers let an UPDATE through
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    #: for a row of an imported snapshot: the snapshot, whether its hash still held just before,
    #: and the hashes after (the canonical form and the draw's population digest)
    snapshot_id: Mapped[int | None] = mapped_column(Integer)
    verified_before: Mapped[bool | None] = mapped_column(Boolean)
    snapshot_sha256_after: Mapped[str | None] = mapped_column(String(64), info=MACHINE)
    population_sha256_after: Mapped[str | None] = mapped_column(String(64), info=MACHINE)
    #: SHA-256 of the row's hashed text after the redaction (an audit entry's canonical text)
    text_sha256_after: Mapped[str | None] = mapped_column(String(64), info=MACHINE)
    #: draws made from the snapshot that verified just before the redaction (JSON list of ids)
    draws_verified_before: Mapped[str | None] = mapped_column(Text, info=MACHINE)
    #: HMAC-SHA256 under the audit key over everything above (:func:`seal_text`)
    seal: Mapped[str | None] = mapped_column(String(64), info=MACHINE)

    redacted_by: Mapped[User] = relationship()

    __table_args__ = (Index(None, "table_name", "row_id"),)

    def seal_text(self) -> str:
        fields = (self.id, self.table_name, self.row_id, self.column_name, self.marker,
                  self.redacted_dt.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"),
                  self.redacted_by_id, self.snapshot_id, self.verified_before, self.snapshot_sha256_after,
                  self.population_sha256_after, self.text_sha256_after, self.draws_verified_before)
        return "\x1f".join("" if f is None else str(f) for f in fields)

    def compute_seal(self, key: bytes) -> str:
        return hmac.new(key, self.seal_text().encode("utf-8"), hashlib.sha256).hexdigest()

    def is_sealed(self, key: bytes | None) -> bool:
        return bool(key) and self.seal is not None and hmac.compare_digest(self.seal, self.compute_seal(key))


# --- reading the records (for verification and for pages) ---------------------------------


def expected_snapshot_digest(session: Session, snapshot_id: int, original: str, key: bytes | None) -> str:
    """The hash a snapshot should have now: the one it was imported with, or the one its
    newest sealed redaction left."""
    latest = sealed_snapshot_redactions(session, snapshot_id, key)
    return latest[-1].snapshot_sha256_after or original if latest else original


def sealed_snapshot_redactions(session: Session, snapshot_id: int, key: bytes | None) -> list[Redaction]:
    rows = session.scalars(select(Redaction).where(Redaction.snapshot_id == snapshot_id, Redaction.applied.is_(True))
                           .order_by(Redaction.id))
    return [r for r in rows if r.is_sealed(key)]


def snapshot_redactions(session: Session, snapshot_id: int) -> list[Redaction]:
    """Every applied redaction of a snapshot's rows (sealed or not), for pages to show."""
    return list(session.scalars(select(Redaction).where(Redaction.snapshot_id == snapshot_id,
                                                        Redaction.applied.is_(True)).order_by(Redaction.id)))


def describe(record: Redaction) -> str:
    """One Swedish sentence for pages: what was redacted, when and by whom (never the value)."""
    when = local_datetime_text(record.redacted_dt)
    who = record.redacted_by.full_name if record.redacted_by else "okänd"
    return (f"{when} maskerade {who} ett personnummer i {record.table_name}.{record.column_name} "
            f"(rad {record.row_id}); värdet ersattes med {record.marker}.")


def redaction_sentences(session: Session, snapshot_id: int) -> list[str]:
    """What pages say about a snapshot's redactions (empty: none)."""
    return [describe(r) for r in snapshot_redactions(session, snapshot_id)]
