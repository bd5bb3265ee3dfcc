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
import hmac
import secrets
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from kontroll.core import audit
from kontroll.core.models import LoginAttempts, User, UserSession
from kontroll.db import insert_once, utcnow

MIN_PASSWORD_LENGTH = 12
#: at least 10^9 guesses by zxcvbn's estimate (above its score 3, "safely unguessable"), with
#: Swedish words and the person's own names among its dictionaries
MIN_PASSWORD_GUESSES_LOG10 = 9.0


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


@lru_cache(maxsize=1)
def swedish_words() -> tuple[str, ...]:
    """Common Swedish words and passwords (kontroll/core/data/svenska_ord.txt) that zxcvbn
    treats as a dictionary of its own, beside its English ones."""
    text = resources.files("kontroll.core").joinpath("data/svenska_ord.txt").read_text(encoding="utf-8")
    return tuple(w for line in text.splitlines() if (w := line.strip()) and not w.startswith("#"))


def password_problem(password: str, personal: tuple[str, ...] = ()) -> str | None:
    """A Swedish reason why ``password`` is not acceptable, or None.

    At least MIN_PASSWORD_LENGTH characters, and not guessable: zxcvbn (with common Swedish
    words and the person's own name, username and signature as dictionaries) must estimate
    at least 10^MIN_PASSWORD_GUESSES_LOG10 guesses."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Lösenordet måste ha minst {MIN_PASSWORD_LENGTH} tecken."
    if len(password) > 256:
        return "Lösenordet får ha högst 256 tecken."
    from zxcvbn import zxcvbn

    words = [w for p in personal if p for w in (p, *p.replace(".", " ").replace("-", " ").split())]
    # zxcvbn scores at most 72 characters (its cost grows fast with length); more is long enough
    result = zxcvbn(password[:72], user_inputs=[*swedish_words(), *words])
    if result["guesses_log10"] < MIN_PASSWORD_GUESSES_LOG10:
        return ("Lösenordet är för lätt att gissa: det liknar vanliga ord, namn, årtal eller mönster. "
                "Välj något längre, till exempel fyra ord som inte hör ihop.")
    return None


def password_matches(stored: str, password: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (a logged-in user confirming it)."""
    return _verify(stored, password)


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


#: the one answer to an unknown username, a wrong password and a locked account alike
GENERIC_FAILURE = ("Fel användarnamn eller lösenord – eller så är kontot tillfälligt spärrat efter för många "
                   "misslyckade försök. Kontrollera uppgifterna och försök igen om en stund, eller be "
                   "systemadministratören om hjälp.")


def keyed_hash(secret: str, value: str) -> str:
    """HMAC-SHA256 of ``value`` keyed with the application's secret: lets failed logins for one
    typed name or address be counted and followed without storing what was typed."""
    return hmac.new(secret.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()


def _count_attempt(session: Session, kind: str, key: str, now: dt.datetime, window_seconds: int) -> int:
    """Count one failure for ``(kind, key)`` in a window of ``window_seconds`` (atomic, also
    when two workers fail at once); returns the failures in the current window."""
    where = (LoginAttempts.kind == kind, LoginAttempts.key_hash == key)
    if session.scalar(select(LoginAttempts.id).where(*where)) is None:
        # the same name or address may fail at the same moment in another request
        insert_once(session, LoginAttempts(kind=kind, key_hash=key, failures=0, window_start_dt=now),
                    lambda: session.scalar(select(LoginAttempts.id).where(*where)))
    cut = now - dt.timedelta(seconds=window_seconds)
    session.execute(update(LoginAttempts).where(*where, LoginAttempts.window_start_dt < cut)
                    .values(failures=0, window_start_dt=now))
    session.execute(update(LoginAttempts).where(*where).values(failures=LoginAttempts.failures + 1))
    return session.scalar(select(LoginAttempts.failures).where(*where)) or 0


@dataclass(frozen=True)
class AddressThrottle:
    """At most ``max_failures`` failed logins from one client address in ``window_seconds``;
    after that the address is answered 429 until the window has passed."""

    secret: str
    max_failures: int
    window_seconds: int

    def retry_after(self, session: Session, address: str | None, now: dt.datetime | None = None) -> int | None:
        """Seconds to wait, when ``address`` has used up its failures; else None."""
        if not address or self.max_failures <= 0:
            return None
        now = now or utcnow()
        row = session.execute(
            select(LoginAttempts.failures, LoginAttempts.window_start_dt)
            .where(LoginAttempts.kind == "adress", LoginAttempts.key_hash == keyed_hash(self.secret, address))
        ).first()
        if row is None or row[0] < self.max_failures:
            return None
        left = (row[1] + dt.timedelta(seconds=self.window_seconds) - now).total_seconds()
        return int(left) + 1 if left > 0 else None

    def count(self, session: Session, address: str | None, now: dt.datetime) -> None:
        if address and self.max_failures > 0:
            _count_attempt(session, "adress", keyed_hash(self.secret, address), now, self.window_seconds)


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    max_failures: int,
    lock_seconds: int,
    now: dt.datetime | None = None,
    secret: str = "",
    address: str | None = None,
    throttle: AddressThrottle | None = None,
) -> LoginResult:
    """Check a local login. Counts failures per account in the database and locks the
    account for ``lock_seconds`` after ``max_failures`` failures in a row. An unknown name, a
    wrong password and a locked account get the same answer after the same work (a password
    hash is verified in every case); failures for unknown names are counted by the name's
    keyed hash, and every failure by the client address (``throttle``). Every attempt is
    written to the audit log, never with the typed name of an unknown account. Flushes; the
    caller commits."""
    now = now or utcnow()
    username = username.strip()
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None:
        _verify(None, password)
        name_hash = keyed_hash(secret, username.lower())
        failures = _count_attempt(session, "namn", name_hash, now, lock_seconds)
        if throttle is not None:
            throttle.count(session, address, now)
        audit.record(session, None, "login.failure",
                     details={"reason": "unknown_user", "namn_hash": name_hash[:16], "failures": failures})
        return LoginResult(None, GENERIC_FAILURE)

    if _is_locked(user, now):
        _verify(user.password_hash, password)  # the same work as for a wrong password
        if throttle is not None:
            throttle.count(session, address, now)
        audit.record(session, user, "login.locked", object_type="user", object_id=user.id)
        return LoginResult(None, GENERIC_FAILURE)
    _expire_lock(user)

    if not _verify(user.password_hash, password):
        _count_failure(session, user, now, max_failures, lock_seconds, {"reason": "wrong_password"})
        if throttle is not None:
            throttle.count(session, address, now)
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
    #: for a login session that just expired: whose it was, and its CSRF token (a form that
    #: arrives with both that cookie and that token was typed by that user in that session)
    expired_user_id: int | None = None
    expired_csrf_token: str | None = None


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
        user_id, csrf = row.user_id, row.csrf_token
        session.delete(row)
        session.flush()
        return SessionLookup(None, expired=user_id is not None, expired_user_id=user_id, expired_csrf_token=csrf)
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
