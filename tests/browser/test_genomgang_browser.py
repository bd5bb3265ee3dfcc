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

    rows = page.get_by_role("region", name="Ärenden i genomgången").locator("tbody tr")
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
    expect(page.get_by_role("region", name="Ärenden i genomgången").locator("tbody tr")).to_have_count(1)
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


def _plan_and_start(page, day: str) -> None:
    page.goto("/enheter/IFO-FS/genomgangar?ar=2026")
    page.get_by_label("Datum (ÅÅÅÅ-MM-DD)").fill(day)
    page.get_by_role("button", name="Planera").click()
    page.get_by_role("link", name=f"Genomgång {day}").click()
    page.get_by_role("button", name="Starta genomgången").click()
    expect(page.get_by_role("heading", name=f"Arbetslista – genomgång {day}")).to_be_visible()


def test_a_team_at_a_meeting_pace(page):
    """A team's cases gone through at a meeting: the brist recorded with the keyboard alone, the
    rest ”Utan anmärkning” in two requests (the click and its confirmation), whatever the number
    of cases; the handläggare then reads the brist and the återkoppling on their own page."""
    login_as(page, "forste1")
    _plan_and_start(page, "2026-11-25")
    page.get_by_label("Grupp").select_option(index=1)
    page.get_by_label("Resultat").select_option("kvar")
    page.get_by_role("button", name="Filtrera").click()
    team = page.get_by_label("Grupp").locator("option:checked").inner_text()

    # the first case with the keyboard: the result has the focus, arrows choose, Tab to the areas
    rows = page.get_by_role("region", name="Ärenden i genomgången").locator("tbody tr")
    first_ref = rows.nth(0).locator("td").first.inner_text().strip()
    handlaggare = rows.nth(0).locator("td").nth(1).inner_text().strip()
    rows.nth(0).get_by_role("link").click()
    expect(page.get_by_role("radio", name="Utan anmärkning")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("radio", name="Brist", exact=True)).to_be_checked()
    check_page(page, "genomgang-case-keyboard")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    expect(page.get_by_role("checkbox").first).to_be_checked()
    page.keyboard.press("Tab")
    page.keyboard.type("Utredningen saknar barnens behov.")
    page.get_by_role("button", name="Spara och gå till nästa ärende").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text=f"Resultatet för {first_ref} är sparat")).to_be_visible()

    page.get_by_role("link", name="← Arbetslistan").click()
    page.get_by_label("Grupp").select_option(label=team)
    page.get_by_role("button", name="Filtrera").click()
    form = page.get_by_role("form", name="Resten utan anmärkning")
    expect(form).to_contain_text(f"i {team} saknar resultat")
    check_page(page, "genomgang-work-rest")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    form.get_by_role("button").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Registrera ”Utan anmärkning” för \d+ ärenden\?$"))).to_be_visible()
    check_page(page, "genomgang-rest-confirm")
    page.get_by_role("button", name=re.compile(r"^Ja, registrera")).click()
    expect(page.get_by_role("status").filter(has_text=f"i {team} har fått resultatet ”Utan anmärkning”")).to_be_visible()
    assert len(posts) == 2, posts
    page.get_by_text("Hur långt varje grupp har kommit").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=team))
    cells = row.get_by_role("cell")
    assert cells.nth(1).inner_text().split(" av ")[0] == cells.nth(1).inner_text().split(" av ")[1]
    assert cells.nth(2).inner_text() == "1"
    check_page(page, "genomgang-work-team-done")

    page.get_by_role("link", name="← Genomgång 2026-11-25").click()
    page.get_by_role("combobox", name="Handläggare").select_option(label=handlaggare)
    page.get_by_label("Anteckning (valfri)").fill("Vi gick igenom utredningarna på gruppmötet.")
    page.get_by_role("button", name="Registrera återkoppling").click()
    expect(page.get_by_role("status").filter(has_text="Återkopplingen är registrerad")).to_be_visible()
    page.get_by_role("button", name="Logga ut").click()

    signature = handlaggare.rsplit("(", 1)[1].rstrip(")")
    from kontroll.demo import DEMO_USERS

    username = next(u.username for u in DEMO_USERS if u.case_system_id == signature)
    login_as(page, username)
    page.get_by_role("link", name="Återkoppling på mina ärenden").click()
    expect(page.get_by_role("heading", name="Genomgång 2026-11-25 – IFO-FS (pågår)")).to_be_visible()
    expect(page.get_by_text("Utredningen saknar barnens behov.")).to_be_visible()
    expect(page.get_by_text("Vi gick igenom utredningarna på gruppmötet.")).to_be_visible()
    check_page(page, "handlaggare-feedback-genomgang")
