"""Brister and åtgärder as services: a brist found in a review or a genomgång gets an åtgärd
with an owner and a due date, which goes öppen → genomförd (the owner or the one who manages
the unit's åtgärder, with a note) → verifierad (a verifier of the unit, never the owner).
Overdue åtgärder are told to their owner and to those who manage them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kontroll.core import audit
from kontroll.core.errors import ValidationError
from kontroll.core.inputs import form_date
from kontroll.core.models import Unit, User
from kontroll.core.notifications import notify, notify_each, page_path
from kontroll.core.permissions import (
    JOB_ROLE_TEXT,
    Job,
    Perm,
    PermissionDenied,
    can,
    job_holders,
    may_hold,
)
from kontroll.db import utcnow
from kontroll.privacy.guard import check_text
from kontroll.reviews.models import (
    MAX_COMMENT,
    MIN_NOTE,
    Atgard,
    AtgardState,
    Brist,
    Review,
    ReviewState,
)

ATGARD_LABELS = {"öppen": "Öppen", "genomförd": "Genomförd", "verifierad": "Verifierad"}


def open_atgard(session: Session, actor: User, unit: Unit, brist_ids: list[int], description: str, owner: User | None,
                due: str | dt.date, today: dt.date | None = None) -> Atgard:
    if not can(actor, Perm.MANAGE_ATGARDER, unit):
        raise PermissionDenied("Bara sektionschefen öppnar åtgärder.")
    brister = list(session.scalars(select(Brist).where(Brist.id.in_(brist_ids), Brist.unit_id == unit.id))) if brist_ids else []
    if not brister or len(brister) != len(set(brist_ids)):
        raise ValidationError("Välj minst en brist i enheten som åtgärden gäller.", "brister")
    description = description.strip()
    if len(description) < MIN_NOTE:
        raise ValidationError("Beskriv åtgärden (minst fem tecken).", "description")
    if len(description) > MAX_COMMENT:
        raise ValidationError(f"Beskrivningen får vara högst {MAX_COMMENT} tecken.", "description")
    check_text(description, "Beskrivningen av åtgärden", "description")
    if owner is None or not may_hold(owner, Job.ATGARD_OWNER, unit):
        raise ValidationError(f"Välj en ansvarig som är {JOB_ROLE_TEXT[Job.ATGARD_OWNER]} i enheten.", "owner")
    due_date = form_date(due, "due_date", "Sista datum")
    if due_date < (today or dt.date.today()):
        raise ValidationError("Sista datum kan inte ligga i det förflutna.", "due_date")
    atgard = Atgard(unit_id=unit.id, description=description, owner_id=owner.id, due_date=due_date,
                    state=AtgardState.OPPEN.value, created_by_id=actor.id, created_dt=utcnow())
    atgard.brister = brister
    session.add(atgard)
    session.flush()
    audit.record(session, actor, "atgard.create", object_type="atgard", object_id=atgard.id, unit=unit,
                 details={"brister": sorted(b.id for b in brister), "cases": _case_refs(atgard),
                          "owner": owner.username, "due_date": due_date})
    if owner.id != actor.id:
        notify(session, owner, kind="atgard_assigned", dedupe_key=f"atgard_assigned:{atgard.id}:{owner.id}",
               title=f"Du är ansvarig för en åtgärd i {unit.code}: {_short(description)}",
               body=f"{actor.full_name} har gett dig åtgärden. Den ska vara genomförd senast {due_date.isoformat()}.",
               link=_link(session, atgard, unit.code))
    return atgard


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _link(session: Session, atgard: Atgard, unit_code: str) -> str:
    return page_path("reviews.atgard_detail", session=session, code=unit_code, atgard_id=atgard.id)


def may_see_atgard(user: User, atgard: Atgard) -> bool:
    """Those who see the unit's reviews, and the åtgärd's owner."""
    return can(user, Perm.VIEW_REVIEWS, atgard.unit_id) or atgard.owner_id == user.id


def may_complete_atgard(user: User, atgard: Atgard) -> bool:
    """The owner or the sektionschef marks an open åtgärd genomförd."""
    return atgard.state == AtgardState.OPPEN and (user.id == atgard.owner_id
                                                  or can(user, Perm.MANAGE_ATGARDER, atgard.unit_id))


def may_verify_atgard(user: User, atgard: Atgard) -> bool:
    """A verifier of the unit who is not the owner verifies a genomförd åtgärd."""
    return (atgard.state == AtgardState.GENOMFORD and may_hold(user, Job.ATGARD_VERIFIER, atgard.unit_id)
            and user.id != atgard.owner_id)


def _case_refs(atgard: Atgard) -> list[str]:
    """The cases the åtgärd's brister were found in: its audit entries name them, so the log
    filtered by a case reference shows what was done about it."""
    return sorted({b.case_ref for b in atgard.brister})


def confirming_reviews(session: Session, atgard: Atgard) -> list[Review]:
    """Reviews that may confirm the åtgärd worked: signed in its unit after it was opened."""
    return list(session.scalars(
        select(Review).where(Review.unit_id == atgard.unit_id, Review.state == ReviewState.KLAR.value,
                             Review.signed_dt >= atgard.created_dt).order_by(Review.signed_dt.desc())))


def complete_atgard(session: Session, actor: User, atgard: Atgard, note: str) -> Atgard:
    if not (actor.id == atgard.owner_id or can(actor, Perm.MANAGE_ATGARDER, atgard.unit_id)):
        raise PermissionDenied("Bara den ansvariga eller sektionschefen kan markera åtgärden som genomförd.")
    if atgard.state != AtgardState.OPPEN:
        raise ValidationError(f"Åtgärden är redan {ATGARD_LABELS[atgard.state].lower()}.")
    note = note.strip()
    if len(note) < MIN_NOTE:
        raise ValidationError("Beskriv vad som har gjorts (minst fem tecken).", "done_note")
    if len(note) > MAX_COMMENT:
        raise ValidationError(f"Anteckningen får vara högst {MAX_COMMENT} tecken.", "done_note")
    check_text(note, "Anteckningen om vad som har gjorts", "done_note")
    atgard.state = AtgardState.GENOMFORD.value
    atgard.done_dt = utcnow()
    atgard.done_by_id = actor.id
    atgard.done_note = note
    session.flush()
    audit.record(session, actor, "atgard.done", object_type="atgard", object_id=atgard.id, unit=atgard.unit_id,
                 details={"note": note, "cases": _case_refs(atgard)})
    unit = session.get(Unit, atgard.unit_id)
    notify_each(session, [u for u in job_holders(session, Job.ATGARD_VERIFIER, atgard.unit_id)
                          if u.id not in (atgard.owner_id, actor.id)],
                key=f"atgard_done:{atgard.id}", kind="atgard_done",
                title=f"Åtgärden i {unit.code} är genomförd – kontrollera att den fungerade: {_short(atgard.description)}",
                body=f"{actor.full_name} markerade åtgärden som genomförd.", link=_link(session, atgard, unit.code))
    return atgard


def verify_atgard(session: Session, actor: User, atgard: Atgard, note: str,
                  confirming_review: Review | None = None) -> Atgard:
    if not may_hold(actor, Job.ATGARD_VERIFIER, atgard.unit_id):
        raise PermissionDenied(f"Bara {JOB_ROLE_TEXT[Job.ATGARD_VERIFIER]} i enheten verifierar åtgärder.")
    if actor.id == atgard.owner_id:
        raise ValidationError("Den som är ansvarig för åtgärden kan inte själv verifiera den. Be någon annan.")
    if atgard.state != AtgardState.GENOMFORD:
        raise ValidationError("Åtgärden måste vara genomförd innan den kan verifieras."
                              if atgard.state == AtgardState.OPPEN else "Åtgärden är redan verifierad.")
    note = note.strip()
    if len(note) > MAX_COMMENT:
        raise ValidationError(f"Anteckningen får vara högst {MAX_COMMENT} tecken.", "verified_note")
    check_text(note, "Anteckningen vid verifieringen", "verified_note")
    if confirming_review is not None:
        if (confirming_review.unit_id != atgard.unit_id or not confirming_review.is_signed
                or confirming_review.signed_dt is None or confirming_review.signed_dt < atgard.created_dt):
            raise ValidationError("Den bekräftande granskningen ska vara en senare, klarmarkerad granskning i enheten.",
                                  "confirming_review")
    atgard.state = AtgardState.VERIFIERAD.value
    atgard.verified_dt = utcnow()
    atgard.verified_by_id = actor.id
    atgard.verified_note = note or None
    atgard.confirming_review_id = confirming_review.id if confirming_review else None
    session.flush()
    audit.record(session, actor, "atgard.verify", object_type="atgard", object_id=atgard.id, unit=atgard.unit_id,
                 details={"note": atgard.verified_note, "confirming_review": atgard.confirming_review_id,
                          "cases": _case_refs(atgard)})
    unit = session.get(Unit, atgard.unit_id)
    notify(session, atgard.owner_id, kind="atgard_verified", dedupe_key=f"atgard_verified:{atgard.id}",
           title=f"Din åtgärd i {unit.code} är verifierad: {_short(atgard.description)}",
           body=f"{actor.full_name} har kontrollerat att åtgärden fungerade.", link=_link(session, atgard, unit.code))
    return atgard


def brister_for_unit(session: Session, unit: Unit, area: str | None = None, without_atgard: bool = False) -> list[Brist]:
    from kontroll.genomgang.models import (
        GenomgangResult,  # brister from genomgångar share the list
    )

    query = (select(Brist).where(Brist.unit_id == unit.id).order_by(Brist.created_dt.desc(), Brist.id)
             .options(selectinload(Brist.atgarder), selectinload(Brist.review).selectinload(Review.drawn_case),
                      selectinload(Brist.genomgang_result).selectinload(GenomgangResult.snapshot_case)))
    if area:
        query = query.where(Brist.area_key == area)
    rows = list(session.scalars(query))
    return [b for b in rows if not b.atgarder] if without_atgard else rows


def atgarder_for_unit(session: Session, unit: Unit, *, state: str | None = None, area: str | None = None,
                      overdue: bool = False, today: dt.date | None = None) -> list[Atgard]:
    today = today or dt.date.today()
    query = (select(Atgard).where(Atgard.unit_id == unit.id).order_by(Atgard.due_date, Atgard.id)
             .options(selectinload(Atgard.brister), selectinload(Atgard.owner)))
    if state in ATGARD_LABELS:
        query = query.where(Atgard.state == state)
    rows = list(session.scalars(query))
    if area:
        rows = [a for a in rows if any(b.area_key == area for b in a.brister)]
    if overdue:
        rows = [a for a in rows if a.is_overdue(today)]
    return rows


def areas_in_unit(session: Session, unit: Unit) -> list[tuple[str, str]]:
    return sorted(set(session.execute(select(Brist.area_key, Brist.area_title).where(Brist.unit_id == unit.id))),
                  key=lambda r: r[1])


def overdue_atgarder(session: Session, unit: Unit, today: dt.date) -> list[Atgard]:
    return list(session.scalars(
        select(Atgard).where(Atgard.unit_id == unit.id, Atgard.state == AtgardState.OPPEN.value, Atgard.due_date < today)
        .order_by(Atgard.due_date)
    ))
