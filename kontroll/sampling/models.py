"""The monthly draw (stickprov) and the reviewer assignments of its cases.

A draw records everything needed to re-verify it years later: the snapshot and its hash,
the seed, the method and its version and parameters, who drew and when. It never changes,
except that it can be voided (makulerad) once, with a reason, when a redraw replaces it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from kontroll.cases.models import CaseListSnapshot, SnapshotCase
from kontroll.core.models import Unit, User
from kontroll.db import JSON_TEXT, MACHINE, Base, UTCDateTime, utcnow


class Draw(Base):
    __tablename__ = "draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    #: the month drawn for, "YYYY-MM"
    period: Mapped[str] = mapped_column(String(7), info=MACHINE)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("case_list_snapshots.id", ondelete="RESTRICT"))
    snapshot_sha256: Mapped[str] = mapped_column(String(64), info=MACHINE)
    #: SHA-256 of what the draw depends on: the sorted (case_ref, team) lines (docs/draw-method.md)
    population_sha256: Mapped[str] = mapped_column(String(64), info=MACHINE)
    #: 128-bit seed as 32 lowercase hex characters (docs/draw-method.md)
    seed: Mapped[str] = mapped_column(String(32), info=MACHINE)
    method_name: Mapped[str] = mapped_column(String(40), info=MACHINE)
    method_version: Mapped[int] = mapped_column(Integer)
    sample_size: Mapped[int] = mapped_column(Integer)
    stratify_by_team: Mapped[bool] = mapped_column(Boolean, default=False)
    #: cases reviewed in the last N months were excluded (0: none)
    exclude_months: Mapped[int] = mapped_column(Integer, default=0)
    #: JSON list of the excluded case references, recorded so that verification needs nothing else
    excluded_refs: Mapped[str] = mapped_column(Text, default="[]", info=JSON_TEXT)
    population_size: Mapped[int] = mapped_column(Integer)
    eligible_size: Mapped[int] = mapped_column(Integer)
    #: JSON {team: n} when stratified
    allocation: Mapped[str | None] = mapped_column(Text, info=JSON_TEXT)
    drawn_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    drawn_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    voided_dt: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    void_reason: Mapped[str | None] = mapped_column(Text)
    #: the voided draw this one replaces
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("draws.id", ondelete="RESTRICT"))

    unit: Mapped[Unit] = relationship()
    snapshot: Mapped[CaseListSnapshot] = relationship()
    drawn_by: Mapped[User] = relationship(foreign_keys=[drawn_by_id])
    voided_by: Mapped[User | None] = relationship(foreign_keys=[voided_by_id])
    cases: Mapped[list[DrawnCase]] = relationship(back_populates="draw", order_by="DrawnCase.position")

    __table_args__ = (
        # at most one valid draw per unit and month; voided ones stay beside it
        Index(
            "uq_draws_unit_id_period_valid",
            "unit_id",
            "period",
            unique=True,
            sqlite_where=text("voided_dt IS NULL"),
            postgresql_where=text("voided_dt IS NULL"),
        ),
        Index("ix_draws_unit_id_period", "unit_id", "period"),
    )

    @property
    def is_voided(self) -> bool:
        return self.voided_dt is not None


class DrawnCase(Base):
    __tablename__ = "drawn_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id", ondelete="RESTRICT"))
    #: 1-based, in selection order (increasing key)
    position: Mapped[int] = mapped_column(Integer)
    snapshot_case_id: Mapped[int] = mapped_column(ForeignKey("snapshot_cases.id", ondelete="RESTRICT"))
    case_ref: Mapped[str] = mapped_column(String(200))

    draw: Mapped[Draw] = relationship(back_populates="cases")
    snapshot_case: Mapped[SnapshotCase] = relationship()
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="drawn_case", order_by="Assignment.assigned_dt"
    )

    __table_args__ = (UniqueConstraint("draw_id", "case_ref"), Index(None, "case_ref"))

    @property
    def current_assignment(self) -> Assignment | None:
        return next((a for a in self.assignments if a.replaced_dt is None), None)


class Assignment(Base):
    """The reviewer of a drawn case. Reassigning keeps the old row (replaced_dt set)."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    drawn_case_id: Mapped[int] = mapped_column(ForeignKey("drawn_cases.id", ondelete="RESTRICT"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    assigned_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    assigned_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the separation rule that was overridden ("hemmablindhet", "roll") and why
    override_rule: Mapped[str | None] = mapped_column(String(20), info=MACHINE)
    override_reason: Mapped[str | None] = mapped_column(Text)
    replaced_dt: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    drawn_case: Mapped[DrawnCase] = relationship(back_populates="assignments")
    reviewer: Mapped[User] = relationship(foreign_keys=[reviewer_id])
    assigned_by: Mapped[User] = relationship(foreign_keys=[assigned_by_id])

    __table_args__ = (
        Index(
            "uq_assignments_drawn_case_id_current",
            "drawn_case_id",
            unique=True,
            sqlite_where=text("replaced_dt IS NULL"),
            postgresql_where=text("replaced_dt IS NULL"),
        ),
        Index(None, "reviewer_id"),
    )


class DrawImmutableError(RuntimeError):
    pass


_VOID_FIELDS = {"voided_dt", "voided_by_id", "void_reason"}


@event.listens_for(Session, "before_flush")
def _guard_draws(session: Session, _ctx: object, _instances: object) -> None:
    for obj in session.deleted:
        if isinstance(obj, (Draw, DrawnCase)):
            raise DrawImmutableError("Ett stickprov kan inte tas bort. Det kan bara makuleras, med motivering.")
    for obj in session.dirty:
        if isinstance(obj, DrawnCase) and session.is_modified(obj, include_collections=False):
            raise DrawImmutableError("Ett dragit ärende kan inte ändras.")
        if isinstance(obj, Draw) and session.is_modified(obj, include_collections=False):
            from sqlalchemy import inspect

            state = inspect(obj)
            changed = {a.key for a in state.attrs if a.history.has_changes()}
            voided_before = state.attrs.voided_dt.history.deleted
            if changed - _VOID_FIELDS or any(v is not None for v in voided_before):
                raise DrawImmutableError("Ett stickprov kan inte ändras. Det kan bara makuleras en gång, med motivering.")
