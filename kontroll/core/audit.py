"""The audit log: one function that every service calls to record what happened.

Entries are append-only. The canonical JSON of ``details`` (sorted keys, UTC ISO timestamps)
is what the hash chain of the hardening work will hash, so callers never change.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy.orm import Session

from kontroll.core.models import AuditEntry, Unit, User
from kontroll.db import utcnow


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def canonical_json(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_default)


def record(
    session: Session,
    actor: User | str | None,
    action: str,
    *,
    object_type: str | None = None,
    object_id: Any = None,
    unit: Unit | int | None = None,
    details: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEntry:
    """Append an entry to the audit log (flushes; the caller commits).

    ``actor`` is the acting user, or a label such as ``"system"`` for scheduled work.
    """
    if isinstance(actor, User):
        actor_id: int | None = actor.id
        label = actor.username
    else:
        actor_id = None
        label = actor or "okänd"
    unit_id = unit.id if isinstance(unit, Unit) else unit
    if ip_address is None:
        ip_address = _request_ip()
    entry = AuditEntry(
        occurred_dt=utcnow(),
        actor_user_id=actor_id,
        actor_label=label,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        unit_id=unit_id,
        details=canonical_json(details or {}),
        ip_address=ip_address,
    )
    session.add(entry)
    session.flush()
    return entry


def _request_ip() -> str | None:
    from flask import has_request_context, request

    if has_request_context():
        return request.remote_addr
    return None


#: Swedish descriptions of actions for the audit log page.
ACTION_LABELS: dict[str, str] = {
    "login.success": "Inloggning",
    "login.failure": "Misslyckad inloggning",
    "login.locked": "Inloggning nekad: kontot är spärrat",
    "login.inactive": "Inloggning nekad: kontot är avstängt",
    "logout": "Utloggning",
    "session.expired": "Sessionen gick ut",
    "user.create": "Användare skapad",
    "user.update": "Användare ändrad",
    "user.deactivate": "Användare avstängd",
    "user.activate": "Användare aktiverad",
    "user.password": "Lösenord satt",
    "user.unlock": "Konto upplåst",
    "role.add": "Roll tilldelad",
    "role.remove": "Roll borttagen",
    "unit.create": "Enhet skapad",
    "unit.update": "Enhet ändrad",
    "team.create": "Grupp skapad",
    "team.update": "Grupp ändrad",
    "demo.load": "Demodata laddade",
}
