"""The yearly summary in the browser as the nämnd: from the start page to the summary of the
förvaltning and of a unit, the chart as an image, the planner; no case page is reachable.
As the sektionschef: sign the bedömning. axe-core on every page."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from tests.support.browser import check_page, login_as


def _drawn(database_url: str) -> tuple[str, int]:
    """A drawn case reference and its draw id from the demo data."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from kontroll.sampling.models import DrawnCase

    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            dc = session.scalar(select(DrawnCase).order_by(DrawnCase.id))
            return dc.case_ref, dc.draw_id
    finally:
        engine.dispose()


def test_namnd_reaches_summary_not_cases(page, live_server, database_url):
    ref, draw_id = _drawn(database_url)
    login_as(page, "namnd")
    page.get_by_role("link", name="Årssammanfattningen").click()
    expect(page.get_by_role("heading", name="Nämndens årssammanfattning", exact=False)).to_be_visible()
    expect(page.get_by_text("Hela förvaltningen").first).to_be_visible()
    chart = page.get_by_role("img", name="Stapeldiagram", exact=False)
    expect(chart).to_be_visible()
    assert page.evaluate("document.querySelector('img[src*=diagram]').naturalWidth") > 0
    check_page(page, "summary-forvaltning")

    page.get_by_role("link", name="Försörjningsstöd IFO (IFO-FS)").first.click()
    expect(page.get_by_role("heading", name="Avvikelser per område i mallen")).to_be_visible()
    expect(page.get_by_role("button", name="Signera bedömningen")).to_have_count(0)
    page.get_by_label("Tolerabel felandel (procent)").fill("10")
    page.get_by_role("button", name="Beräkna").click()
    expect(page.get_by_text("behövs 29 granskade ärenden per år")).to_be_visible()
    check_page(page, "summary-unit")

    for url in (f"/enheter/IFO-FS/arende?ref={ref}", f"/enheter/IFO-FS/stickprov/{draw_id}", "/enheter/IFO-FS/stickprov", "/enheter/IFO-FS/arendelistor", "/enheter/IFO-FS/granskningar",
                "/enheter/IFO-FS/brister", "/enheter/IFO-FS"):
        response = page.goto(url)
        assert response is not None and response.status in (403, 404), url


def test_sektionschef_signs_bedomning(page):
    login_as(page, "sektionschef")
    page.goto("/sammanfattning/IFO-FS")
    page.get_by_label("Bedömning för", exact=False).fill("Inga väsentliga avvikelser. Åtgärden för brist följs upp.")
    page.get_by_role("button", name="Signera bedömningen").click()
    check_page(page, "summary-sign-confirm")
    page.get_by_role("button", name="Ja, signera bedömningen").click()
    expect(page.get_by_text("Inga väsentliga avvikelser. Åtgärden för brist följs upp.")).to_be_visible()
    expect(page.get_by_text("Signerad av sektionschefen", exact=False)).to_be_visible()
    check_page(page, "summary-signed")
