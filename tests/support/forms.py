"""Helpers for tests that post the application's forms as a browser would: log in as a user
(also through two-step verification), build a route's path, and tell a refusal from success."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kontroll.core import auth
from kontroll.core import users as user_svc
from kontroll.core.models import UserSession
from kontroll.db import get_database
from tests.support.app import PASSWORD
from tests.support.web import csrf_from


def post_rule(app: Flask, endpoint: str) -> str:
    rules = [r for r in app.url_map.iter_rules(endpoint) if "POST" in (r.methods or ())]
    assert len(rules) == 1, endpoint
    return rules[0].rule


def build_path(rule: str, params: dict[str, str]) -> str:
    return re.sub(r"<(?:[a-z]+:)?(\w+)>", lambda m: quote(params[m.group(1)], safe=""), rule)


def session_row(app: Flask, client: FlaskClient) -> UserSession | None:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    if cookie is None:
        return None
    with get_database(app).session_scope() as db:
        return db.scalar(select(UserSession).where(UserSession.token_hash == auth.token_hash(cookie.value)))


def repair_user(app: Flask, username: str) -> None:
    """Let ``username`` log in again (an earlier example may have changed their password,
    locked or deactivated them: that is the form working, not a failure)."""
    with get_database(app).session_scope() as db:
        user = user_svc.get_user_by_username(db, username)
        user.password_hash = auth.hash_password(PASSWORD)
        user.failed_login_count = 0
        user.locked_until_dt = None
        user.is_active = True


def login_as(app: Flask, client: FlaskClient, username: str, scene: Any) -> str:
    """Make ``client`` logged in as ``username``; the session's CSRF token."""
    row = session_row(app, client)
    if row is not None and row.user_id == scene.users[username]:
        return row.csrf_token
    client.delete_cookie(app.config["SESSION_COOKIE_NAME"])  # forget whoever was logged in
    for _attempt in range(2):
        token = csrf_from(client.get("/logga-in").get_data(as_text=True))
        resp = client.post("/logga-in", data={"username": username, "password": PASSWORD, "csrf_token": token})
        if resp.status_code == 302 and resp.headers["Location"].endswith("/logga-in/kod"):
            with get_database(app).session_scope() as db:  # an earlier login used this time step's code
                user_svc.get_user_by_username(db, username).totp_last_timestep = None
            code = pyotp.TOTP(scene.totp_secrets[username]).now()
            resp = client.post("/logga-in/kod", data={"totp_code": code, "csrf_token": session_row(app, client).csrf_token})
        if resp.status_code == 302 and not resp.headers["Location"].endswith("/logga-in?avbruten=1"):
            break
        repair_user(app, username)
    else:
        raise AssertionError(f"cannot log in as {username}")
    row = session_row(app, client)
    assert row is not None and row.user_id == scene.users[username]
    return row.csrf_token


def error_flash_queued(app: Flask) -> bool:
    """Whether a flash message of category "error" waits in some session (a refusal that
    redirects says so with one)."""
    engine = get_database(app).engine.execution_options(kontroll_autocommit=True)
    from kontroll.core.models import UserSession

    with engine.connect() as conn:
        for (flashes,) in conn.execute(select(UserSession.flashes).where(UserSession.flashes.is_not(None))):
            if any(cat == "error" for cat, _msg in json.loads(flashes)):
                return True
    return False


def is_refusal(app: Flask, status: int, html: str) -> bool:
    if status >= 400:
        return True
    if status == 200:
        return 'id="felmeddelande"' in html
    if 300 <= status < 400:
        return error_flash_queued(app)
    return False


def clear_flashes(app: Flask) -> None:
    with get_database(app).session_scope() as db:
        db.execute(UserSession.__table__.update().values(flashes=None))
