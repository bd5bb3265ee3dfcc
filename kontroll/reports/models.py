"""The sektionschef's written bedömning (assessment) of a unit's year.

A bedömning is signed when it is saved and never changes afterwards; a later version
supersedes it (``supersedes_id``) and the earlier one stays stored.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, Text, event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from kontroll.core.models import Unit, User
from kontroll.db import Base, UTCDateTime, utcnow


class Assessment(Base):
    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    year: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    signed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    signed_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id", ondelete="RESTRICT"))

    unit: Mapped[Unit] = relationship()
    signed_by: Mapped[User] = relationship()

    __table_args__ = (Index("ix_assessments_unit_id_year", "unit_id", "year"),)


class AssessmentImmutableError(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _guard_assessments(session: Session, _ctx: object, _instances: object) -> None:
    for obj in session.deleted:
        if isinstance(obj, Assessment):
            raise AssessmentImmutableError("En signerad bedömning kan inte tas bort.")
    for obj in session.dirty:
        if isinstance(obj, Assessment) and session.is_modified(obj, include_collections=False):
            raise AssessmentImmutableError("En signerad bedömning kan inte ändras. Skriv en ny version.")
