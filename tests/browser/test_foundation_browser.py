"""Every demo role logs in, reaches its start page and logs out; every page passes axe-core."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import check_page, login_as

ROLES = {
    "sektionschef": "Stickprov och åtgärder",
    "administrator": "Stickprov och åtgärder",
    "forste1": "Granskning",
    "enhetschef": "Granskning",
    "anna.froberg": "Återkoppling på dina ärenden",
    "namnd": "Årssammanfattning",
    "revisor": "Revision",
    "sysadmin": "Administration",
}


@pytest.mark.parametrize("username", list(ROLES))
def test_each_role_logs_in_sees_its_start_page_and_logs_out(page, username):
    page.goto("/")
    page.wait_for_url("**/logga-in**")
    check_page(page, "login")
    login_as(page, username)
    expect(page.get_by_role("heading", name=ROLES[username])).to_be_visible()
    check_page(page, f"start-{username}")
    page.get_by_role("button", name="Logga ut").click()
    page.wait_for_url("**/logga-in**")
    expect(page.get_by_text("Du är utloggad.")).to_be_visible()
    page.goto("/")
    page.wait_for_url("**/logga-in**")


def test_admin_pages_and_a_refused_form(page):
    login_as(page, "sysadmin")
    page.get_by_role("link", name="Användare", exact=True).click()
    check_page(page, "admin-users")
    page.get_by_role("link", name="Ny användare").click()
    check_page(page, "admin-user-new")
    page.get_by_label("Användarnamn").fill("Fel Namn!")
    page.get_by_label("Namn (obligatoriskt)", exact=True).fill("Greta Gren")
    page.get_by_role("button", name="Skapa användare").click()
    expect(page.get_by_role("alert").get_by_text("Användarnamnet ska vara")).to_be_visible()
    assert page.get_by_label("Namn (obligatoriskt)", exact=True).input_value() == "Greta Gren"
    check_page(page, "admin-user-new-error")
    page.get_by_label("Användarnamn").fill("greta.gren")
    page.get_by_role("button", name="Skapa användare").click()
    expect(page.get_by_text("Användaren Greta Gren är skapad")).to_be_visible()
    page.get_by_label("Roll", exact=True).select_option("forste_socialsekreterare")
    page.get_by_label("Enhet", exact=True).select_option("IFO-FS")
    page.get_by_role("button", name="Lägg till roll").click()
    expect(page.get_by_text("Rollen är tilldelad Greta Gren.")).to_be_visible()
    check_page(page, "admin-user-detail")
    page.get_by_role("link", name="Enheter", exact=True).click()
    check_page(page, "admin-units")
    page.get_by_role("link", name="IFO-FS").first.click()
    check_page(page, "admin-unit-detail")


def test_unit_overview_and_audit_log(page):
    login_as(page, "revisor")
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="IFO-FS").click()
    expect(page.get_by_role("heading", name="Handläggargrupper")).to_be_visible()
    check_page(page, "unit-overview")
    page.get_by_role("link", name="Händelselogg").click()
    page.get_by_label("Händelse").select_option("login.success")
    page.get_by_role("button", name="Filtrera").click()
    expect(page.get_by_role("cell", name="Inloggning", exact=True).first).to_be_visible()
    check_page(page, "audit-log")
    page.get_by_label("Enhet").select_option("IFO-FS")
    page.get_by_role("button", name="Filtrera").click()
    page.get_by_role("link", name="Kontrollera hela kedjan nu").click()
    expect(page.get_by_role("status")).to_contain_text("Obruten kedja:")
    check_page(page, "audit-log-chain-checked")


def test_narrow_screen_and_keyboard(browser, live_server):
    context = browser.new_context(base_url=live_server, viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.console_errors = []
    try:
        login_as(page, "sektionschef")
        page.goto("/")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Hoppa till innehållet"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "innehall"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"horizontal scrolling on a narrow screen ({width}px)"
        check_page(page, "start-narrow")
    finally:
        context.close()


def test_error_pages_and_the_stale_form_page(page):
    login_as(page, "forste1")
    page.goto("/enheter/INT")
    expect(page.get_by_role("heading", name="Ingen behörighet")).to_be_visible()
    check_page(page, "error-403")
    page.goto("/finns-inte")
    expect(page.get_by_role("heading", name="Sidan finns inte")).to_be_visible()
    check_page(page, "error-404")
    # a form with a token from another session: refused, and what it carried is not echoed
    page.goto("/enheter/IFO-FS/arendelistor/ny")
    page.locator("main input[name=csrf_token]").evaluate("e => e.value = 'gammal'")
    page.get_by_text("Ange kolumnrubriker själv").click()
    page.get_by_label("Grupp/team").fill("Handläggargrupp")
    page.get_by_label("Fil (CSV eller xlsx)").set_input_files(
        files=[{"name": "lista.csv", "mimeType": "text/csv", "buffer": b"Nummer;Vem\r\n"}])
    page.get_by_role("button", name="Förhandsgranska").click()
    expect(page.get_by_role("heading", name="Formuläret kunde inte skickas")).to_be_visible()
    expect(page.get_by_text("annan inloggning")).to_be_visible()
    expect(page.get_by_text("Handläggargrupp")).to_have_count(0)
    check_page(page, "stale-form")
