"""Helpers for tests that drive the app through Flask's test client: the CSRF token of a
page, logging in, and posting a form with the session's token."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from kontroll.core.actions import CONFIRMED_FIELD
from tests.support.app import PASSWORD


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    page = client.get("/logga-in")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/logga-in", data={"username": username, "password": password, "csrf_token": token})


def post_form(client: FlaskClient, url: str, data: dict[str, Any], *, page: str = "/",
              confirmed: bool = True) -> Any:
    """POST with the session's CSRF token, read from ``page``; ``confirmed`` answers yes on an
    action's confirmation page at once (``confirmed=False`` posts as the first click does)."""
    token = csrf_from(client.get(page).get_data(as_text=True))
    extra = {CONFIRMED_FIELD: "ja"} if confirmed else {}
    return client.post(url, data={**data, **extra, "csrf_token": token})
