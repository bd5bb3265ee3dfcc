"""TOTP (RFC 6238) as an optional second factor for local accounts.

- The secret is 160 random bits (base32), stored Fernet-encrypted with a key derived from
  SECRET_KEY (HKDF-SHA256). Changing SECRET_KEY makes stored secrets unreadable: those users
  then log in with their password and a systemadministratör resets their TOTP.
- Enrolling stores the secret with ``totp_enabled_dt`` NULL; it is shown until the user
  confirms it with a current code. Once enabled, it is never shown again.
- A code is accepted for the current 30-second step and one step either side (clock drift).
  The accepted step is stored, and an update that only succeeds for a later step makes a code
  usable once, also when two requests race.

Services flush; the caller commits.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import re

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from kontroll.core import audit
from kontroll.core.errors import ValidationError
from kontroll.core.models import User
from kontroll.db import utcnow

PERIOD = 30
DIGITS = 6
#: steps accepted either side of the current one
VALID_WINDOW = 1
ISSUER = "kontroll"

CODE_RE = re.compile(r"^[0-9]{6}$")
WRONG_CODE = "Koden stämmer inte. Kontrollera att klockan i din telefon går rätt och försök igen."
REUSED_CODE = "Koden har redan använts. Vänta på nästa kod i appen och försök igen."
BAD_FORMAT = "Ange den sexsiffriga koden från din app."
UNREADABLE = (
    "Tvåstegsverifieringen för kontot kan inte läsas (serverns nyckel har ändrats). "
    "Kontakta systemadministratören."
)


# --- the secret at rest ------------------------------------------------------------------


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"kontroll totp secret v1").derive(
        secret_key.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(secret: str, secret_key: str) -> str:
    return _fernet(secret_key).encrypt(secret.encode("ascii")).decode("ascii")


def decrypt_secret(token: str | None, secret_key: str) -> str | None:
    """The plain secret, or None when there is none or it cannot be decrypted."""
    if not token:
        return None
    try:
        return _fernet(secret_key).decrypt(token.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError, UnicodeError):
        return None


def grouped(secret: str) -> str:
    """The secret in groups of four, as people type it into an app."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(secret: str, account: str, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(name=account, issuer_name=issuer)


# --- codes -------------------------------------------------------------------------------


def normalise_code(raw: str | None) -> str | None:
    """Six digits, with spaces and dashes people type removed; None if it is not a code."""
    code = re.sub(r"[\s-]", "", raw or "")[:20]
    return code if CODE_RE.fullmatch(code) else None


def timestep(now: dt.datetime) -> int:
    return int(now.timestamp()) // PERIOD


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).generate_otp(step)


def match(secret: str, code: str, now: dt.datetime, last_step: int | None) -> tuple[str, int | None]:
    """("ok", step), ("reused", step) or ("wrong", None) for ``code`` at ``now``."""
    current = timestep(now)
    found: int | None = None
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(code_at(secret, step), code):
            found = step
    if found is None:
        return "wrong", None
    if last_step is not None and found <= last_step:
        return "reused", found
    return "ok", found


def claim_step(session: Session, user: User, step: int) -> bool:
    """Record ``step`` as used, atomically: False if it (or a later one) already was."""
    result = session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_timestep.is_(None), User.totp_last_timestep < step))
        .values(totp_last_timestep=step)
        .execution_options(synchronize_session=False)
    )
    if (result.rowcount or 0) != 1:
        return False
    session.refresh(user, ["totp_last_timestep"])
    return True


def check(
    session: Session, user: User, raw_code: str | None, secret_key: str, now: dt.datetime | None = None
) -> tuple[str, str | None]:
    """Check a code of an enabled or enrolling user and use it up when right.

    Returns (outcome, Swedish message): outcome is "ok", "format", "wrong", "reused" or
    "unreadable"; the message is None for "ok".
    """
    now = now or utcnow()
    code = normalise_code(raw_code)
    if code is None:
        return "format", BAD_FORMAT
    secret = decrypt_secret(user.totp_secret, secret_key)
    if secret is None:
        return "unreadable", UNREADABLE
    outcome, step = match(secret, code, now, user.totp_last_timestep)
    if outcome == "ok":
        assert step is not None
        if claim_step(session, user, step):
            return "ok", None
        outcome = "reused"
    return outcome, REUSED_CODE if outcome == "reused" else WRONG_CODE


# --- enrolment, disabling, reset ---------------------------------------------------------


def begin_enrolment(session: Session, user: User, secret_key: str) -> str:
    """The secret being enrolled (a new one if there is none yet). Flushes."""
    if user.is_totp_enabled:
        raise ValidationError("Tvåstegsverifiering är redan påslagen för ditt konto.")
    secret = decrypt_secret(user.totp_secret, secret_key)
    if secret is None:
        secret = pyotp.random_base32()  # 32 characters: 160 bits
        user.totp_secret = encrypt_secret(secret, secret_key)
        user.totp_enabled_dt = None
        user.totp_last_timestep = None
        session.flush()
    return secret


def confirm_enrolment(
    session: Session, user: User, raw_code: str | None, secret_key: str, now: dt.datetime | None = None
) -> None:
    """Turn TOTP on once the user shows a current code for the enrolled secret."""
    now = now or utcnow()
    if user.is_totp_enabled:
        raise ValidationError("Tvåstegsverifiering är redan påslagen för ditt konto.")
    if user.totp_secret is None:
        raise ValidationError("Börja om: ingen nyckel är skapad ännu.")
    outcome, message = check(session, user, raw_code, secret_key, now)
    if outcome != "ok":
        audit.record(session, user, "totp.failure", object_type="user", object_id=user.id,
                     details={"steg": "aktivering", "orsak": outcome})
        raise ValidationError(message or WRONG_CODE, "totp_code")
    user.totp_enabled_dt = now
    session.flush()
    audit.record(session, user, "totp.enable", object_type="user", object_id=user.id)


def disable(
    session: Session, user: User, raw_code: str | None, secret_key: str, now: dt.datetime | None = None
) -> None:
    """The user turns TOTP off; it takes a current code."""
    if not user.is_totp_enabled:
        raise ValidationError("Tvåstegsverifiering är inte påslagen för ditt konto.")
    outcome, message = check(session, user, raw_code, secret_key, now)
    if outcome != "ok":
        audit.record(session, user, "totp.failure", object_type="user", object_id=user.id,
                     details={"steg": "avstängning", "orsak": outcome})
        raise ValidationError(message or WRONG_CODE, "totp_code")
    _clear(user)
    session.flush()
    audit.record(session, user, "totp.disable", object_type="user", object_id=user.id)


def cancel_enrolment(session: Session, user: User) -> None:
    """Throw away a secret that was never confirmed (nothing to audit: it was never on)."""
    if not user.is_totp_enabled:
        _clear(user)
        session.flush()


def reset(session: Session, actor: User | str, user: User) -> None:
    """A systemadministratör turns a user's TOTP off (lost phone, changed SECRET_KEY)."""
    if user.totp_secret is None:
        raise ValidationError(f"{user.full_name} har ingen tvåstegsverifiering.")
    was_enabled = user.is_totp_enabled
    _clear(user)
    session.flush()
    audit.record(session, actor, "totp.reset", object_type="user", object_id=user.id,
                 details={"var_pasla": was_enabled})


def _clear(user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_dt = None
    user.totp_last_timestep = None
