"""Writing to the yearly summary: the sektionschef signs the unit's bedömning."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.core import audit
from kontroll.core.errors import ValidationError
from kontroll.core.models import Unit, User
from kontroll.core.permissions import Perm, PermissionDenied, can
from kontroll.privacy.committee import check_committee_text
from kontroll.reports.models import Assessment

MAX_TEXT = 10_000


def sign_assessment(session: Session, actor: User, unit: Unit, year: int, text: str) -> Assessment:
    """Store and sign a new version of the unit's bedömning for ``year`` (flushes, no commit).
    Earlier versions stay; the newest one is the one shown."""
    if not can(actor, Perm.SIGN_ASSESSMENT, unit):
        raise PermissionDenied("Bara enhetens sektionschef kan signera bedömningen.")
    text = (text or "").strip()
    if not text:
        raise ValidationError("Skriv bedömningen innan du signerar.", "text")
    if len(text) > MAX_TEXT:
        raise ValidationError(f"Bedömningen får vara högst {MAX_TEXT} tecken.", "text")
    # the nämnd reads it: no personnummer, case reference or name (docs/architecture.md, invariant 9)
    check_committee_text(session, text, [unit.id], "Bedömningen", "text")
    previous = session.scalar(select(Assessment).where(Assessment.unit_id == unit.id, Assessment.year == year)
                              .order_by(Assessment.signed_dt.desc(), Assessment.id.desc()).limit(1))
    row = Assessment(unit_id=unit.id, year=year, text=text, signed_by_id=actor.id,
                     supersedes_id=previous.id if previous else None)
    session.add(row)
    session.flush()
    audit.record(session, actor, "assessment.signed", object_type="assessment", object_id=row.id, unit=unit,
                 details={"year": year, "supersedes": previous.id if previous else None})
    return row
