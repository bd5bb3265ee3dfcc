"""A genomgång in the browser: a förste socialsekreterare plans it on the year page, starts it
with the unit's förste socialsekreterare, records results for several cases (one with a
brist whose comment is first forgotten), records återkoppling; the sektionschef sees the
brist in the unit's brist list. axe-core on every page."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support.browser import check_page, login_as


def test_record_results_for_several_cases(page):
    login_as(page, "forste1")
    page.goto("/enheter/IFO-FS/genomgangar?ar=2026")
    expect(page.get_by_role("heading", name="Genomgångar 2026 – IFO-FS")).to_be_visible()
    expect(page.get_by_text("målet nås inte").first).to_be_visible()
    check_page(page, "genomgang-year-empty")
    page.get_by_label("Datum (ÅÅÅÅ-MM-DD)").fill("2026-11-24")
    page.get_by_role("button", name="Planera").click()
    expect(page.get_by_role("status").filter(has_text="är planerad")).to_be_visible()
    check_page(page, "genomgang-year-planned")

    page.get_by_role("link", name="Genomgång 2026-11-24").click()
    check_page(page, "genomgang-start")
    participants = page.get_by_role("group", name="Deltagare").get_by_role("checkbox")
    assert participants.count() == 3
    page.get_by_role("button", name="Starta genomgången").click()
    expect(page.get_by_role("heading", name="Arbetslista – genomgång 2026-11-24")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^0 av \d+ ärenden har resultat"))).to_be_visible()
    check_page(page, "genomgang-work")

    rows = page.locator("tbody tr")
    first_ref = rows.nth(0).locator("td").first.inner_text().strip()
    rows.nth(0).get_by_role("link").click()
    expect(page.get_by_role("heading", name=f"{first_ref} – genomgång 2026-11-24")).to_be_visible()
    check_page(page, "genomgang-case")
    # a brist without its comment is refused, and nothing is lost
    page.get_by_role("group", name="Resultat för ärendet").get_by_role("radio", name="Brist").check()
    page.get_by_role("checkbox", name="Brist i beslut").check()
    page.get_by_role("button", name="Spara och gå till nästa ärende").click()
    expect(page.get_by_role("alert")).to_contain_text("Beskriv bristen i ”Beslut”")
    check_page(page, "genomgang-case-refused")
    expect(page.get_by_role("checkbox", name="Brist i beslut")).to_be_checked()
    page.get_by_label("Kommentar om bristen i beslut").fill("Avslag utan överklagandehänvisning.")
    page.get_by_role("button", name="Spara och gå till nästa ärende").click()
    expect(page.get_by_role("status").filter(has_text=f"Resultatet för {first_ref} är sparat")).to_be_visible()

    # the next two cases: utan anmärkning
    for n in range(2):
        heading = page.get_by_role("heading", level=1).inner_text()
        page.get_by_role("radio", name="Utan anmärkning").check()
        page.get_by_role("button", name="Spara och gå till nästa ärende").click()
        expect(page.get_by_role("status").filter(has_text="är sparat")).to_be_visible()
        assert page.get_by_role("heading", level=1).inner_text() != heading
        check_page(page, f"genomgang-case-next-{n}")

    page.get_by_role("link", name="← Arbetslistan").click()
    expect(page.get_by_text(re.compile(r"^3 av \d+ ärenden har resultat, 1 med brist"))).to_be_visible()
    page.get_by_label("Resultat").select_option("brist")
    page.get_by_role("button", name="Filtrera").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    check_page(page, "genomgang-work-filtered")

    page.get_by_role("link", name="← Genomgång 2026-11-24").click()
    page.get_by_role("combobox", name="Handläggare").select_option(index=1)
    page.get_by_role("button", name="Registrera återkoppling").click()
    expect(page.get_by_role("status").filter(has_text="Återkopplingen är registrerad")).to_be_visible()
    check_page(page, "genomgang-detail")
    page.get_by_role("button", name="Stäng genomgången").click()
    expect(page.get_by_role("alert")).to_contain_text("kan inte stängas")
    check_page(page, "genomgang-close-refused")
    page.get_by_role("button", name="Logga ut").click()

    login_as(page, "sektionschef")
    page.goto("/enheter/IFO-FS/brister")
    expect(page.get_by_text("Avslag utan överklagandehänvisning.")).to_be_visible()
    check_page(page, "genomgang-brister")
    page.goto("/enheter/IFO-FS")
    expect(page.get_by_role("heading", name="genomgångar och stickprov")).to_be_visible()
    check_page(page, "genomgang-unit-page")
