"""Configuration: defaults, then ``instance/config.py``, then ``KONTROLL_*`` environment variables."""

from __future__ import annotations

import json
import os
from typing import Any

from flask import Flask

#: Defaults. Every key can be set in instance/config.py or as KONTROLL_<KEY> in the environment.
DEFAULTS: dict[str, Any] = {
    # Database URL. Empty: a SQLite file in the instance folder.
    "DATABASE_URL": "",
    # Required outside tests: signs nothing secret by itself, but keys derived values.
    "SECRET_KEY": None,
    # Session lifetimes (seconds): idle timeout and absolute lifetime.
    "SESSION_IDLE_TIMEOUT": 30 * 60,
    "SESSION_ABSOLUTE_TIMEOUT": 10 * 60 * 60,
    # The session cookie (always HttpOnly: no script ever needs it).
    "SESSION_COOKIE_NAME": "kontroll_session",
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Failed logins before the account is locked, and for how long (seconds).
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCK_SECONDS": 15 * 60,
    # Failed logins from one client address within the window (seconds) before that address
    # is answered 429 until the window has passed (counted in the database: all workers agree).
    "LOGIN_ADDRESS_MAX_FAILURES": 30,
    "LOGIN_ADDRESS_WINDOW_SECONDS": 15 * 60,
    # Local accounts (username and password, optionally with a TOTP code). Turn off only when
    # single sign-on is configured: then the login page shows just the organisation's button.
    "LOCAL_LOGIN_ENABLED": True,
    # Single sign-on (OpenID Connect, e.g. Microsoft Entra ID). Empty metadata URL: off.
    # Use the tenant-specific URL, e.g.
    # https://login.microsoftonline.com/<tenant-id>/v2.0/.well-known/openid-configuration
    "OIDC_METADATA_URL": "",
    "OIDC_CLIENT_ID": "",
    "OIDC_CLIENT_SECRET": "",
    # When set, an id_token whose tid claim is another tenant is refused.
    "OIDC_TENANT_ID": "",
    # App roles (the id_token's roles claim) -> kontroll roles, e.g.
    # {"Kontroll.Revisor": {"role": "revisor"},
    #  "Kontroll.Sektionschef.IFO-FS": {"role": "sektionschef", "unit": "IFO-FS"}}.
    # Empty: SSO never changes roles. Set: roles that came from SSO follow the claim at each login.
    "OIDC_ROLE_MAP": {},
    # Create an unknown SSO user at first login (only if the role map gives them a role).
    "OIDC_AUTO_CREATE": False,
    "OIDC_SCOPES": "openid profile email",
    # Seconds to wait for the identity provider.
    "OIDC_TIMEOUT": 10,
    # Largest request body (bytes): case lists can be large.
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    # The largest case list (rows of cases); an XLSX's cells per sheet and shared strings. Checked
    # before the file is parsed, so an oversized file is refused in seconds.
    "IMPORT_MAX_ROWS": 500_000,
    "IMPORT_MAX_CELLS": 12_000_000,
    "IMPORT_MAX_SHARED_STRINGS": 2_000_000,
    # Time zone for dates shown to people and for scheduling.
    "TIMEZONE": "Europe/Stockholm",
    # Name of the organisation shown in the header.
    "ORGANISATION_NAME": "Socialförvaltningen",
    # SMTP for e-mail reminders; empty host: reminders only in the app.
    "SMTP_HOST": "",
    "SMTP_PORT": 25,
    "SMTP_FROM": "kontroll@localhost",
    # STARTTLS before anything else is sent (the server's certificate is checked against the
    # system's authorities, or the file SMTP_CA_FILE), and a login when SMTP_USERNAME is set.
    "SMTP_STARTTLS": False,
    "SMTP_CA_FILE": "",
    "SMTP_USERNAME": "",
    "SMTP_PASSWORD": "",
    # The address people use to reach kontroll, for links in e-mail (e.g. https://kontroll.kommun.se).
    "PUBLIC_URL": "",
    # Where the checklist templates (mallar) are; empty: the checklists/ folder beside the package.
    "CHECKLISTS_DIR": "",
    # The template id used for stickprov reviews; empty: the first template of kind stickprov.
    "STICKPROV_TEMPLATE": "",
    # A drawn case not signed by the end of this many months after its draw month is "försenad".
    "REVIEW_LATE_AFTER_MONTHS": 1,
    # The template id for genomgångar (empty: the first template of kind genomgång), and how
    # many förste socialsekreterare at least take part in one.
    "GENOMGANG_TEMPLATE": "",
    "GENOMGANG_MIN_PARTICIPANTS": 2,
    # The HMAC key of the audit log's hash chain, kept outside the database. Set it here or as
    # KONTROLL_AUDIT_KEY (at least 32 characters), or leave it empty to use AUDIT_KEY_FILE.
    "AUDIT_KEY": "",
    # File holding the audit key; empty: instance/audit.key, created (mode 600) if missing.
    # Every server writing to one database must have the same key; keep a copy apart from backups.
    "AUDIT_KEY_FILE": "",
    # Trust X-Forwarded-* from this many proxies (0: none).
    "PROXY_COUNT": 0,
}

_INT_KEYS = {k for k, v in DEFAULTS.items() if isinstance(v, int) and not isinstance(v, bool)}
_BOOL_KEYS = {k for k, v in DEFAULTS.items() if isinstance(v, bool)}


class ConfigError(RuntimeError):
    """Raised at start-up when the configuration cannot work."""


def _coerce(key: str, raw: str) -> Any:
    if key in _BOOL_KEYS:
        return raw.strip().lower() in {"1", "true", "yes", "ja", "on"}
    if key in _INT_KEYS:
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigError(f"KONTROLL_{key} must be a whole number, got {raw!r}") from exc
    if raw.startswith(("{", "[")):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    app.config.update(DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    for name, raw in os.environ.items():
        if name.startswith("KONTROLL_"):
            key = name.removeprefix("KONTROLL_")
            app.config[key] = _coerce(key, raw)
    if test_config is not None:
        app.config.update(test_config)

    if not app.config["DATABASE_URL"]:
        os.makedirs(app.instance_path, exist_ok=True)
        path = os.path.join(app.instance_path, "kontroll.sqlite")
        app.config["DATABASE_URL"] = f"sqlite:///{path}"

    if not app.config.get("SECRET_KEY"):
        if app.config.get("TESTING") or app.debug:
            app.config["SECRET_KEY"] = "insecure-development-key"
        else:
            raise ConfigError(
                "SECRET_KEY is not set. Set KONTROLL_SECRET_KEY in the environment or SECRET_KEY "
                f"in {os.path.join(app.instance_path, 'config.py')} to a long random value, "
                "for example the output of: python -c 'import secrets; print(secrets.token_hex(32))'"
            )
    app.config["AUDIT_KEY_BYTES"] = load_audit_key(app)
    if app.config["SESSION_IDLE_TIMEOUT"] <= 0 or app.config["SESSION_ABSOLUTE_TIMEOUT"] <= 0:
        raise ConfigError("SESSION_IDLE_TIMEOUT and SESSION_ABSOLUTE_TIMEOUT must be positive")
    from kontroll.core.sso import config_problem

    problem = config_problem(app.config)
    if problem:
        raise ConfigError(problem)


AUDIT_KEY_MIN_LENGTH = 32


def load_audit_key(app: Flask) -> bytes:
    """The audit log's HMAC key: ``AUDIT_KEY``, else the key file (created when missing)."""
    configured = app.config.get("AUDIT_KEY") or ""
    if configured:
        key = str(configured).strip()
        source = "AUDIT_KEY"
    else:
        path = app.config.get("AUDIT_KEY_FILE") or os.path.join(app.instance_path, "audit.key")
        key = _read_or_create_key_file(path)
        source = path
    if len(key) < AUDIT_KEY_MIN_LENGTH and not app.config.get("TESTING"):
        raise ConfigError(
            f"The audit key from {source} is shorter than {AUDIT_KEY_MIN_LENGTH} characters. Use a long "
            "random value, for example the output of: python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    return key.encode("utf-8")


def _read_or_create_key_file(path: str) -> str:
    """Read the key file; if there is none, create it atomically (several workers may race)."""
    import secrets

    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        temporary = f"{path}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        try:
            os.link(temporary, path)  # fails if another process got there first: then use theirs
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    with open(path, encoding="utf-8") as handle:
        return handle.read().strip()
