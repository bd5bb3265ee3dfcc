"""Authentication: argon2id passwords, login with per-account lockout, server-side sessions.

An account with TOTP turned on (kontroll.core.totp) logs in in two steps: a correct password
only earns the code step; the session starts once the code is right. Wrong codes count
toward the same lockout as wrong passwords, and a correct password does not reset the
count while the code is outstanding. Single sign-on (kontroll.core.sso) starts the same
kind of session.

The session cookie carries a random 256-bit token; the database keeps only its SHA-256, the
user, the CSRF token and the timestamps that decide idle and absolute expiry. Logging out,
expiry and deactivating a user delete the rows, so a copied cookie stops working at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from kontroll.core import audit
from kontroll.core.models import User, UserSession
from kontroll.db import utcnow

MIN_PASSWORD_LENGTH = 10


def make_hasher(time_cost: int = 3, memory_cost_kib: int = 65536, parallelism: int = 4) -> PasswordHasher:
    """argon2id with RFC 9106's low-memory profile by default (above OWASP's minimum)."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism)


_hasher = make_hasher()
# A hash to verify against when the username is unknown, so timing does not tell.
_dummy_hash: str | None = None


def configure_hasher(time_cost: int, memory_cost_kib: int, parallelism: int) -> None:
    global _hasher, _dummy_hash
    _hasher = make_hasher(time_cost, memory_cost_kib, parallelism)
    _dummy_hash = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_problem(password: str) -> str | None:
    """A Swedish reason why ``password`` is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Lösenordet måste ha minst {MIN_PASSWORD_LENGTH} tecken."
    if len(password) > 256:
        return "Lösenordet får ha högst 256 tecken."
    return None


def _verify(stored: str | None, password: str) -> bool:
    global _dummy_hash
    if stored is None:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash(secrets.token_hex(16))
        stored = _dummy_hash
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            pass
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass
class LoginResult:
    user: User | None
    message: str | None = None
    #: the password was right, and the account asks for a TOTP code before a session starts
    needs_totp: bool = False

    @property
    def ok(self) -> bool:
        return self.user is not None and self.message is None and not self.needs_totp


GENERIC_FAILURE = "Fel användarnamn eller lösenord."


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    max_failures: int,
    lock_seconds: int,
    now: dt.datetime | None = None,
) -> LoginResult:
    """Check a local login. Counts failures per account in the database and locks the
    account for ``lock_seconds`` after ``max_failures`` failures in a row. Every attempt is
    written to the audit log. Flushes; the caller commits."""
    now = now or utcnow()
    username = username.strip()
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None:
        _verify(None, password)
        audit.record(session, None, "login.failure", details={"username": username[:100], "reason": "unknown_user"})
        return LoginResult(None, GENERIC_FAILURE)

    if _is_locked(user, now):
        audit.record(session, user, "login.locked", object_type="user", object_id=user.id)
        return LoginResult(None, _locked_message(user, now))
    _expire_lock(user)

    if not _verify(user.password_hash, password):
        _count_failure(session, user, now, max_failures, lock_seconds, {"reason": "wrong_password"})
        return LoginResult(None, GENERIC_FAILURE)

    if not user.is_active:
        audit.record(session, user, "login.inactive", object_type="user", object_id=user.id)
        return LoginResult(None, INACTIVE)

    assert user.password_hash is not None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    if user.is_totp_enabled:
        # the failure count stays until the code is right: a known password gives no fresh guesses
        audit.record(session, user, "login.password_ok", object_type="user", object_id=user.id,
                     details={"nasta_steg": "totp"})
        return LoginResult(user, needs_totp=True)
    user.failed_login_count = 0
    user.locked_until_dt = None
    user.last_login_dt = now
    audit.record(session, user, "login.success", object_type="user", object_id=user.id,
                 details={"metod": "lösenord"})
    return LoginResult(user)


INACTIVE = "Kontot är avstängt. Kontakta systemadministratören."


def verify_totp_login(
    session: Session,
    user: User,
    code: str,
    *,
    secret_key: str,
    max_failures: int,
    lock_seconds: int,
    now: dt.datetime | None = None,
) -> LoginResult:
    """The second step for an account with TOTP, after a correct password. Wrong and reused
    codes count toward the lockout like wrong passwords. Flushes; the caller commits."""
    from kontroll.core import totp

    now = now or utcnow()
    if not user.is_active:
        audit.record(session, user, "login.inactive", object_type="user", object_id=user.id)
        return LoginResult(None, INACTIVE)
    if _is_locked(user, now):
        audit.record(session, user, "login.locked", object_type="user", object_id=user.id)
        return LoginResult(None, _locked_message(user, now))
    _expire_lock(user)
    if not user.is_totp_enabled:  # reset by an administrator meanwhile: start again
        return LoginResult(None, "Inloggningen avbröts. Logga in igen.")
    if not (code or "").strip():
        return LoginResult(None, totp.BAD_FORMAT)
    outcome, message = totp.check(session, user, code, secret_key, now)
    if outcome == "unreadable":
        audit.record(session, user, "login.failure", object_type="user", object_id=user.id,
                     details={"reason": "totp_unreadable"})
        return LoginResult(None, message)
    if outcome != "ok":
        _count_failure(session, user, now, max_failures, lock_seconds, {"reason": f"totp_{outcome}"})
        if _is_locked(user, now):
            return LoginResult(None, _locked_message(user, now))
        return LoginResult(None, message)
    user.failed_login_count = 0
    user.locked_until_dt = None
    user.last_login_dt = now
    audit.record(session, user, "login.success", object_type="user", object_id=user.id,
                 details={"metod": "lösenord+totp"})
    return LoginResult(user)


def _is_locked(user: User, now: dt.datetime) -> bool:
    return user.locked_until_dt is not None and user.locked_until_dt > now


def _expire_lock(user: User) -> None:
    if user.locked_until_dt is not None:
        # the lock has run out: start counting anew
        user.locked_until_dt = None
        user.failed_login_count = 0


def _locked_message(user: User, now: dt.datetime) -> str:
    assert user.locked_until_dt is not None
    minutes = max(1, int((user.locked_until_dt - now).total_seconds() + 59) // 60)
    return (
        "Kontot är tillfälligt spärrat efter för många misslyckade inloggningar. "
        f"Försök igen om {minutes} {'minut' if minutes == 1 else 'minuter'}, "
        "eller be systemadministratören låsa upp det."
    )


def _count_failure(
    session: Session, user: User, now: dt.datetime, max_failures: int, lock_seconds: int, details: dict
) -> None:
    """Count a failed attempt (atomically: two failures at once both count), lock the
    account at ``max_failures`` and write the audit entry."""
    session.execute(
        update(User).where(User.id == user.id).values(failed_login_count=User.failed_login_count + 1)
    )
    session.refresh(user, ["failed_login_count"])
    details = {**details, "failures": user.failed_login_count}
    if user.failed_login_count >= max_failures:
        user.locked_until_dt = now + dt.timedelta(seconds=lock_seconds)
        details["locked_until"] = user.locked_until_dt
    audit.record(session, user, "login.failure", object_type="user", object_id=user.id, details=details)


# --- server-side sessions -----------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def new_session_row(user: User | None, now: dt.datetime | None = None) -> tuple[str, UserSession]:
    """A new, not yet stored session row and its cookie token (shown once)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    row = UserSession(
        token_hash=token_hash(token),
        user_id=user.id if user else None,
        csrf_token=secrets.token_urlsafe(32),
        created_dt=now,
        last_seen_dt=now,
    )
    return token, row


def create_session(session: Session, user: User | None, now: dt.datetime | None = None) -> tuple[str, UserSession]:
    """A new stored session row; returns the cookie token (shown once) and the row."""
    token, row = new_session_row(user, now)
    session.add(row)
    session.flush()
    return token, row


@dataclass
class SessionLookup:
    row: UserSession | None
    expired: bool = False


def load_session(
    session: Session, token: str, *, idle_seconds: int, absolute_seconds: int, now: dt.datetime | None = None
) -> SessionLookup:
    """Find the live session for a cookie token. Expired sessions are deleted."""
    now = now or utcnow()
    if not token or len(token) > 200:
        return SessionLookup(None)
    row = session.scalar(select(UserSession).where(UserSession.token_hash == token_hash(token)))
    if row is None:
        return SessionLookup(None)
    idle_expired = now - row.last_seen_dt > dt.timedelta(seconds=idle_seconds)
    absolute_expired = now - row.created_dt > dt.timedelta(seconds=absolute_seconds)
    inactive = row.user is not None and not row.user.is_active
    if idle_expired or absolute_expired or inactive:
        if row.user_id is not None:
            audit.record(
                session,
                row.user,
                "session.expired",
                object_type="user",
                object_id=row.user_id,
                details={"reason": "inactive_user" if inactive else ("absolute" if absolute_expired else "idle")},
            )
        session.delete(row)
        session.flush()
        return SessionLookup(None, expired=row.user_id is not None)
    return SessionLookup(row)


def end_session(session: Session, row: UserSession) -> None:
    session.execute(delete(UserSession).where(UserSession.id == row.id))


def end_all_sessions(session: Session, user: User) -> int:
    result = session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    return result.rowcount or 0


def purge_expired_sessions(
    session: Session, *, idle_seconds: int, absolute_seconds: int, now: dt.datetime | None = None
) -> int:
    """Delete every session past its idle or absolute lifetime (a scheduled job)."""
    now = now or utcnow()
    result = session.execute(
        delete(UserSession).where(
            (UserSession.last_seen_dt < now - dt.timedelta(seconds=idle_seconds))
            | (UserSession.created_dt < now - dt.timedelta(seconds=absolute_seconds))
        )
    )
    return result.rowcount or 0
