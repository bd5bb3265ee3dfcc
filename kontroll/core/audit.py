"""The audit log: one function that every service calls to record what happened, and the
hash chain that makes the log tamper-evident.

``record()`` only queues an entry on the session. When the session commits, the queued
entries are appended to the chain in one short critical section at the very end of the
transaction (after every other change has been flushed, so the lock is never held while
waiting for another row): on PostgreSQL a transaction-scoped advisory lock serialises the
appends; on SQLite every transaction already begins with ``BEGIN IMMEDIATE``. A unique
constraint on ``prev_hash`` is the last guard: a forked chain cannot be stored.

Each entry stores ``prev_hash`` (the previous entry's ``entry_hash``; 64 zeros for the first)
and ``entry_hash = HMAC-SHA256(key, prev_hash + "\n" + canonical text)``, where the canonical
text is the sorted-key JSON of the stored fields with the timestamp in UTC ISO form
(:func:`entry_text`). The key is kept outside the database (``AUDIT_KEY`` or the file
``AUDIT_KEY_FILE``, see :func:`kontroll.config.load_audit_key`), so someone who can write to
the database cannot forge a chain that :func:`verify_chain` accepts. The database refuses
UPDATE and DELETE on the table (triggers, migration 0007).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, event, func, or_, select, text
from sqlalchemy.orm import Session

from kontroll.core.models import AuditEntry, Unit, User
from kontroll.db import utcnow

GENESIS_HASH = "0" * 64
#: Session.info keys: the queued entries, and the HMAC key (set by kontroll.db.Database).
PENDING_KEY = "kontroll_audit_pending"
KEY_INFO = "kontroll_audit_key"
#: The advisory lock that serialises appends on PostgreSQL (any constant bigint).
ADVISORY_LOCK_ID = 0x6B6F6E74726F6C  # "kontrol"


class AuditKeyMissing(RuntimeError):
    """A session without the audit key tried to commit audit entries."""


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
    """Queue an entry for the audit log; it is chained and stored when the session commits.

    ``actor`` is the acting user, or a label such as ``"system"`` for scheduled work. If the
    transaction rolls back, the entry is dropped with everything else it did.
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
        # microseconds are what both databases keep, so the stored value hashes the same
        occurred_dt=utcnow(),
        actor_user_id=actor_id,
        actor_label=label[:200],
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id)[:64],
        unit_id=unit_id,
        details=canonical_json(details or {}),
        ip_address=ip_address[:64] if ip_address else ip_address,
    )
    if not session.in_transaction():
        session.begin()  # so that a rollback (which then fires after_soft_rollback) drops the entry
    session.info.setdefault(PENDING_KEY, []).append(entry)
    return entry


def record_view(
    session: Session, actor: User, action: str, *, object_type: str, object_id: Any, unit: Unit | int | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record that ``actor`` looked at a case-level page, and commit at once.

    Case-level pages show information under socialtjänstsekretess; who saw what is part of
    the audit trail (docs/architecture.md). A GET view calls this after its permission checks.
    """
    record(session, actor, action, object_type=object_type, object_id=object_id, unit=unit, details=details)
    session.commit()


def entry_text(entry: AuditEntry) -> str:
    """The canonical text of an entry that its hash covers (sorted keys, UTC ISO timestamp)."""
    occurred = entry.occurred_dt.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")
    return canonical_json(
        {
            "action": entry.action,
            "actor_label": entry.actor_label,
            "actor_user_id": entry.actor_user_id,
            "details": entry.details,
            "ip_address": entry.ip_address,
            "object_id": entry.object_id,
            "object_type": entry.object_type,
            "occurred": occurred,
            "unit_id": entry.unit_id,
        }
    )


def entry_hash(key: bytes, prev_hash: str, entry: AuditEntry) -> str:
    message = (prev_hash + "\n" + entry_text(entry)).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    pending: list[AuditEntry] | None = session.info.pop(PENDING_KEY, None)
    if not pending:
        return
    key = session.info.get(KEY_INFO)
    if not key:
        raise AuditKeyMissing("the session has no audit key; create sessions through kontroll.db.Database")
    session.flush()  # everything else first: the lock below is held only for the appends
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": ADVISORY_LOCK_ID})
    prev = session.scalar(select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)) or GENESIS_HASH
    for entry in pending:
        entry.prev_hash = prev
        entry.entry_hash = prev = entry_hash(key, prev, entry)
        session.add(entry)
    session.flush()


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(PENDING_KEY, None)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    count: int
    broken_id: int | None = None
    reason: str = ""
    last_hash: str = GENESIS_HASH
    #: entries whose text was replaced by a sealed redaction (``kontroll privacy redact``)
    redacted: tuple[int, ...] = ()

    def message(self) -> str:
        if self.ok:
            text = f"Obruten kedja: {self.count} poster"
            if self.redacted:
                n = len(self.redacted)
                text += (f" (varav {n} {'maskerad' if n == 1 else 'maskerade'} med en förseglad maskering: "
                         f"post {', '.join(map(str, self.redacted))})")
            return text
        return f"Kedjan är bruten vid post {self.broken_id}: {self.reason}"


def _sealed_redactions(session: Session, key: bytes) -> dict[int, str]:
    """Audit entries whose text a sealed redaction replaced: entry id -> SHA-256 of the text
    the redaction left. A redaction record that does not carry a valid seal (the audit key's
    HMAC) explains nothing: anyone without the key could have written it."""
    from kontroll.privacy.models import Redaction

    out: dict[int, str] = {}
    for r in session.scalars(select(Redaction).where(Redaction.table_name == "audit_entries",
                                                     Redaction.applied.is_(True)).order_by(Redaction.id)):
        if r.is_sealed(key) and r.text_sha256_after:
            out[r.row_id] = r.text_sha256_after
    return out


def entry_text_sha256(entry: AuditEntry) -> str:
    return hashlib.sha256(entry_text(entry).encode("utf-8")).hexdigest()


def verify_chain(session: Session, key: bytes, *, batch: int = 2000) -> ChainReport:
    """Walk the whole chain in id order; report the first entry that does not hold."""
    prev = GENESIS_HASH
    count = 0
    last_id = 0
    redactions = _sealed_redactions(session, key)
    redacted: list[int] = []
    while True:
        rows = list(
            session.scalars(select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch))
        )
        if not rows:
            return ChainReport(ok=True, count=count, last_hash=prev, redacted=tuple(redacted))
        for entry in rows:
            if entry.prev_hash != prev:
                return ChainReport(
                    ok=False, count=count, broken_id=entry.id, last_hash=prev,
                    reason="föregående hash stämmer inte (en post före den har tagits bort, lagts till eller flyttats)",
                )
            if not hmac.compare_digest(entry.entry_hash or "", entry_hash(key, prev, entry)):
                after = redactions.get(entry.id)
                if after is not None and hmac.compare_digest(after, entry_text_sha256(entry)):
                    # its text was redacted under seal; its stored hash still links the chain
                    redacted.append(entry.id)
                    prev = entry.entry_hash
                    count += 1
                    last_id = entry.id
                    continue
                return ChainReport(
                    ok=False, count=count, broken_id=entry.id, last_hash=prev,
                    reason="postens hash stämmer inte med dess innehåll (posten har ändrats, eller fel nyckel)",
                )
            prev = entry.entry_hash
            count += 1
            last_id = entry.id
        for entry in rows:
            session.expunge(entry)


@dataclass(frozen=True)
class LogSearch:
    """What the audit log page asks for. Empty fields do not narrow; dates are local days,
    both ends included; ``obj`` is a case reference or "typ nummer" as the page shows it
    (``draw 12``)."""

    action: str = ""
    actor: str = ""
    unit_id: int | None = None
    obj: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    #: the reader sees only these units' entries (None: the whole log)
    within_units: list[int] | None = None

    def query(self, tz: dt.tzinfo) -> Select[tuple[AuditEntry]]:
        query = select(AuditEntry)
        if self.within_units is not None:
            query = query.where(AuditEntry.unit_id.in_(self.within_units))
        if self.action:
            query = query.where(AuditEntry.action == self.action)
        if self.actor:
            query = query.where(func.lower(AuditEntry.actor_label) == self.actor.lower())
        if self.unit_id is not None:
            query = query.where(AuditEntry.unit_id == self.unit_id)
        if self.obj:
            # an object by its id ("draw 12"), or a case reference anywhere: the entry's object, or
            # a value in its details ("case": …, "cases": […]), quoted as the details store it
            kind, _, ident = self.obj.partition(" ")
            query = query.where(
                or_(AuditEntry.object_id == self.obj[:64],
                    and_(AuditEntry.object_type == kind, AuditEntry.object_id == ident.strip()[:64]),
                    AuditEntry.details.contains(json.dumps(self.obj, ensure_ascii=False), autoescape=True))
            )
        if self.date_from:
            query = query.where(AuditEntry.occurred_dt >= dt.datetime.combine(self.date_from, dt.time(), tz))
        if self.date_to:
            end = dt.datetime.combine(self.date_to + dt.timedelta(days=1), dt.time(), tz)
            query = query.where(AuditEntry.occurred_dt < end)
        return query


def search_count(session: Session, search: LogSearch, tz: dt.tzinfo) -> int:
    return session.scalar(select(func.count()).select_from(search.query(tz).subquery())) or 0


def search_entries(session: Session, search: LogSearch, tz: dt.tzinfo, *, offset: int, limit: int) -> list[AuditEntry]:
    """The matching entries, newest first."""
    return list(session.scalars(search.query(tz).order_by(AuditEntry.id.desc()).offset(offset).limit(limit)))


def _request_ip() -> str | None:
    from flask import has_request_context, request

    if has_request_context():
        return request.remote_addr
    return None


#: Swedish descriptions of actions for the audit log page.
ACTION_LABELS: dict[str, str] = {
    "login.success": "Inloggning",
    "user.password_own": "Bytte sitt eget lösenord",
    "login.failure": "Misslyckad inloggning",
    "login.locked": "Inloggning nekad: kontot är spärrat",
    "login.inactive": "Inloggning nekad: kontot är avstängt",
    "login.password_ok": "Lösenord godkänt, väntar på kod (tvåstegsverifiering)",
    "login.sso_unknown": "Inloggning nekad: organisationskontot finns inte i kontroll",
    "login.sso_failure": "Misslyckad inloggning med organisationens konto",
    "totp.enable": "Tvåstegsverifiering påslagen",
    "totp.disable": "Tvåstegsverifiering avstängd",
    "totp.reset": "Tvåstegsverifiering återställd av administratör",
    "totp.failure": "Fel kod vid ändring av tvåstegsverifiering",
    "user.sso_link": "Användare kopplad till organisationskonto",
    "user.sso_unlink": "Koppling till organisationskonto borttagen",
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
    "caselist.import": "Ärendelista importerad",
    "caselist.mapping": "Kolumnmappning för ärendelistor ändrad",
    "caselist.token_create": "API-nyckel för ärendelistor skapad",
    "caselist.token_revoke": "API-nyckel för ärendelistor återkallad",
    "caselist.view": "Visade ärendelista",
    "caselist.preview": "Förhandsgranskade ärendelista (inte sparad)",
    "draw.create": "Stickprov draget",
    "draw.redraw": "Stickprov draget om",
    "draw.assign": "Granskare utsedd",
    "draw.verify": "Stickprov kontrollerat (omräkning)",
    "draw.view": "Visade stickprov",
    "draw.page_view": "Visade stickprovssidan med ändringar i ärendelistan",
    "case.view": "Visade ärende",
    "template.freeze": "Mallversion låst",
    "review.create": "Granskning påbörjad",
    "review.save": "Granskning sparad (utkast)",
    "review.sign": "Granskning klarmarkerad",
    "review.feedback": "Återkoppling given",
    "review.view": "Visade granskning",
    "review.list_view": "Visade Mina granskningar",
    "review.overview_view": "Visade månadens granskningar",
    "feedback.view": "Visade återkoppling på egna ärenden",
    "brist.list_view": "Visade brister",
    "atgard.view": "Visade åtgärd",
    "genomgang.view": "Visade genomgång",
    "privacy.redact": "Personnummer maskerat",
    "atgard.create": "Åtgärd skapad",
    "atgard.done": "Åtgärd markerad som genomförd",
    "atgard.verify": "Åtgärd kontrollerad",
    "genomgang.plan": "Genomgång planerad",
    "genomgang.unplan": "Planerad genomgång borttagen",
    "genomgang.start": "Genomgång startad",
    "genomgang.result": "Genomgångsresultat registrerat",
    "genomgang.feedback": "Återkoppling från genomgång",
    "genomgang.close": "Genomgång avslutad",
    "genomgang.cases_view": "Visade genomgångens ärenden",
    "genomgang.case_view": "Visade ärende i genomgång",
    "assessment.signed": "Bedömning för nämnden signerad",
    "backup.create": "Säkerhetskopia gjord",
    "backup.restore": "Databasen återställd från säkerhetskopia",
}


# --- the log in words ---------------------------------------------------------------------------

#: what an object is called on the log page
OBJECT_LABELS: dict[str, str] = {
    "api_token": "API-nyckel", "assessment": "Bedömning", "atgard": "Åtgärd", "case": "Ärende",
    "case_list_snapshot": "Ärendelista", "database": "Databas", "draw": "Stickprov", "drawn_case": "Draget ärende",
    "genomgang": "Genomgång", "period": "Månad", "review": "Granskning", "team": "Grupp",
    "template_version": "Mallversion", "unit": "Enhet", "user": "Användare",
}

#: Swedish labels of the details' keys; a key without a label is shown as it is stored
DETAIL_LABELS: dict[str, str] = {
    "areas": "Områden", "brister": "Brister", "case": "Ärende", "case_system_id": "Signatur", "cases": "Ärenden",
    "changed": "Ändrat", "code": "Kod", "confirming_review": "Bekräftande granskning", "count": "Antal",
    "due_date": "Klart senast", "efter": "Efter", "failures": "Misslyckade försök", "fel": "Fel",
    "filename": "Fil", "fore": "Före", "given_on": "Datum", "handlaggare": "Handläggare", "kolumn": "Kolumn",
    "label": "Namn", "lead": "Gruppledare", "maskering": "Maskering", "method": "Sätt", "metod": "Metod",
    "name": "Namn", "nasta_steg": "Nästa steg", "note": "Anteckning", "ok": "Stämmer", "orsak": "Orsak",
    "override_rule": "Undantag från regel", "owner": "Ansvarig", "planned_on": "Planerad till", "rad": "Rad",
    "reason": "Motivering", "result": "Resultat", "reviewer": "Granskare", "role": "Roll", "rows": "Rader",
    "sessions_ended": "Avslutade sessioner", "snapshot": "Ärendelista", "snapshot_id": "Ärendelista",
    "snapshot_sha256": "Kontrollsumma för listan", "source": "Källa", "steg": "Steg", "supersedes": "Ersätter",
    "tabell": "Tabell", "team": "Grupp", "template": "Mall", "template_version": "Mallversion", "tid": "Tid",
    "unit": "Enhet", "units": "Enheter", "username": "Användarnamn", "users": "Användare",
    "var_pasla": "Var påslagen", "version": "Version", "year": "År", "period": "Månad", "seed": "Slumptal",
    "replaces": "Ersätter", "override_reason": "Motivering till undantag", "answered": "Besvarade frågor",
    "verified_note": "Verifiering", "given_to": "Till", "participants": "Deltagare", "planned": "Planerad",
}

#: the longest list shown whole; longer ones show their start and how many there are
LIST_SHOWN = 12


def object_words(entry: AuditEntry, details: dict[str, Any]) -> str:
    """The entry's object by name: "Granskning av EB-2025-017287", "Genomgång 4", "Ärende EB-1"."""
    if not entry.object_type:
        return ""
    label = OBJECT_LABELS.get(entry.object_type, entry.object_type)
    case = details.get("case")
    if entry.object_type in ("review", "drawn_case") and isinstance(case, str):
        return f"{label} av {case}"
    return f"{label} {entry.object_id or ''}".strip()


def detail_words(details: dict[str, Any], value_words: dict[str, dict[str, str]]) -> list[tuple[str, str]]:
    """(label, value) for each detail worth showing, in Swedish: yes/no for truth values, the
    feature's words for its coded values (``value_words[key][value]``), lists joined, nothing
    for an empty value."""
    out: list[tuple[str, str]] = []
    for key, value in details.items():
        if value is None or value == [] or value == "":
            continue
        words = value_words.get(key, {})
        if isinstance(value, bool):
            text = "ja" if value else "nej"
        elif isinstance(value, list):
            shown = [words.get(str(v), str(v)) for v in value[:LIST_SHOWN]]
            text = ", ".join(shown) + (f" … ({len(value)} i allt)" if len(value) > LIST_SHOWN else "")
        elif isinstance(value, dict):
            text = ", ".join(f"{DETAIL_LABELS.get(k, k)} {v}" for k, v in value.items())
        else:
            text = words.get(str(value), str(value))
        out.append((DETAIL_LABELS.get(key, key), text))
    return out
