"""Answer the full stickprov template in the browser: the sektionschef draws and assigns, the
assigned reviewer answers every item, saves a draft, meets the validation on signing, signs and
records återkoppling; the sektionschef sees the brist. axe-core on every page."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support.browser import check_page, login_as

REVIEWERS = {"Maria Nilsson": "forste1", "Johan Ek": "forste2", "Leila Karimi": "forste3",
             "Per Andersson": "enhetschef"}


def test_answer_the_full_stickprov_template(page):
    login_as(page, "sektionschef")
    page.goto("/enheter/IFO-FS/stickprov")
    page.get_by_role("button", name="Dra stickprov").click()
    page.get_by_role("button", name="Ja, dra stickprovet").click()
    expect(page.get_by_text("är draget: 2 ärenden")).to_be_visible()
    for n in range(2):
        page.locator("section.card").nth(n).get_by_role("combobox").select_option(index=1)
        page.locator("section.card").nth(n).get_by_role("button", name="Spara granskare").click()
        expect(page.locator("section.card").nth(n)).to_contain_text("utsedd")
    first = page.locator("section.card").nth(0)
    case_ref = first.locator("h3").inner_text().strip()
    reviewer_text = first.locator("dd").nth(2).inner_text()
    reviewer = next(u for name, u in REVIEWERS.items() if reviewer_text.startswith(name))
    page.get_by_role("button", name="Logga ut").click()

    login_as(page, reviewer)
    menu = page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name=re.compile(r"^Mina granskningar"))
    expect(menu).to_contain_text(re.compile(r"\d+ · senast \d{4}-\d{2}-\d{2}"))
    menu.click()
    check_page(page, "review-mine")
    page.get_by_role("link", name=f"Granska {case_ref}").click()
    check_page(page, "review-start")
    page.get_by_role("button", name="Börja granska").click()
    expect(page.get_by_role("heading", name=f"Granskning av {case_ref}")).to_be_visible()
    check_page(page, "review-form")

    fieldsets = page.locator("fieldset[id^=fraga-]")
    count = fieldsets.count()
    assert count > 20  # the whole template, every area
    # a draft with the first half answered
    for i in range(count // 2):
        fieldsets.nth(i).get_by_role("radio", name="Ja", exact=True).check()
    page.get_by_role("button", name="Spara utkast").click()
    expect(page.get_by_role("status").filter(has_text="Utkastet är sparat")).to_be_visible()
    assert page.locator("input[type=radio]:checked").count() == count // 2

    # the rest: all "Ja" except one "Nej" whose required comment is forgotten at first
    for i in range(count // 2, count):
        fieldsets.nth(i).get_by_role("radio", name="Ja", exact=True).check()
    deviating = fieldsets.nth(1)
    deviating.get_by_role("radio", name="Nej").check()
    fieldsets.nth(0).get_by_role("textbox").fill("Ansökan fanns, daterad.")
    page.get_by_role("button", name="Klarmarkera").click()
    expect(page.get_by_role("alert")).to_contain_text("kan inte klarmarkeras")
    check_page(page, "review-sign-refused")
    # nothing the reviewer entered is lost
    assert page.locator("input[type=radio]:checked").count() == count
    expect(fieldsets.nth(0).get_by_role("textbox")).to_have_value("Ansökan fanns, daterad.")
    page.get_by_role("alert").get_by_role("link").first.click()
    deviating.get_by_role("textbox").fill("Medsökande har inte skrivit under ansökan.")
    page.get_by_role("button", name="Klarmarkera").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Klarmarkera granskningen av .*\?$"))).to_be_visible()
    check_page(page, "review-sign-confirm")
    page.get_by_role("button", name="Ja, klarmarkera granskningen").click()
    expect(page.get_by_role("status").filter(has_text="är klarmarkerad")).to_be_visible()
    expect(page.get_by_text("Medsökande har inte skrivit under ansökan.").first).to_be_visible()
    assert page.locator("input[type=radio][name^=svar-]").count() == 0  # read-only now
    check_page(page, "review-signed")

    page.get_by_role("radio", name="Vid möte").check()
    page.get_by_role("textbox", name="Anteckning", exact=True).fill("Vi gick igenom underskrifterna på gruppmötet.")
    page.get_by_role("button", name="Registrera återkoppling").click()
    expect(page.get_by_role("status").filter(has_text="Återkopplingen är registrerad")).to_be_visible()
    check_page(page, "review-feedback")
    page.get_by_role("button", name="Logga ut").click()

    login_as(page, "sektionschef")
    page.goto("/enheter/IFO-FS")
    check_page(page, "unit-with-reviews")
    page.get_by_role("link", name="Granskningar per månad").click()
    expect(page.get_by_role("cell", name=case_ref)).to_be_visible()
    check_page(page, "review-overview")
    page.goto("/enheter/IFO-FS/brister")
    expect(page.get_by_text("Medsökande har inte skrivit under ansökan.")).to_be_visible()
    check_page(page, "review-brister")
