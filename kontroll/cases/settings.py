"""A unit's case-list settings: the saved column mapping, and the API tokens a case system
uses to send its lists (only a token's hash is kept)."""

from __future__ import annotations

import json
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.cases.models import CaseListApiToken, CaseListSettings
from kontroll.cases.parsing import FIELD_LABELS, FIELDS
from kontroll.core import audit
from kontroll.core.auth import token_hash
from kontroll.core.errors import ValidationError
from kontroll.core.models import Unit, User
from kontroll.core.permissions import Perm, PermissionDenied, can
from kontroll.db import utcnow
from kontroll.privacy.guard import check_text


def saved_mapping(session: Session, unit: Unit) -> dict[str, str]:
    settings = session.get(CaseListSettings, unit.id)
    return json.loads(settings.column_mapping) if settings else {}


def save_mapping(session: Session, actor: User, unit: Unit, mapping: dict[str, str]) -> None:
    if not can(actor, Perm.MANAGE_CASELIST_SETTINGS, unit):
        raise PermissionDenied()
    clean = {}
    for key, header in mapping.items():
        if key not in FIELDS:
            raise ValidationError(f"Okänt fält ”{key}”.")
        header = " ".join((header or "").split())
        if len(header) > 200:
            raise ValidationError("En kolumnrubrik får ha högst 200 tecken.", key)
        check_text(header, f"Kolumnrubriken för {FIELD_LABELS[key].lower()}", key)
        if header:
            clean[key] = header
    settings = session.get(CaseListSettings, unit.id)
    if settings is None:
        settings = CaseListSettings(unit_id=unit.id)
        session.add(settings)
    before = json.loads(settings.column_mapping or "{}") if settings.column_mapping else {}
    settings.column_mapping = json.dumps(clean, ensure_ascii=False, sort_keys=True)
    settings.updated_dt = utcnow()
    session.flush()
    audit.record(session, actor, "caselist.mapping", object_type="unit", object_id=unit.id, unit=unit,
                 details={"fore": before, "efter": clean})


def create_api_token(session: Session, actor: User, unit: Unit, label: str) -> tuple[str, CaseListApiToken]:
    """A new API token for the unit; the token is returned once and only its hash is kept.
    Imports through it are recorded as made by ``actor``."""
    if not can(actor, Perm.MANAGE_CASELIST_SETTINGS, unit):
        raise PermissionDenied()
    label = " ".join((label or "").split())
    if not label or len(label) > 200:
        raise ValidationError("Ge nyckeln en beskrivning, t.ex. ”Nattlig export från Lifecare”.", "label")
    check_text(label, "Beskrivningen av nyckeln", "label")
    token = "kntr_" + secrets.token_urlsafe(32)
    row = CaseListApiToken(unit_id=unit.id, label=label, token_hash=token_hash(token), acting_user_id=actor.id,
                           created_by_id=actor.id, created_dt=utcnow())
    session.add(row)
    session.flush()
    audit.record(session, actor, "caselist.token_create", object_type="api_token", object_id=row.id, unit=unit,
                 details={"label": label})
    return token, row


def revoke_api_token(session: Session, actor: User, unit: Unit, token_id: int) -> None:
    if not can(actor, Perm.MANAGE_CASELIST_SETTINGS, unit):
        raise PermissionDenied()
    row = session.get(CaseListApiToken, token_id)
    if row is None or row.unit_id != unit.id:
        raise ValidationError("Nyckeln finns inte.")
    if row.revoked_dt is None:
        row.revoked_dt = utcnow()
        session.flush()
        audit.record(session, actor, "caselist.token_revoke", object_type="api_token", object_id=row.id, unit=unit)


def token_user(session: Session, unit: Unit, token: str) -> User | None:
    """The acting user for a valid, unrevoked API token of ``unit``; None otherwise."""
    if not token or len(token) > 200:
        return None
    row = session.scalar(select(CaseListApiToken).where(CaseListApiToken.token_hash == token_hash(token)))
    if row is None or row.unit_id != unit.id or row.revoked_dt is not None:
        return None
    user = row.acting_user
    if not user.is_active or not can(user, Perm.IMPORT_CASELIST, unit):
        return None
    row.last_used_dt = utcnow()
    return user
