"""The privacy pages in Chromium with axe-core: a form kept over an expired session and sent
again after logging in, a bedömning refused for naming a case, and the address throttle."""

from __future__ import annotations

import datetime as dt
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from kontroll.core.auth import keyed_hash
from tests.support.browser import check_page, login_as


def _sql(database_url: str, statement: str, **params: Any) -> None:
    engine = create_engine(database_url if "://" in database_url else f"sqlite:///{database_url}")
    with engine.begin() as conn:
        conn.execute(text(statement), params)
    engine.dispose()


def test_a_form_kept_over_an_expired_session_is_sent_after_logging_in(page, database_url):
    login_as(page, "sysadmin")
    page.goto("/admin/anvandare/ny")
    page.locator("input[name=username]").fill("ny.kollega")
    page.locator("input[name=full_name]").fill("Ny Kollega")
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)).replace(tzinfo=None)
    _sql(database_url, "UPDATE user_sessions SET last_seen_dt = :t WHERE user_id IS NOT NULL", t=old)
    page.get_by_role("button", name="Skapa användare").click()
    expect(page.get_by_role("heading", name="Formuläret kunde inte skickas")).to_be_visible()
    expect(page.get_by_text("Ny Kollega")).to_be_visible()
    check_page(page, "privacy-kept-form")
    page.get_by_role("link", name="Logga in och fortsätt").click()
    page.get_by_label("Användarnamn").fill("sysadmin")
    page.get_by_label("Lösenord").fill("kontroll-demo")
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("heading", name="Du är inloggad igen")).to_be_visible()
    check_page(page, "privacy-resume")
    page.get_by_role("button", name="Skicka igen").click()
    expect(page.get_by_text("Ny Kollega").first).to_be_visible()


def test_a_bedomning_naming_a_case_is_refused_and_explained(page):
    login_as(page, "sektionschef")
    today = dt.date.today()
    last_month = f"{today.year - 1}-12" if today.month == 1 else f"{today.year}-{today.month - 1:02d}"
    page.goto(f"/enheter/IFO-FS/granskningar?period={last_month}")  # last month's stickprov (the demo)
    case_ref = page.locator("main table tbody tr td").first.inner_text().strip()
    page.goto("/sammanfattning/IFO-FS")
    page.get_by_label("Bedömning för").fill(f"Bristerna i {case_ref} följs upp.")
    page.get_by_role("button", name="Signera bedömningen").click()
    expect(page.get_by_role("alert")).to_contain_text("läses av nämnden och får inte peka ut någon")
    check_page(page, "privacy-bedomning-refused")


def test_an_address_with_too_many_failures_waits(page, database_url):
    key = keyed_hash("test-secret", "127.0.0.1")
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    _sql(database_url, "INSERT INTO login_attempts (kind, key_hash, failures, window_start_dt) "
                       "VALUES ('adress', :k, 30, :t)", k=key, t=now)
    page.goto("/logga-in")
    page.get_by_label("Användarnamn").fill("sektionschef")
    page.get_by_label("Lösenord").fill("kontroll-demo")
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("alert")).to_contain_text("För många misslyckade inloggningar")
    check_page(page, "privacy-throttled")
