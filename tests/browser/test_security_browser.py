"""TOTP enrolment and the code step, and single sign-on against the local identity provider,
in Chromium with axe-core on every page."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from kontroll import demo
from kontroll.core.models import User
from kontroll.db import get_database
from tests.support.app import make_test_app
from tests.support.browser import check_page, login_as
from tests.support.oidc_idp import TENANT, FakeIdP

PERIOD = 30


def code_after(secret: str, last_step: int | None) -> tuple[str, int]:
    """A code for a step the server has not seen, not in the last seconds of a step."""
    left = PERIOD - time.time() % PERIOD
    if left < 6:
        time.sleep(left + 0.05)
    now = int(time.time()) // PERIOD
    step = now - 1 if last_step is None else max(now - 1, last_step + 1)
    assert step <= now + 1
    return pyotp.TOTP(secret).generate_otp(step), step


def test_totp_setup_and_the_code_step(page):
    login_as(page, "forste1")
    page.get_by_role("link", name="Mitt konto").click()
    expect(page.get_by_role("heading", name="Byt lösenord")).to_be_visible()
    check_page(page, "my-account")
    page.get_by_role("link", name="inställningar för tvåstegsverifiering").click()
    expect(page.get_by_role("heading", name="Tvåstegsverifiering")).to_be_visible()
    check_page(page, "totp-start")
    page.get_by_role("button", name="Kom igång").click()
    secret = page.locator("#totp-nyckel").inner_text().replace(" ", "")
    assert len(secret) == 32
    check_page(page, "totp-setup")
    code, step = code_after(secret, None)
    page.get_by_label("Kod från appen").fill(code)
    page.get_by_role("button", name="Slå på tvåstegsverifiering").click()
    expect(page.get_by_text("Tvåstegsverifiering är påslagen.")).to_be_visible()
    assert secret[:8] not in page.content()
    check_page(page, "totp-enabled")

    page.get_by_role("button", name="Logga ut").click()
    page.wait_for_url("**/logga-in**")
    page.get_by_label("Användarnamn").fill("forste1")
    page.get_by_label("Lösenord").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url("**/logga-in/kod")
    expect(page.get_by_role("heading", name="Ange koden från din app")).to_be_visible()
    check_page(page, "login-code")
    page.get_by_label("Kod").fill("000000" if code != "000000" else "111111")
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("alert")).to_contain_text("Koden stämmer inte")
    check_page(page, "login-code-error")
    code, step = code_after(secret, step)
    page.get_by_label("Kod").fill(code)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url("**/")
    expect(page.get_by_role("heading", name="Hej Maria Nilsson")).to_be_visible()


OID = "bbbbbbbb-0000-0000-0000-000000000002"


@pytest.fixture
def sso_server(database_url: str) -> Iterator[tuple[str, FakeIdP]]:
    idp = FakeIdP().start()
    app = make_test_app(database_url, **idp.app_config())
    with get_database(app).session_scope() as session:
        demo.load_demo(session)
        revisor = session.query(User).filter_by(username="revisor").one()
        revisor.oidc_tid, revisor.oidc_oid = TENANT, OID
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", idp
    finally:
        server.shutdown()
        thread.join(timeout=5)
        idp.stop()
        get_database(app).engine.dispose()


@pytest.fixture
def sso_page(browser: Any, sso_server: tuple[str, FakeIdP]) -> Iterator[Any]:
    base, _ = sso_server
    context = browser.new_context(base_url=base, locale="sv-SE", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.console_errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


def test_single_sign_on_round_trip_and_an_unknown_account(sso_page, sso_server):
    page = sso_page
    _, idp = sso_server
    page.goto("/logga-in")
    check_page(page, "login-sso")
    idp.login_as(OID, name="Revisor")
    page.get_by_role("button", name="Logga in med organisationens konto").click()
    page.wait_for_url("**/")
    expect(page.get_by_role("heading", name="Revision")).to_be_visible()
    page.get_by_role("button", name="Logga ut").click()
    page.wait_for_url("**/logga-in**")

    idp.login_as("cccccccc-0000-0000-0000-000000000003", preferred_username="okand@kommun.se")
    page.get_by_role("button", name="Logga in med organisationens konto").click()
    page.wait_for_url("**/logga-in/sso/svar**")
    expect(page.get_by_role("alert")).to_contain_text("Ditt konto finns inte i kontroll")
    check_page(page, "login-sso-unknown")
