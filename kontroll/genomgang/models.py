"""Genomgångar: the planned and performed full reviews of a unit's active cases.

A genomgång is planned for a date (``planerad``), started from a case-list snapshot with its
participants and a frozen template version (``pågående``), and closed when every case of the
snapshot has a result (``stängd``). A closed genomgång never changes: the services refuse,
and a ``before_flush`` guard refuses any change to it, its results or its återkoppling.

Results exist only for the cases recorded so far (one row per case and genomgång); the work
list is the snapshot's cases left-joined with them, so a genomgång over 5,000 cases stores
nothing until a case is recorded. Brister of a result are :class:`kontroll.reviews.models.Brist`
rows with ``genomgang_result_id`` set, so they flow into the unit's brist/åtgärd handling.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from kontroll.cases.models import CaseListSnapshot, SnapshotCase
from kontroll.core.models import Unit, User
from kontroll.db import MACHINE, Base, UTCDateTime, utcnow
from kontroll.reviews.models import TemplateVersion


class GenomgangState(enum.StrEnum):
    PLANERAD = "planerad"
    PAGAENDE = "pågående"
    STANGD = "stängd"


class ResultValue(enum.StrEnum):
    UTAN_ANMARKNING = "utan_anmarkning"
    BRIST = "brist"


genomgang_participants = Table(
    "genomgang_participants",
    Base.metadata,
    Column("genomgang_id", ForeignKey("genomgangar.id", ondelete="RESTRICT"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="RESTRICT"), primary_key=True),
)


class Genomgang(Base):
    __tablename__ = "genomgangar"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    #: the year whose target the genomgång counts for
    year: Mapped[int] = mapped_column(Integer)
    planned_on: Mapped[dt.date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20), default=GenomgangState.PLANERAD.value, info=MACHINE)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("case_list_snapshots.id", ondelete="RESTRICT"))
    template_version_id: Mapped[int | None] = mapped_column(ForeignKey("template_versions.id", ondelete="RESTRICT"))
    #: the number of cases in the snapshot when started (the N of "x av N")
    case_count: Mapped[int | None] = mapped_column(Integer)
    started_dt: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    closed_dt: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))

    unit: Mapped[Unit] = relationship()
    snapshot: Mapped[CaseListSnapshot | None] = relationship()
    template_version: Mapped[TemplateVersion | None] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    started_by: Mapped[User | None] = relationship(foreign_keys=[started_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    participants: Mapped[list[User]] = relationship(secondary=genomgang_participants, order_by="User.full_name")

    __table_args__ = (
        CheckConstraint("state IN ('planerad', 'pågående', 'stängd')", name="state"),
        CheckConstraint("state = 'planerad' OR (snapshot_id IS NOT NULL AND template_version_id IS NOT NULL "
                        "AND started_dt IS NOT NULL)", name="started"),
        CheckConstraint("state <> 'stängd' OR closed_dt IS NOT NULL", name="closed"),
        Index("ix_genomgangar_unit_id_year", "unit_id", "year"),
    )

    @property
    def is_closed(self) -> bool:
        return self.state == GenomgangState.STANGD

    @property
    def is_started(self) -> bool:
        return self.state != GenomgangState.PLANERAD


class GenomgangResult(Base):
    """The result for one case of the snapshot: utan anmärkning, or brist (see its brister)."""

    __tablename__ = "genomgang_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    genomgang_id: Mapped[int] = mapped_column(ForeignKey("genomgangar.id", ondelete="RESTRICT"))
    snapshot_case_id: Mapped[int] = mapped_column(ForeignKey("snapshot_cases.id", ondelete="RESTRICT"))
    result: Mapped[str] = mapped_column(String(20), info=MACHINE)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    recorded_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    genomgang: Mapped[Genomgang] = relationship()
    snapshot_case: Mapped[SnapshotCase] = relationship()
    recorded_by: Mapped[User] = relationship()

    __table_args__ = (
        UniqueConstraint("genomgang_id", "snapshot_case_id"),
        CheckConstraint("result IN ('utan_anmarkning', 'brist')", name="result"),
        Index("ix_genomgang_results_snapshot_case_id", "snapshot_case_id"),
    )


class GenomgangFeedback(Base):
    """Återkoppling to one handläggare: the date of the meeting where their cases were discussed."""

    __tablename__ = "genomgang_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    genomgang_id: Mapped[int] = mapped_column(ForeignKey("genomgangar.id", ondelete="RESTRICT"))
    #: the handläggare as in the snapshot: the signature, else the name
    handlaggare_key: Mapped[str] = mapped_column(String(200))
    given_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    recorded_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    recorded_by: Mapped[User] = relationship()

    __table_args__ = (Index("ix_genomgang_feedback_genomgang_id_handlaggare_key", "genomgang_id", "handlaggare_key"),)


class GenomgangClosedError(RuntimeError):
    pass


def _closed_before(session: Session, genomgang_id: int | None) -> bool:
    if genomgang_id is None:
        return False
    genomgang = session.get(Genomgang, genomgang_id)
    if genomgang is None:
        return False
    from sqlalchemy import inspect

    hist = inspect(genomgang).attrs.state.history
    if hist.has_changes():
        return any(v == GenomgangState.STANGD for v in hist.deleted)
    return genomgang.state == GenomgangState.STANGD


@event.listens_for(Session, "before_flush")
def _guard_closed_genomgangar(session: Session, _ctx: object, _instances: object) -> None:
    from kontroll.reviews.models import Brist

    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if obj in session.dirty and not session.is_modified(obj, include_collections=False):
            continue
        if isinstance(obj, Genomgang):
            if obj not in session.new and _closed_before(session, obj.id):
                raise GenomgangClosedError("En stängd genomgång kan inte ändras.")
        elif isinstance(obj, (GenomgangResult, GenomgangFeedback)):
            if _closed_before(session, obj.genomgang_id):
                raise GenomgangClosedError("En stängd genomgång kan inte ändras.")
        elif isinstance(obj, Brist) and obj.genomgang_result_id is not None:
            result = session.get(GenomgangResult, obj.genomgang_result_id)
            if result is not None and _closed_before(session, result.genomgang_id):
                raise GenomgangClosedError("En stängd genomgång kan inte ändras.")
