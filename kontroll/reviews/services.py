"""Reviews as services: the rules hold for every caller.

- The template version answered is frozen on first use (kontroll.checklists.services).
- Only the current assigned reviewer answers a review; a signed review (klar) never changes.
- Signing needs every item answered and a comment where the template requires one; it turns
  every deviating answer into a brist.
- Återkoppling is recorded by the reviewer; the handläggare sees only their own cases.

Brister and åtgärder are in :mod:`kontroll.reviews.atgarder`, re-exported here so that callers
import the feature's services from one module. Services take the acting user, check before
they change anything, audit and flush.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kontroll.cases.models import SnapshotCase
from kontroll.checklists.model import ANSWER_LABELS, Template
from kontroll.checklists.services import freeze_version, template_of
from kontroll.core import audit
from kontroll.core.errors import ValidationError
from kontroll.core.inputs import form_date
from kontroll.core.models import Unit, User
from kontroll.core.notifications import notify, page_path
from kontroll.core.periods import Period
from kontroll.core.permissions import (
    Perm,
    PermissionDenied,
    can,
)
from kontroll.db import insert_once, utcnow
from kontroll.privacy.guard import check_text, refusal_message
from kontroll.privacy.personnummer import contains_personnummer
from kontroll.reviews.atgarder import (
    ATGARD_LABELS,
    areas_in_unit,
    atgarder_for_unit,
    brister_for_unit,
    complete_atgard,
    confirming_reviews,
    may_complete_atgard,
    may_see_atgard,
    may_verify_atgard,
    open_atgard,
    overdue_atgarder,
    verify_atgard,
)
from kontroll.reviews.models import (
    MAX_COMMENT,
    MIN_NOTE,
    Brist,
    Feedback,
    Review,
    ReviewAnswer,
    ReviewState,
)
from kontroll.sampling.models import Assignment, Draw, DrawnCase

__all__ = [  # the feature's services, with brister and åtgärder
    "ATGARD_LABELS", "FEEDBACK_METHODS", "MAX_COMMENT", "MIN_NOTE", "STATE_LABELS", "IncompleteReview", "MyCase",
    "Overview", "OverviewRow", "answers_from_form", "answers_of", "areas_in_unit", "atgarder_for_unit",
    "brister_for_unit", "complete_atgard", "confirming_reviews", "feedback_for_handlaggare", "handlaggare_id",
    "is_current_reviewer", "may_complete_atgard", "may_see_atgard", "may_verify_atgard", "may_view_review",
    "late_reviews", "late_reviews_in", "month_overview", "month_overviews", "my_cases", "no_new_reviewer_after_signing", "open_atgard", "open_count", "open_review", "open_reviews_due",
    "overdue_atgarder", "record_feedback", "review_for_assignment", "save_draft", "sign",
    "verify_atgard",
]

STATE_LABELS = {"ej_tilldelad": "Ej tilldelad", "tilldelad": "Tilldelad", "pågående": "Pågående", "klar": "Klar",
                "försenad": "Försenad"}
FEEDBACK_METHODS = {"muntligt": "Muntligt", "skriftligt": "Skriftligt", "vid_mote": "Vid möte",
                    "arendedragning": "Vid ärendedragning", "annat": "Annat"}


# --- the reviewer's cases ---------------------------------------------------------------


@dataclass
class MyCase:
    drawn_case: DrawnCase
    review: Review | None

    @property
    def state(self) -> str:
        return self.review.state if self.review else ReviewState.TILLDELAD.value


def my_cases(session: Session, user: User) -> list[MyCase]:
    """Cases whose current reviewer is ``user``, in valid draws, newest first."""
    rows = session.execute(
        select(DrawnCase, Assignment)
        .join(Assignment, Assignment.drawn_case_id == DrawnCase.id)
        .join(Draw, Draw.id == DrawnCase.draw_id)
        .where(Assignment.reviewer_id == user.id, Assignment.replaced_dt.is_(None), Draw.voided_dt.is_(None))
        .order_by(Draw.period.desc(), DrawnCase.position)
    ).all()
    reviews = {r.assignment_id: r for r in session.scalars(
        select(Review).where(Review.assignment_id.in_([a.id for _, a in rows]))
    )} if rows else {}
    return [MyCase(dc, reviews.get(a.id)) for dc, a in rows]


def open_reviews_due(session: Session, user: User, late_after_months: int) -> list[dt.date]:
    """The day by which each of ``user``'s unfinished reviews must be klarmarkerad."""
    return [Period.parse(c.drawn_case.draw.period).deadline(late_after_months)
            for c in my_cases(session, user) if c.state != ReviewState.KLAR]


def open_count(session: Session, user: User) -> int:
    return sum(1 for c in my_cases(session, user) if c.state != ReviewState.KLAR)


def is_current_reviewer(user: User, drawn_case: DrawnCase) -> bool:
    current = drawn_case.current_assignment
    return current is not None and current.reviewer_id == user.id and not drawn_case.draw.is_voided


def review_for_assignment(session: Session, assignment: Assignment) -> Review | None:
    return session.scalar(select(Review).where(Review.assignment_id == assignment.id))


def open_review(session: Session, actor: User, drawn_case: DrawnCase, template: Template) -> Review:
    """The review of the current assignment, created (state tilldelad, template frozen) on
    first opening. Only the current assigned reviewer may open it."""
    if not is_current_reviewer(actor, drawn_case):
        raise PermissionDenied("Bara den utsedda granskaren kan granska ärendet.")
    assignment = drawn_case.current_assignment
    assert assignment is not None
    existing = review_for_assignment(session, assignment)
    if existing is not None:
        return existing
    version = freeze_version(session, template)
    review = Review(
        unit_id=drawn_case.draw.unit_id, drawn_case_id=drawn_case.id, assignment_id=assignment.id,
        reviewer_id=actor.id, template_version_id=version.id, state=ReviewState.TILLDELAD.value,
        created_dt=utcnow(),
    )
    existing = insert_once(session, review, lambda: review_for_assignment(session, assignment))
    if existing is not None:  # opened at the same moment in another request
        return existing
    audit.record(session, actor, "review.create", object_type="review", object_id=review.id,
                 unit=review.unit_id, details={"case": drawn_case.case_ref, "template": template.id,
                                               "version": template.version})
    return review


# --- answering ----------------------------------------------------------------------------

#: item key -> (answer or "", comment)
Answers = dict[str, tuple[str, str]]


class IncompleteReview(ValidationError):
    """Signing refused: ``item_errors`` maps item keys to Swedish messages."""

    def __init__(self, message: str, item_errors: dict[str, str]) -> None:
        super().__init__(message)
        self.item_errors = item_errors


def answers_from_form(template: Template, form: Any) -> Answers:
    return {item.key: ((form.get(f"svar-{item.key}") or "").strip(), (form.get(f"kommentar-{item.key}") or "").strip())
            for _, item in template.items()}


def answers_of(review: Review) -> Answers:
    return {a.item_key: (a.answer or "", a.comment or "") for a in review.answers}


def _check_can_answer(actor: User, review: Review) -> None:
    if review.reviewer_id != actor.id:
        raise PermissionDenied("Bara den utsedda granskaren kan besvara granskningen.")
    if review.is_signed:
        raise ValidationError(
            f"Granskningen av {review.drawn_case.case_ref} är klarmarkerad "
            f"{review.signed_dt.strftime('%Y-%m-%d') if review.signed_dt else ''} och kan inte ändras. Ingenting har sparats."
        )
    if not is_current_reviewer(actor, review.drawn_case) or review.drawn_case.current_assignment.id != review.assignment_id:
        raise PermissionDenied("Bara den utsedda granskaren kan besvara granskningen.")


def _check_values(template: Template, answers: Answers) -> dict[str, str]:
    errors: dict[str, str] = {}
    for _, item in template.items():
        answer, comment = answers.get(item.key, ("", ""))
        if answer and answer not in item.answers:
            errors[item.key] = "Välj ett av svarsalternativen."
        if len(comment) > MAX_COMMENT:
            errors[item.key] = f"Kommentaren får vara högst {MAX_COMMENT} tecken."
        elif contains_personnummer(comment):
            errors[item.key] = refusal_message("Kommentaren")
    return errors


def _write_answers(session: Session, review: Review, template: Template, answers: Answers) -> int:
    existing = {a.item_key: a for a in review.answers}
    changed = 0
    for _, item in template.items():
        answer, comment = answers.get(item.key, ("", ""))
        row = existing.get(item.key)
        if not answer and not comment:
            if row is not None:
                session.delete(row)
                review.answers.remove(row)
                changed += 1
            continue
        if row is None:
            row = ReviewAnswer(review_id=review.id, item_key=item.key)
            review.answers.append(row)
            session.add(row)
        if (row.answer, row.comment) != (answer or None, comment or None):
            row.answer, row.comment = answer or None, comment or None
            changed += 1
    return changed


def save_draft(session: Session, actor: User, review: Review, answers: Answers) -> Review:
    _check_can_answer(actor, review)
    template = template_of(review.template_version)
    errors = _check_values(template, answers)
    if errors:
        raise IncompleteReview("Några svar kunde inte sparas. Rätta de markerade frågorna.", errors)
    changed = _write_answers(session, review, template, answers)
    now = utcnow()
    if review.state == ReviewState.TILLDELAD:
        review.state = ReviewState.PAGAENDE.value
        review.started_dt = now
    session.flush()
    audit.record(session, actor, "review.save", object_type="review", object_id=review.id, unit=review.unit_id,
                 details={"case": review.drawn_case.case_ref, "changed": changed,
                          "answered": sum(1 for a, _ in answers.values() if a)})
    return review


def sign(session: Session, actor: User, review: Review, answers: Answers) -> Review:
    """Klarmarkera: every item answered, comments where required; deviations become brister."""
    _check_can_answer(actor, review)
    template = template_of(review.template_version)
    errors = _check_values(template, answers)
    for _, item in template.items():
        if item.key in errors:
            continue
        answer, comment = answers.get(item.key, ("", ""))
        if not answer:
            errors[item.key] = "Svar saknas."
        elif item.requires_comment(answer) and not comment:
            errors[item.key] = f"Svaret ”{ANSWER_LABELS[answer]}” kräver en kommentar."
    if errors:
        n = len(errors)
        raise IncompleteReview(
            f"Granskningen kan inte klarmarkeras: {n} {'fråga behöver' if n == 1 else 'frågor behöver'} "
            "kompletteras. Dina svar finns kvar i formuläret men är inte sparade.",
            errors,
        )
    _write_answers(session, review, template, answers)
    now = utcnow()
    if review.started_dt is None:
        review.started_dt = now
    review.state = ReviewState.KLAR.value
    review.signed_dt = now
    brister = []
    for area, item in template.items():
        answer, comment = answers[item.key]
        if item.is_deviation(answer):
            brist = Brist(review_id=review.id, unit_id=review.unit_id, area_key=area.key, area_title=area.title,
                          item_key=item.key, question=item.question, answer=answer, comment=comment or None,
                          created_dt=now)
            session.add(brist)
            brister.append(item.key)
    session.flush()
    audit.record(session, actor, "review.sign", object_type="review", object_id=review.id, unit=review.unit_id,
                 details={"case": review.drawn_case.case_ref, "brister": brister,
                          "template": review.template_version.template_id,
                          "version": review.template_version.version})
    return review


# --- återkoppling -------------------------------------------------------------------------


def record_feedback(session: Session, actor: User, review: Review, given_on: str | dt.date, method: str,
                    note: str, today: dt.date | None = None) -> Feedback:
    if review.reviewer_id != actor.id:
        raise PermissionDenied("Bara granskaren registrerar återkoppling till handläggaren.")
    if not review.is_signed:
        raise ValidationError("Klarmarkera granskningen innan du registrerar återkopplingen.")
    day = form_date(given_on, "given_on", "Datum för återkopplingen")
    if day > (today or dt.date.today()):
        raise ValidationError("Återkopplingen kan inte ha getts i framtiden.", "given_on")
    if method not in FEEDBACK_METHODS:
        raise ValidationError("Välj hur återkopplingen gavs.", "method")
    note = note.strip()
    if len(note) > MAX_COMMENT:
        raise ValidationError(f"Anteckningen får vara högst {MAX_COMMENT} tecken.", "note")
    check_text(note, "Anteckningen om återkopplingen", "note")
    row = Feedback(review_id=review.id, given_on=day, method=method, note=note or None, recorded_by_id=actor.id,
                   recorded_dt=utcnow())
    session.add(row)
    session.flush()
    audit.record(session, actor, "review.feedback", object_type="review", object_id=review.id, unit=review.unit_id,
                 details={"case": review.drawn_case.case_ref, "given_on": day, "method": method})
    handlaggare = handlaggare_id(review)
    if handlaggare is not None:
        notify(session, handlaggare, kind="feedback_given", dedupe_key=f"feedback_given:{row.id}",
               title=f"Återkoppling på ditt ärende {review.drawn_case.case_ref}",
               body=f"{actor.full_name} har granskat ärendet och gett dig återkoppling ({FEEDBACK_METHODS[method].lower()}).",
               link=page_path("reviews.my_feedback", session=session))
    return row


# --- who may see what ---------------------------------------------------------------------


def handlaggare_id(review: Review) -> int | None:
    return review.drawn_case.snapshot_case.handlaggare_user_id


def may_view_review(user: User, review: Review) -> bool:
    if can(user, Perm.VIEW_REVIEWS, review.unit_id) or user.id == review.reviewer_id:
        return True
    return review.is_signed and handlaggare_id(review) == user.id and can(user, Perm.RECEIVE_FEEDBACK, review.unit_id)


def feedback_for_handlaggare(session: Session, user: User) -> list[Review]:
    """Signed reviews of the cases ``user`` handles (per the drawn snapshot)."""
    units = [a.unit_id for a in user.role_assignments if a.unit_id is not None and can(user, Perm.RECEIVE_FEEDBACK, a.unit_id)]
    if not units:
        return []
    return list(session.scalars(
        select(Review)
        .join(DrawnCase, DrawnCase.id == Review.drawn_case_id)
        .join(SnapshotCase, SnapshotCase.id == DrawnCase.snapshot_case_id)
        .where(SnapshotCase.handlaggare_user_id == user.id, Review.state == ReviewState.KLAR.value,
               Review.unit_id.in_(units))
        .order_by(Review.signed_dt.desc())
        .options(selectinload(Review.brister), selectinload(Review.feedback))
    ))


# --- the month's overview -----------------------------------------------------------------


@dataclass
class OverviewRow:
    drawn_case: DrawnCase
    reviewer: User | None
    review: Review | None
    state: str
    brister: int = 0


@dataclass
class Overview:
    draw: Draw | None
    deadline: dt.date
    rows: list[OverviewRow] = field(default_factory=list)


def month_overview(session: Session, unit: Unit, period: str, today: dt.date, late_months: int) -> Overview:
    """The month's drawn cases with their reviewer and state; a case not signed by the
    period's deadline (``late_months``: REVIEW_LATE_AFTER_MONTHS, read by the caller through
    :func:`kontroll.core.periods.late_after_months`) is försenad."""
    return month_overviews(session, [unit.id], [period], today, late_months)[(unit.id, period)]


def month_overviews(session: Session, unit_ids: list[int], periods: list[str], today: dt.date,
                    late_months: int) -> dict[tuple[int, str], Overview]:
    """:func:`month_overview` for every unit and month asked for, in four queries whatever
    their number: {(unit id, period): overview}."""
    draws = {(d.unit_id, d.period): d for d in session.scalars(
        select(Draw).where(Draw.unit_id.in_(unit_ids), Draw.period.in_(periods), Draw.voided_dt.is_(None))
        # one query per level instead of one per drawn case (the unit and year pages call this often)
        .options(selectinload(Draw.cases).selectinload(DrawnCase.assignments).selectinload(Assignment.reviewer))
    )} if unit_ids and periods else {}
    case_ids = [c.id for d in draws.values() for c in d.cases]
    by_case: dict[int, list[Review]] = {}
    if case_ids:
        for r in session.scalars(select(Review).where(Review.drawn_case_id.in_(case_ids))
                                 .options(selectinload(Review.brister))):
            by_case.setdefault(r.drawn_case_id, []).append(r)
    return {(unit_id, period): _overview(draws.get((unit_id, period)), by_case,
                                         Period.parse(period).deadline(late_months), today)
            for unit_id in unit_ids for period in periods}


def _overview(draw: Draw | None, by_case: dict[int, list[Review]], deadline: dt.date, today: dt.date) -> Overview:
    overview = Overview(draw, deadline)
    if draw is None:
        return overview
    for dc in draw.cases:
        reviews = by_case.get(dc.id, [])
        current = dc.current_assignment
        signed = next((r for r in reviews if r.drawn_case_id == dc.id and r.is_signed), None)
        review = signed or next((r for r in reviews if current and r.assignment_id == current.id), None)
        if review is not None and review.is_signed:
            state = "klar"
        elif today > deadline:
            state = "försenad"
        elif current is None:
            state = "ej_tilldelad"
        else:
            state = review.state if review else "tilldelad"
        overview.rows.append(OverviewRow(dc, current.reviewer if current else None, review, state,
                                         len(review.brister) if review else 0))
    return overview


#: how many months past a deadline a late review is still looked for (the reminders, the unit page)
LATE_LOOKBACK_MONTHS = 6


def late_reviews(session: Session, unit: Unit, today: dt.date, late_months: int) -> list[tuple[str, Overview, OverviewRow]]:
    """(period, its overview, the row) for every drawn case of ``unit`` not signed by its
    deadline, in the months that can hold one: this month back to ``late_months`` +
    LATE_LOOKBACK_MONTHS months ago. The one reader of lateness for the reminders and the unit
    page."""
    return late_reviews_in(session, [unit.id], today, late_months)[unit.id]


def late_reviews_in(session: Session, unit_ids: list[int], today: dt.date,
                    late_months: int) -> dict[int, list[tuple[str, Overview, OverviewRow]]]:
    """:func:`late_reviews` for several units at once, in a bounded number of queries."""
    this = Period.of(today)
    periods = [str(this), *(str(p) for p in this.before(late_months + LATE_LOOKBACK_MONTHS))]
    overviews = month_overviews(session, unit_ids, periods, today, late_months)
    return {unit_id: [(period, overviews[(unit_id, period)], row) for period in periods
                      for row in overviews[(unit_id, period)].rows if row.state == "försenad"]
            for unit_id in unit_ids}


def no_new_reviewer_after_signing(session: Session, drawn_case_id: int) -> None:
    signed = session.scalar(
        select(Review.id).where(Review.drawn_case_id == drawn_case_id, Review.state == ReviewState.KLAR.value)
    )
    if signed is not None:
        raise ValidationError("Ärendet är redan granskat och klarmarkerat. Granskaren kan inte bytas.", "reviewer")

