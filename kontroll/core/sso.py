"""Single sign-on with OpenID Connect (Authlib), made for Microsoft Entra ID.

How a login goes:

1. ``begin``: Authlib builds the authorization URL with a random ``state``, ``nonce`` and a
   PKCE (S256) verifier. They are kept in the visitor's server-side session row
   (``user_sessions.pending_login``), never in a cookie, and are good for one round trip of
   at most ``PENDING_SECONDS``.
2. ``finish``: the callback's ``state`` must equal the stored one; the code is exchanged
   (with the PKCE verifier) and the id_token's signature (the provider's JWKS), issuer,
   audience, expiry and nonce are checked by Authlib.
3. ``sign_in``: the person is found by the pair ``tid`` + ``oid`` (tenant and immutable
   object id), never by e-mail or ``preferred_username``, which can be reassigned.

   - A linked user (a systemadministratör set tid/oid, or an earlier auto-creation) logs in.
   - An unknown person is created only when ``OIDC_AUTO_CREATE`` is on *and* the role map
     gives them at least one role; otherwise they are refused (``login.sso_unknown``) with the
     ids to give the systemadministratör.
   - An inactive user is refused.
   - With ``OIDC_ROLE_MAP`` set, role assignments that came from SSO (``source = 'sso'``)
     follow the ``roles`` claim at every login; assignments given by hand are never touched.

Services flush; the view commits.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.core import audit
from kontroll.core.errors import ValidationError
from kontroll.core.models import ORG_WIDE_ROLES, Role, RoleAssignment, Unit, User
from kontroll.db import utcnow

log = logging.getLogger(__name__)

SOURCE_SSO = "sso"
SOURCE_MANUAL = "manual"
#: how long a started SSO round trip may take (seconds)
PENDING_SECONDS = 10 * 60
#: clock skew allowed on the id_token's exp/iat (seconds)
LEEWAY = 60
CLIENT_NAME = "kontroll_oidc"

UNKNOWN_USER = "Ditt konto finns inte i kontroll. Kontakta systemadministratören."
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ID_RE = re.compile(r"^[A-Za-z0-9._:@|-]{1,64}$")


def is_enabled(config: Mapping[str, Any]) -> bool:
    return bool(config.get("OIDC_METADATA_URL"))


# --- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleTarget:
    role: Role
    unit_code: str | None


def parse_role_map(raw: Any) -> dict[str, RoleTarget]:
    """``OIDC_ROLE_MAP`` as {app role: RoleTarget}; ValueError (English) if malformed."""
    if not raw:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError("OIDC_ROLE_MAP must be a JSON object: {app role: {\"role\": ..., \"unit\": ...}}")
    result: dict[str, RoleTarget] = {}
    for app_role, spec in raw.items():
        if not isinstance(spec, Mapping) or "role" not in spec:
            raise ValueError(f"OIDC_ROLE_MAP[{app_role!r}] must be an object with a \"role\"")
        try:
            role = Role(str(spec["role"]).strip().lower())
        except ValueError:
            names = ", ".join(r.value for r in Role)
            raise ValueError(f"OIDC_ROLE_MAP[{app_role!r}]: unknown role {spec['role']!r} (one of {names})") from None
        unit = spec.get("unit")
        unit = str(unit).strip().upper() if unit else None
        if unit is None and role not in ORG_WIDE_ROLES:
            raise ValueError(f"OIDC_ROLE_MAP[{app_role!r}]: the role {role.value} needs a \"unit\" (a unit code)")
        result[str(app_role)] = RoleTarget(role, unit)
    return result


def config_problem(config: Mapping[str, Any]) -> str | None:
    """Why the login configuration cannot work (English, for start-up), or None."""
    if not is_enabled(config):
        if not config.get("LOCAL_LOGIN_ENABLED", True):
            return "LOCAL_LOGIN_ENABLED is off but OIDC_METADATA_URL is not set: nobody could log in."
        return None
    url = str(config["OIDC_METADATA_URL"])
    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        return "OIDC_METADATA_URL must be an https:// URL."
    if re.search(r"/(common|organizations|consumers)/", url):
        return ("OIDC_METADATA_URL must be tenant-specific (…/<tenant-id>/v2.0/.well-known/openid-configuration); "
                "/common/ and /organizations/ give an issuer that does not match the id_token.")
    if not config.get("OIDC_CLIENT_ID") or not config.get("OIDC_CLIENT_SECRET"):
        return "OIDC_METADATA_URL is set: OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are needed too."
    try:
        parse_role_map(config.get("OIDC_ROLE_MAP"))
    except ValueError as exc:
        return str(exc)
    return None


def provider_origin(config: Mapping[str, Any]) -> str:
    """scheme://host[:port] of the identity provider (that of the metadata URL; for Entra ID
    the authorization endpoint is on the same host)."""
    from urllib.parse import urlsplit

    parts = urlsplit(str(config.get("OIDC_METADATA_URL") or ""))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


# --- the OpenID Connect round trip ---------------------------------------------------------


class SSOError(Exception):
    """A refused or failed SSO login: ``reason`` for the audit log, ``message`` (Swedish)
    and ``status`` for the page."""

    def __init__(
        self,
        reason: str,
        message: str,
        status: int = 400,
        details: dict[str, Any] | None = None,
        *,
        audited: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message
        self.status = status
        self.details = details or {}
        #: the audit entry is written already (the view writes ``login.sso_failure`` otherwise)
        self.audited = audited


def client(app: Flask) -> Any:
    """The app's Authlib OpenID Connect client (created once per app)."""
    from authlib.integrations.flask_client import OAuth

    oauth = app.extensions.get("kontroll_oauth")
    if oauth is None:
        cfg = app.config
        oauth = OAuth(app)
        oauth.register(
            CLIENT_NAME,
            server_metadata_url=cfg["OIDC_METADATA_URL"],
            client_id=cfg["OIDC_CLIENT_ID"],
            client_secret=cfg["OIDC_CLIENT_SECRET"],
            client_kwargs={
                "scope": cfg.get("OIDC_SCOPES") or "openid profile email",
                "code_challenge_method": "S256",
                "default_timeout": int(cfg.get("OIDC_TIMEOUT") or 10),
            },
        )
        app.extensions["kontroll_oauth"] = oauth
    return oauth.create_client(CLIENT_NAME)


def begin(app: Flask, redirect_uri: str, next_url: str | None) -> tuple[str, dict[str, Any]]:
    """The provider's authorization URL and what to keep for the callback."""
    try:
        rv = client(app).create_authorization_url(redirect_uri)
    except Exception as exc:  # noqa: BLE001 - network, TLS, bad metadata: all mean "cannot reach"
        log.warning("SSO: cannot build the authorization URL: %s", exc)
        raise SSOError(
            "idp_unreachable",
            "Organisationens inloggningstjänst svarar inte just nu. Försök igen om en stund.",
            502,
        ) from None
    pending = {
        "kind": "oidc",
        "state": rv["state"],
        "nonce": rv["nonce"],
        "code_verifier": rv.get("code_verifier"),
        "redirect_uri": redirect_uri,
        "next": next_url,
        "since": time.time(),
    }
    return rv["url"], pending


def finish(app: Flask, args: Mapping[str, str], pending: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check the callback and return the id_token's validated claims."""
    import hmac

    state = args.get("state", "")
    if not pending or pending.get("kind") != "oidc" or not state:
        raise SSOError("state", _RETRY)
    if time.time() - float(pending.get("since", 0)) > PENDING_SECONDS:
        raise SSOError("state_expired", "Inloggningen tog för lång tid. Försök igen.")
    if not hmac.compare_digest(str(pending.get("state", "")), state[:200]):
        raise SSOError("state", _RETRY)
    if args.get("error"):
        log.info("SSO: the provider answered %s: %s", args.get("error"), args.get("error_description", "")[:300])
        raise SSOError(
            "idp_error",
            "Organisationens inloggningstjänst avbröt inloggningen. Försök igen, eller kontakta systemadministratören.",
            details={"fel": str(args.get("error"))[:100]},
        )
    code = args.get("code", "")
    if not code or len(code) > 4000:
        raise SSOError("no_code", _RETRY)
    oidc = client(app)
    try:
        token = oidc.fetch_access_token(
            redirect_uri=pending["redirect_uri"], code=code, state=state, code_verifier=pending.get("code_verifier")
        )
    except Exception as exc:  # noqa: BLE001 - refused code, network, a non-JSON answer
        log.warning("SSO: the token request failed: %s", exc)
        raise SSOError("token_request", _RETRY, details={"fel": type(exc).__name__}) from None
    if not isinstance(token, Mapping) or "id_token" not in token:
        raise SSOError("no_id_token", _RETRY)
    try:
        claims = oidc.parse_id_token(token, nonce=pending["nonce"], leeway=LEEWAY)
    except Exception as exc:  # noqa: BLE001 - signature, iss, aud, exp, nonce: Authlib/joserfc errors
        log.warning("SSO: id_token refused: %s", exc)
        raise SSOError("id_token", _RETRY, details={"fel": type(exc).__name__}) from None
    if claims is None:
        raise SSOError("no_id_token", _RETRY)
    return dict(claims)


_RETRY = "Inloggningen med organisationens konto kunde inte slutföras. Börja om från inloggningssidan."


# --- who is it, and what may they do -------------------------------------------------------


def normalise_id(value: Any) -> str | None:
    """A tid/oid as stored: GUIDs in lower case; None if it does not look like an id."""
    text = str(value or "").strip()
    if not ID_RE.fullmatch(text):
        return None
    return text.lower() if GUID_RE.fullmatch(text) else text


def find_user(session: Session, tid: str, oid: str) -> User | None:
    return session.scalar(select(User).where(User.oidc_tid == tid, User.oidc_oid == oid))


def desired_roles(session: Session, claims_roles: Any, role_map: Mapping[str, RoleTarget]) -> set[tuple[Role, Unit | None]]:
    """The (role, unit) pairs the ``roles`` claim maps to. Unknown units are logged and skipped."""
    if isinstance(claims_roles, str):
        claims_roles = [claims_roles]
    if not isinstance(claims_roles, Iterable):
        return set()
    wanted: set[tuple[Role, Unit | None]] = set()
    for app_role in claims_roles:
        target = role_map.get(str(app_role))
        if target is None:
            continue
        unit = None
        if target.unit_code:
            unit = session.scalar(select(Unit).where(Unit.code == target.unit_code))
            if unit is None:
                log.warning("SSO: OIDC_ROLE_MAP names the unit %s, which does not exist", target.unit_code)
                continue
        wanted.add((target.role, unit))
    return wanted


def sync_roles(session: Session, user: User, wanted: set[tuple[Role, Unit | None]]) -> list[str]:
    """Add and remove the user's SSO-given roles to match ``wanted``. Roles given by hand are
    never removed, and a wanted role the user already has by hand is left as it is.
    Returns a summary of the changes."""
    changes: list[str] = []
    wanted_keys = {(role, unit.id if unit else None): unit for role, unit in wanted}
    for assignment in list(user.role_assignments):
        key = (assignment.role, assignment.unit_id)
        if assignment.source == SOURCE_SSO and key not in wanted_keys:
            details = {"role": assignment.role.value, "unit": assignment.unit.code if assignment.unit else None,
                       "källa": "sso"}
            unit_id = assignment.unit_id
            user.role_assignments.remove(assignment)
            session.flush()
            audit.record(session, "sso", "role.remove", object_type="user", object_id=user.id, unit=unit_id,
                         details=details)
            changes.append(f"-{assignment.role.value}@{details['unit'] or '*'}")
    held = {(a.role, a.unit_id) for a in user.role_assignments}
    for (role, unit_id), unit in sorted(wanted_keys.items(), key=lambda kv: (kv[0][0].value, kv[0][1] or 0)):
        if (role, unit_id) in held:
            continue
        session.add(RoleAssignment(user=user, role=role, unit=unit, source=SOURCE_SSO))
        session.flush()
        audit.record(session, "sso", "role.add", object_type="user", object_id=user.id, unit=unit,
                     details={"role": role.value, "unit": unit.code if unit else None, "källa": "sso"})
        changes.append(f"+{role.value}@{unit.code if unit else '*'}")
    return changes


def sign_in(session: Session, claims: Mapping[str, Any], config: Mapping[str, Any]) -> User:
    """The user these validated claims belong to, created or refused as configured, with
    SSO roles synchronised and the login recorded. Raises SSOError. Flushes."""
    tid = normalise_id(claims.get("tid"))
    oid = normalise_id(claims.get("oid"))
    if tid is None or oid is None:
        raise SSOError("no_tid_oid", "Inloggningstjänsten skickade inte organisations- och användar-id "
                       "(tid och oid). Kontakta systemadministratören.", 403)
    expected_tenant = normalise_id(config.get("OIDC_TENANT_ID"))
    if config.get("OIDC_TENANT_ID") and tid != expected_tenant:
        raise SSOError("wrong_tenant", "Kontot hör till en annan organisation än den som får logga in i kontroll.",
                       403, details={"tid": tid})
    role_map = parse_role_map(config.get("OIDC_ROLE_MAP"))
    user = find_user(session, tid, oid)
    wanted = desired_roles(session, claims.get("roles"), role_map) if role_map else set()
    if user is None:
        if not (config.get("OIDC_AUTO_CREATE") and role_map and wanted):
            from kontroll.privacy.personnummer import contains_personnummer

            name = str(claims.get("preferred_username") or "")[:100]
            audit.record(session, None, "login.sso_unknown", details={
                "tid": tid, "oid": oid,
                "preferred_username": "(utelämnat: liknar ett personnummer)" if contains_personnummer(name) else name,
            })
            raise SSOError("unknown_user", UNKNOWN_USER, 403, details={"tid": tid, "oid": oid}, audited=True)
        user = _create_user(session, claims, tid, oid)
    if not user.is_active:
        audit.record(session, user, "login.inactive", object_type="user", object_id=user.id, details={"metod": "sso"})
        raise SSOError("inactive", "Kontot är avstängt. Kontakta systemadministratören.", 403, audited=True)
    if role_map:
        sync_roles(session, user, wanted)
    user.last_login_dt = utcnow()
    session.flush()
    audit.record(session, user, "login.success", object_type="user", object_id=user.id, details={"metod": "sso"})
    return user


def _create_user(session: Session, claims: Mapping[str, Any], tid: str, oid: str) -> User:
    from kontroll.core import users as user_svc

    full_name = str(claims.get("name") or "").strip() or " ".join(
        str(claims.get(k) or "").strip() for k in ("given_name", "family_name")
    ).strip()
    email = str(claims.get("email") or "").strip()
    email = email if user_svc.EMAIL_RE.match(email) and len(email) <= 254 else None
    username = _free_username(session, str(claims.get("preferred_username") or claims.get("email") or ""), oid)
    user = user_svc.create_user(
        session, "sso", username=username, full_name=(full_name or username)[:200], password=None, email=email
    )
    user.oidc_tid = tid
    user.oidc_oid = oid
    session.flush()
    audit.record(session, "sso", "user.sso_link", object_type="user", object_id=user.id,
                 details={"tid": tid, "oid": oid, "källa": "sso"})
    return user


def _free_username(session: Session, hint: str, oid: str) -> str:
    from kontroll.core import users as user_svc

    local = hint.split("@", 1)[0]
    ascii_only = unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode("ascii").lower()
    base = re.sub(r"[^a-z0-9._-]+", ".", ascii_only).strip("._-")[:56]
    if not user_svc.USERNAME_RE.match(base):
        base = "sso." + re.sub(r"[^a-z0-9]", "", oid.lower())[:12]
    candidate, n = base, 1
    while user_svc.get_user_by_username(session, candidate) is not None:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


# --- the administrator's link --------------------------------------------------------------


def link_user(session: Session, actor: User | str, user: User, tid: str | None, oid: str | None) -> None:
    """Link ``user`` to an organisation account (tid + oid). Flushes."""
    tid_n, oid_n = normalise_id(tid), normalise_id(oid)
    if tid_n is None:
        raise ValidationError("Ange organisationens id (tid), t.ex. 72f988bf-86f1-41af-91ab-2d7cd011db47.", "oidc_tid")
    if oid_n is None:
        raise ValidationError("Ange personens objekt-id (oid) i organisationens katalog.", "oidc_oid")
    other = find_user(session, tid_n, oid_n)
    if other is not None and other is not user:
        raise ValidationError(f"Organisationskontot är redan kopplat till {other.full_name} ({other.username}).",
                              "oidc_oid")
    before = {"tid": user.oidc_tid, "oid": user.oidc_oid}
    user.oidc_tid, user.oidc_oid = tid_n, oid_n
    session.flush()
    audit.record(session, actor, "user.sso_link", object_type="user", object_id=user.id,
                 details={"fore": before, "tid": tid_n, "oid": oid_n})


def unlink_user(session: Session, actor: User | str, user: User) -> None:
    if not user.is_sso_linked:
        raise ValidationError(f"{user.full_name} är inte kopplad till något organisationskonto.")
    details = {"tid": user.oidc_tid, "oid": user.oidc_oid}
    user.oidc_tid = user.oidc_oid = None
    session.flush()
    audit.record(session, actor, "user.sso_unlink", object_type="user", object_id=user.id, details=details)
