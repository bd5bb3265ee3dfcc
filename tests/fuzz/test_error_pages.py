"""Regressions found by the fuzz tests, kept as plain tests: the 500 page for a logged-in user,
JSON errors under /api/, ids beyond the integer columns, non-ASCII CSRF tokens, NUL."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kontroll.core.web import form_id
from tests.support.web import csrf_from, login

pytestmark = pytest.mark.fuzz


def _boom() -> str:
    raise RuntimeError("secret internals")


def test_an_unexpected_error_shows_the_500_page_to_a_logged_in_user(app: Flask, client: FlaskClient, scene) -> None:
    # the rollback used to expire the user drawn in the page's header: no page at all
    app.add_url_rule("/boom", "boom", _boom)
    app.add_url_rule("/api/v1/boom", "api_boom", _boom)
    login(client, "forste")
    response = client.get("/boom")
    assert response.status_code == 500 and "Något gick fel" in response.get_data(as_text=True)
    response = client.get("/api/v1/boom")
    assert response.status_code == 500 and response.mimetype == "application/json"
    assert "secret internals" not in response.get_data(as_text=True) and response.get_json()["fel"]


@pytest.mark.parametrize("path", ["/admin/anvandare/99999999999999999999", "/admin/anvandare/2147483648",
                                  "/admin/anvandare/" + "9" * 5000])
def test_ids_beyond_an_integer_column_are_404(client: FlaskClient, scene, path: str) -> None:
    login(client, "sysadmin")
    assert client.get(path).status_code == 404


def test_form_ids() -> None:
    assert form_id("12") == 12 and form_id("2147483647") == 2147483647
    for raw in (None, "", "-1", "1.5", " 1", "²", "٣", "2147483648", "9" * 5000):
        assert form_id(raw) is None, raw


def test_a_non_ascii_csrf_token_is_a_stale_form_not_a_500(client: FlaskClient, scene) -> None:
    login(client, "forste")
    response = client.post("/meddelanden/markera-alla-lasta", data={"csrf_token": "åäö"})
    assert response.status_code == 400


def test_nul_in_a_form_path_or_query_is_a_bad_request(client: FlaskClient, scene) -> None:
    login(client, "sysadmin")
    token = csrf_from(client.get("/").get_data(as_text=True))
    assert client.post("/admin/enheter", data={"code": "A\x00", "name": "x", "csrf_token": token}).status_code == 400
    assert client.get("/enheter/%00").status_code == 400
    assert client.get("/revision/logg?anvandare=%00").status_code == 400
    response = client.post("/api/v1/enheter/%00/arendelista", data=b"x")
    assert response.status_code == 400 and response.mimetype == "application/json"
