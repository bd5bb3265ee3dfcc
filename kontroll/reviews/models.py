"""Reviews (granskningar) of drawn cases, the template versions they answered, the brister
found and the åtgärder taken.

A signed review (state ``klar``) never changes: the service refuses, and a ``before_flush``
guard refuses any change to a signed review or its answers whatever the caller does. The
template versions they answered are kontroll.checklists.models.TemplateVersion.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from kontroll.checklists.models import TemplateVersion
from kontroll.core.models import Unit, User
from kontroll.db import MACHINE, Base, UTCDateTime, utcnow
from kontroll.sampling.models import Assignment, DrawnCase

if TYPE_CHECKING:
    from kontroll.genomgang.models import GenomgangResult


#: the longest comment, note or description a person writes here; the shortest note
MAX_COMMENT = 5000
MIN_NOTE = 5


class ReviewState(enum.StrEnum):
    TILLDELAD = "tilldelad"
    PAGAENDE = "pågående"
    KLAR = "klar"


class AtgardState(enum.StrEnum):
    OPPEN = "öppen"
    GENOMFORD = "genomförd"
    VERIFIERAD = "verifierad"


class Review(Base):
    """One reviewer's checklist for one drawn case (one per assignment)."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    drawn_case_id: Mapped[int] = mapped_column(ForeignKey("drawn_cases.id", ondelete="RESTRICT"))
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="RESTRICT"), unique=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    template_version_id: Mapped[int] = mapped_column(ForeignKey("template_versions.id", ondelete="RESTRICT"))
    state: Mapped[str] = mapped_column(String(20), default=ReviewState.TILLDELAD.value, info=MACHINE)
    created_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_dt: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    signed_dt: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    unit: Mapped[Unit] = relationship()
    drawn_case: Mapped[DrawnCase] = relationship()
    assignment: Mapped[Assignment] = relationship()
    reviewer: Mapped[User] = relationship()
    template_version: Mapped[TemplateVersion] = relationship()
    answers: Mapped[list[ReviewAnswer]] = relationship(back_populates="review", order_by="ReviewAnswer.id")
    brister: Mapped[list[Brist]] = relationship(back_populates="review", order_by="Brist.id")
    feedback: Mapped[list[Feedback]] = relationship(back_populates="review", order_by="Feedback.id")

    __table_args__ = (
        CheckConstraint("state IN ('tilldelad', 'pågående', 'klar')", name="state"),
        CheckConstraint("state <> 'klar' OR signed_dt IS NOT NULL", name="signed_when_klar"),
        Index("ix_reviews_drawn_case_id", "drawn_case_id"),
        Index("ix_reviews_reviewer_id", "reviewer_id"),
        Index("ix_reviews_unit_id_state", "unit_id", "state"),
    )

    @property
    def is_signed(self) -> bool:
        return self.state == ReviewState.KLAR


class ReviewAnswer(Base):
    __tablename__ = "review_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="RESTRICT"))
    item_key: Mapped[str] = mapped_column(String(64), info=MACHINE)
    #: "ja", "nej", "ej_aktuellt", or None in a draft where only a comment is written
    answer: Mapped[str | None] = mapped_column(String(20), info=MACHINE)
    comment: Mapped[str | None] = mapped_column(Text)

    review: Mapped[Review] = relationship(back_populates="answers")

    __table_args__ = (UniqueConstraint("review_id", "item_key"),)


atgard_brister = Table(
    "atgard_brister",
    Base.metadata,
    Column("atgard_id", ForeignKey("atgarder.id", ondelete="RESTRICT"), primary_key=True),
    Column("brist_id", ForeignKey("brister.id", ondelete="RESTRICT"), primary_key=True),
    Index("ix_atgard_brister_brist_id", "brist_id"),
)


class Brist(Base):
    """A deviating answer in a signed review, or a brist recorded in a genomgång (then
    ``genomgang_result_id`` is set instead of ``review_id``; exactly one of them is)."""

    __tablename__ = "brister"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id", ondelete="RESTRICT"))
    genomgang_result_id: Mapped[int | None] = mapped_column(
        ForeignKey("genomgang_results.id", ondelete="RESTRICT")
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    area_key: Mapped[str] = mapped_column(String(64), info=MACHINE)
    area_title: Mapped[str] = mapped_column(String(300))
    item_key: Mapped[str] = mapped_column(String(64), info=MACHINE)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(String(20), info=MACHINE)
    comment: Mapped[str | None] = mapped_column(Text)
    created_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    review: Mapped[Review | None] = relationship(back_populates="brister")
    genomgang_result: Mapped[GenomgangResult | None] = relationship()
    atgarder: Mapped[list[Atgard]] = relationship(secondary=atgard_brister, back_populates="brister")

    __table_args__ = (
        UniqueConstraint("review_id", "item_key"),
        UniqueConstraint("genomgang_result_id", "item_key"),
        CheckConstraint("(review_id IS NULL) <> (genomgang_result_id IS NULL)", name="one_source"),
        Index("ix_brister_unit_id_area_key", "unit_id", "area_key"),
    )

    @property
    def case_ref(self) -> str:
        if self.review is not None:
            return self.review.drawn_case.case_ref
        if self.genomgang_result is not None:
            return self.genomgang_result.snapshot_case.case_ref
        return "–"


class Feedback(Base):
    """Återkoppling from the reviewer to the case's handläggare."""

    __tablename__ = "review_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="RESTRICT"), index=True)
    given_on: Mapped[dt.date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(20), info=MACHINE)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    recorded_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    review: Mapped[Review] = relationship(back_populates="feedback")
    recorded_by: Mapped[User] = relationship()


class Atgard(Base):
    """A corrective action for one or several brister: öppen → genomförd → verifierad."""

    __tablename__ = "atgarder"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    description: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    due_date: Mapped[dt.date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20), default=AtgardState.OPPEN.value, info=MACHINE)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_dt: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    done_note: Mapped[str | None] = mapped_column(Text)
    verified_dt: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    verified_note: Mapped[str | None] = mapped_column(Text)
    #: a later review that confirms the action worked
    confirming_review_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id", ondelete="RESTRICT"))

    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    done_by: Mapped[User | None] = relationship(foreign_keys=[done_by_id])
    verified_by: Mapped[User | None] = relationship(foreign_keys=[verified_by_id])
    confirming_review: Mapped[Review | None] = relationship(foreign_keys=[confirming_review_id])
    brister: Mapped[list[Brist]] = relationship(secondary=atgard_brister, back_populates="atgarder",
                                                order_by="Brist.id")

    __table_args__ = (
        CheckConstraint("state IN ('öppen', 'genomförd', 'verifierad')", name="state"),
        CheckConstraint("verified_by_id IS NULL OR verified_by_id <> owner_id", name="verifier_not_owner"),
        Index("ix_atgarder_owner_id", "owner_id"),
    )

    def is_overdue(self, today: dt.date) -> bool:
        return self.state == AtgardState.OPPEN and today > self.due_date


class ReviewImmutableError(RuntimeError):
    pass


def _signed_before(review: Review) -> bool:
    """True when the review was already signed before the pending changes."""
    state = inspect(review)
    if state.pending or state.transient:
        return False
    hist = state.attrs.state.history
    if hist.has_changes():
        return any(v == ReviewState.KLAR for v in hist.deleted)
    return review.state == ReviewState.KLAR


@event.listens_for(Session, "before_flush")
def _guard_signed_reviews(session: Session, _ctx: object, _instances: object) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, Review) and (obj in session.deleted or session.is_modified(obj, include_collections=False)):
            if _signed_before(obj):
                raise ReviewImmutableError("En klarmarkerad granskning kan inte ändras.")
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, (ReviewAnswer, Brist)):
            if isinstance(obj, Brist) and obj in session.new:
                continue  # brister are created when the review is signed
            if obj in session.dirty and not session.is_modified(obj, include_collections=False):
                continue
            if isinstance(obj, Brist) and obj.review_id is None and obj.review is None:
                continue  # a genomgång's brist: guarded in kontroll.genomgang.models
            review = obj.review if obj.review is not None else session.get(Review, obj.review_id)
            if review is not None and _signed_before(review):
                raise ReviewImmutableError("En klarmarkerad granskning kan inte ändras.")
