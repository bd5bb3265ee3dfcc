"""Draw the month's stickprov, see the cases, assign reviewers, see who may not review and why,
verify the draw as the revisor."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support.browser import check_page, login_as


def test_draw_assign_and_verify(page):
    login_as(page, "sektionschef")
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="IFO-FS").click()
    page.get_by_role("link", name="Stickprov – dra månadens stickprov").click()
    check_page(page, "draw-page")
    page.get_by_role("button", name="Dra stickprov").click()
    # the first click draws nothing: it says what will happen
    expect(page.get_by_role("heading", name=re.compile(r"^Dra stickprovet för .* i IFO-FS\?$"))).to_be_visible()
    expect(page.get_by_text("kan inte granska något av ärendena")).to_be_visible()
    check_page(page, "draw-confirm")
    page.get_by_role("button", name="Ja, dra stickprovet").click()
    expect(page.get_by_text("är draget: 2 ärenden")).to_be_visible()
    check_page(page, "draw-result")

    cards = page.locator("section.card")
    expect(cards).to_have_count(2)
    first = cards.nth(0)
    # the drawer is never offered; people who may not review are listed with the reason
    first.get_by_text("Kan inte granska ärendet").click()
    expect(first.get_by_text("Sara Lindqvist")).to_have_count(0)
    expect(first.locator("details")).to_contain_text("hemmablindhet")
    options = first.get_by_role("combobox").locator("option").all_inner_texts()
    assert options[0] == "Välj granskare …" and "Sara Lindqvist" not in options
    # nobody is chosen until someone is chosen: the empty choice is refused by the form
    first.get_by_role("button", name="Spara granskare").click()
    expect(page.get_by_role("status").filter(has_text=" granskar ")).to_have_count(0)
    first.get_by_role("combobox").select_option(index=1)
    first.get_by_role("button", name="Spara granskare").click()
    expect(page.get_by_role("status").filter(has_text=" granskar ")).to_be_visible()
    second = page.locator("section.card").nth(1)
    second.get_by_role("combobox").select_option(index=1)
    second.get_by_role("button", name="Spara granskare").click()
    expect(page.locator("section.card").nth(1)).to_contain_text("utsedd")
    check_page(page, "draw-assigned")

    page.get_by_role("link", name="Kontrollera dragningen").click()
    expect(page.get_by_role("heading", name="Verifierad")).to_be_visible()
    check_page(page, "draw-verify")

    page.get_by_role("link", name="← Stickprovet för").click()
    page.get_by_label("Motivering (obligatorisk)").fill("kort")
    page.get_by_role("button", name="Makulera och dra om").click()
    expect(page.get_by_role("alert")).to_contain_text("minst 10 tecken")
    check_page(page, "draw-redraw-refused")


def test_revisor_verifies_and_reads_a_case_page(page):
    login_as(page, "sektionschef")
    page.goto("/enheter/IFO-FS/stickprov")
    page.get_by_role("button", name="Dra stickprov").click()
    page.get_by_role("button", name="Ja, dra stickprovet").click()
    expect(page.get_by_text("är draget")).to_be_visible()
    url = page.url
    page.get_by_role("button", name="Logga ut").click()
    login_as(page, "revisor")
    page.goto(url)
    page.locator("section.card h3 a").first.click()
    expect(page.get_by_role("heading", name="Dragen i stickprov")).to_be_visible()
    check_page(page, "case-page")
