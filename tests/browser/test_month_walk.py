"""A whole month of the routine, each person led from their start page: nobody types an address
(only the login page), everyone follows their to-do list, their notifications or the top menu.

The sektionschef draws and chooses reviewers; the reviewer reviews (finding a brist) and gives
återkoppling; the handläggare reads it from a notification; the sektionschef opens an åtgärd
for the brist; its owner carries it out; a verifier confirms it worked. Every page is checked
with axe-core and its screenshot kept."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from kontroll.core.periods import Period
from kontroll.demo import DEMO_USERS
from tests.support.browser import check_page, login_as

#: the month the walk happens in ("december 2026"), in the app's time zone
MONTH = Period.of(dt.datetime.now(ZoneInfo("Europe/Stockholm")).date()).label
USERNAME = {u.full_name: u.username for u in DEMO_USERS}
SIGNATURE = {u.case_system_id: u.username for u in DEMO_USERS if u.case_system_id}


def _start(page) -> None:
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Start").click()
    expect(page.get_by_role("heading", name="Att göra", exact=False)).to_be_visible()


def _todo(page, pattern: str):
    """The link of the to-do whose title matches ``pattern`` (the start page must show it)."""
    link = page.get_by_role("region", name=re.compile("^Att göra")).get_by_role("link", name=re.compile(pattern))
    expect(link.first).to_be_visible()
    return link.first


def _logout(page) -> None:
    page.get_by_role("button", name="Logga ut").click()


def test_a_month_as_each_role_from_the_start_page(page):
    # --- the sektionschef draws -------------------------------------------------------------
    login_as(page, "sektionschef")
    check_page(page, "walk-drawer-start")
    _todo(page, rf"^Dra stickprovet för {MONTH} \(IFO-FS\)$").click()
    page.get_by_role("button", name="Dra stickprov").click()
    check_page(page, "walk-draw-confirm")
    page.get_by_role("button", name="Ja, dra stickprovet").click()
    expect(page.get_by_text("är draget")).to_be_visible()
    draw_url = page.url

    # --- and chooses the reviewers, from the to-do that appeared ------------------------------
    _start(page)
    expect(page.get_by_role("region", name=re.compile("^Att göra"))
           .get_by_role("link", name=re.compile(r"^Dra stickprovet för"))).to_have_count(0)
    _todo(page, rf"^Utse granskare för 2 ärenden i stickprovet för {MONTH} \(IFO-FS\)$").click()
    expect(page).to_have_url(draw_url)
    cards = page.locator("section.card")
    reviewers = []
    for n in range(cards.count()):
        card = page.locator("section.card").nth(n)
        card.get_by_role("combobox").select_option(index=1)
        reviewers.append(card.get_by_role("combobox").locator("option:checked").inner_text())
        card.get_by_role("button", name="Spara granskare").click()
        expect(page.get_by_role("status").filter(has_text=" granskar ")).to_be_visible()
    first = page.locator("section.card").nth(0)
    case_ref = first.locator("h3").inner_text().strip()
    handlaggare = first.locator("dd").nth(0).inner_text()
    check_page(page, "walk-assigned")
    _start(page)
    expect(page.get_by_role("region", name=re.compile("^Att göra"))
           .get_by_role("link", name=re.compile(r"^Utse granskare"))).to_have_count(0)
    _logout(page)

    # --- the reviewer is told, reviews and gives återkoppling -------------------------------------
    reviewer = USERNAME[reviewers[0].split(" – ")[0]]
    login_as(page, reviewer)
    check_page(page, "walk-reviewer-start")
    _todo(page, rf"^Granska {re.escape(case_ref)} ").click()
    page.get_by_role("button", name="Börja granska").click()
    expect(page.get_by_role("heading", name=f"Granskning av {case_ref}")).to_be_visible()
    fieldsets = page.locator("fieldset[id^=fraga-]")
    for i in range(fieldsets.count()):
        fieldsets.nth(i).get_by_role("radio").first.check()
    deviating = fieldsets.nth(1)
    deviating.get_by_role("radio", name="Nej").check()
    deviating.get_by_role("textbox").fill("Medsökande har inte skrivit under ansökan.")
    for i in range(fieldsets.count()):
        box = fieldsets.nth(i).get_by_role("textbox")
        if not box.input_value():
            box.fill("Kontrollerat i akten.")
    page.get_by_role("button", name="Klarmarkera").click()
    page.get_by_role("button", name="Ja, klarmarkera granskningen").click()
    expect(page.get_by_role("status").filter(has_text="är klarmarkerad")).to_be_visible()
    _start(page)
    _todo(page, rf"^Ge återkoppling till .* om {re.escape(case_ref)}$").click()
    page.get_by_role("radio", name="Vid möte").check()
    page.get_by_role("textbox", name="Anteckning", exact=True).fill("Vi gick igenom underskrifterna.")
    page.get_by_role("button", name="Registrera återkoppling").click()
    expect(page.get_by_role("status").filter(has_text="Återkopplingen är registrerad")).to_be_visible()
    _logout(page)

    # --- the handläggare reads it from the notification ------------------------------------------
    signature = handlaggare.rsplit("(", 1)[1].rstrip(")")
    login_as(page, SIGNATURE[signature])
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name=re.compile("^Meddelanden")).click()
    check_page(page, "walk-handlaggare-messages")
    page.get_by_role("link", name=re.compile(rf"^Gå dit\W+Återkoppling på ditt ärende {re.escape(case_ref)}$")).first.click()
    expect(page.get_by_text("Medsökande har inte skrivit under ansökan.")).to_be_visible()
    expect(page.get_by_text("Vi gick igenom underskrifterna.")).to_be_visible()
    check_page(page, "walk-handlaggare-feedback")
    _logout(page)

    # --- the sektionschef opens an åtgärd for the brist ------------------------------------------
    login_as(page, "sektionschef")
    _todo(page, r"^Besluta om åtgärder för .* utan åtgärd \(IFO-FS\)$").click()
    page.get_by_role("checkbox", name=re.compile(rf"^Välj brist \d+ i {re.escape(case_ref)}$")).check()
    page.get_by_label("Beskrivning av åtgärden").fill("Gå igenom underskriftskraven på nästa gruppmöte.")
    owner_select = page.get_by_label("Ansvarig")
    expect(owner_select.locator("option:checked")).to_have_text(re.compile("^Välj"))
    owner_select.select_option(index=1)
    page.get_by_label("Sista datum (ÅÅÅÅ-MM-DD)").fill((dt.date.today() + dt.timedelta(days=30)).isoformat())
    owner = owner_select.locator("option:checked").inner_text()
    page.get_by_role("button", name="Öppna åtgärd").click()
    expect(page.get_by_role("status").filter(has_text="Åtgärden är öppnad")).to_be_visible()
    check_page(page, "walk-atgard-opened")
    _logout(page)

    # --- its owner carries it out -----------------------------------------------------------------
    owner_username = USERNAME[owner.split(" (")[0]]
    login_as(page, owner_username)
    _todo(page, r"^Genomför åtgärden: Gå igenom underskriftskraven").click()
    page.get_by_label("Vad har gjorts?").fill("Gick igenom kraven på gruppmötet den 3 december.")
    page.get_by_role("button", name="Markera som genomförd").click()
    expect(page.get_by_role("status").filter(has_text="Åtgärden är markerad som genomförd")).to_be_visible()
    _logout(page)

    # --- a verifier (not the owner) confirms it worked --------------------------------------------
    verifier = "enhetschef" if owner_username == "sektionschef" else "sektionschef"
    login_as(page, verifier)
    _todo(page, r"^Kontrollera att åtgärden fungerade: Gå igenom underskriftskraven").click()
    page.get_by_label("Anteckning").fill("Underskrifterna fanns i månadens stickprov.")
    page.get_by_role("button", name="Verifiera").click()
    check_page(page, "walk-verify-confirm")
    page.get_by_role("button", name="Ja, verifiera åtgärden").click()
    expect(page.get_by_role("status").filter(has_text="Åtgärden är verifierad")).to_be_visible()
    _start(page)
    expect(page.get_by_role("region", name=re.compile("^Att göra"))
           .get_by_role("link", name=re.compile("Gå igenom underskriftskraven"))).to_have_count(0)
    check_page(page, "walk-verifier-done")
