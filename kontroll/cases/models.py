"""Case-list snapshots (ärendelistor): immutable once imported.

Only the mapped fields are stored — never a personnummer, a client's name or the file itself.
UPDATE and DELETE on the snapshot tables are refused by the ORM and by database triggers
(see the migration), so a snapshot that a draw was made from can always be re-read as it was.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from kontroll.core.models import Unit, User
from kontroll.db import JSON_TEXT, MACHINE, Base, UTCDateTime, utcnow


class ImmutableError(RuntimeError):
    """Raised when code tries to change or delete an imported snapshot."""


class CaseListSnapshot(Base):
    __tablename__ = "case_list_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    #: "webb", "cli" or "api"
    source: Mapped[str] = mapped_column(String(10), info=MACHINE)
    imported_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the uploaded file's base name, for the record; the file itself is never kept
    source_filename: Mapped[str] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(10), info=MACHINE)
    row_count: Mapped[int] = mapped_column(Integer)
    #: SHA-256 of the canonical form (docs/caselist-canonical-form.md)
    sha256: Mapped[str] = mapped_column(String(64), info=MACHINE)
    canonical_version: Mapped[str] = mapped_column(String(40), info=MACHINE)
    #: JSON: field -> header used, and the headers that were dropped unread
    mapping: Mapped[str] = mapped_column(Text, info=JSON_TEXT)
    #: how many cases were linked to a user: by signature, by exact name, not at all
    linked_by_signature: Mapped[int] = mapped_column(Integer, default=0)
    linked_by_name: Mapped[int] = mapped_column(Integer, default=0)
    unlinked: Mapped[int] = mapped_column(Integer, default=0)

    unit: Mapped[Unit] = relationship()
    imported_by: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_case_list_snapshots_unit_id_imported_dt", "unit_id", "imported_dt"),)


class SnapshotCase(Base):
    __tablename__ = "snapshot_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("case_list_snapshots.id", ondelete="RESTRICT"))
    case_ref: Mapped[str] = mapped_column(String(200))
    handlaggare_namn: Mapped[str | None] = mapped_column(String(200))
    handlaggare_signatur: Mapped[str | None] = mapped_column(String(200))
    team: Mapped[str | None] = mapped_column(String(200))
    aktualiseringsdatum: Mapped[dt.date | None] = mapped_column(Date)
    senaste_beslutsdatum: Mapped[dt.date | None] = mapped_column(Date)
    hushallstyp: Mapped[str | None] = mapped_column(String(200))
    belopp: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    #: the kontroll user who handles the case, when it could be linked
    handlaggare_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    #: "signatur", "namn" or None
    link_method: Mapped[str | None] = mapped_column(String(10), info=MACHINE)
    #: the row in the file (header = 1), to point people at it
    source_row: Mapped[int] = mapped_column(Integer)

    handlaggare_user: Mapped[User | None] = relationship()

    __table_args__ = (
        UniqueConstraint("snapshot_id", "case_ref"),
        Index("ix_snapshot_cases_snapshot_id_handlaggare_user_id", "snapshot_id", "handlaggare_user_id"),
        Index(None, "case_ref"),
    )

    @property
    def handlaggare_label(self) -> str:
        from kontroll.cases.handlaggare import label

        return label(self.handlaggare_namn, self.handlaggare_signatur, none="–")


class CaseListSettings(Base):
    """A unit's saved column mapping for its case-system export."""

    __tablename__ = "case_list_settings"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    #: JSON: field -> header
    column_mapping: Mapped[str] = mapped_column(Text, default="{}", info=JSON_TEXT)
    updated_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseListApiToken(Base):
    """A per-unit token for automated exports from the case system (JSON API)."""

    __tablename__ = "case_list_api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, info=MACHINE)
    #: the user on whose behalf imports are recorded
    acting_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_dt: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_dt: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    unit: Mapped[Unit] = relationship()
    acting_user: Mapped[User] = relationship(foreign_keys=[acting_user_id])


class PendingImport(Base):
    """A parsed, validated case list waiting for the user's confirmation after the preview.

    Holds only the mapped fields (compressed JSON), never the uploaded file; removed when
    confirmed, cancelled or older than an hour.
    """

    __tablename__ = "pending_imports"

    id: Mapped[str] = mapped_column(String(43), primary_key=True, info=MACHINE)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    source_filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), info=MACHINE)
    #: the snapshot the preview's diff was made against (None: the first list)
    previous_snapshot_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[bytes] = mapped_column(LargeBinary)


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_snapshots(session: Session, _ctx: object, _instances: object) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, (CaseListSnapshot, SnapshotCase)) and (
            obj in session.deleted or session.is_modified(obj, include_collections=False)
        ):
            raise ImmutableError("En importerad ärendelista kan inte ändras eller tas bort.")
