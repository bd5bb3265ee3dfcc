"""Meddelanden: the drawer's reminder, marking one and all as read, following the link.

The ``live_server`` fixture is overridden here so that the notifications blueprint is
registered (a no-op once the app factory registers it) and the reminders exist: the
``draw_due`` job is run for 1 December 2026, as the scheduler would on that day.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from kontroll import demo
from kontroll.core.models import User
from kontroll.core.notifications import notify
from kontroll.db import get_database
from kontroll.jobs import run_job
from tests.support.app import make_test_app
from tests.support.browser import check_page, login_as
from tests.support.jobs import register_notifications

BASE_HTML = Path(__file__).resolve().parents[2] / "kontroll" / "templates" / "base.html"
TITLE = "Dags att dra månadens stickprov för IFO-FS (december 2026)"


@pytest.fixture
def live_server(database_url: str) -> Iterator[str]:
    app = register_notifications(make_test_app(database_url))
    database = get_database(app)
    with database.session_scope() as session:
        demo.load_demo(session)
    run_job(database, "draw_due", dt.date(2026, 12, 1), app.config)
    with database.session_scope() as session:
        sara = session.query(User).filter_by(username="sektionschef").one()
        notify(session, sara, kind="annat", title="Ett annat meddelande", body="Ett meddelande till.",
               dedupe_key="browser:other")
        old = notify(session, sara, kind="annat", title="Ett läst meddelande", dedupe_key="browser:read")
        old.created_dt -= dt.timedelta(days=3)
        old.read_dt = old.created_dt
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        database.engine.dispose()


def test_read_the_reminders_and_mark_them_read(page):
    login_as(page, "sektionschef")
    page.goto("/meddelanden")
    expect(page.get_by_role("heading", level=1, name="Meddelanden")).to_be_visible()
    expect(page.get_by_text("Du har 2 olästa meddelanden.")).to_be_visible()
    reminder = page.get_by_role("article", name=TITLE)
    expect(reminder).to_contain_text("Oläst")
    expect(reminder).to_contain_text("Försörjningsstöd IFO har inget stickprov för december 2026")
    expect(page.get_by_text("Integrationsenheten")).to_have_count(0)  # the administratör's, not hers
    check_page(page, "notifications")

    reminder.get_by_role("button", name="Markera som läst").click()
    expect(page.get_by_role("status")).to_have_text("Meddelandet är markerat som läst.")
    expect(page.get_by_text("Du har 1 oläst meddelande.")).to_be_visible()
    expect(page.get_by_role("article", name=TITLE).get_by_role("button")).to_have_count(0)
    check_page(page, "notifications-one-read")

    page.get_by_role("button", name="Markera alla som lästa").click()
    expect(page.get_by_role("status")).to_have_text("1 meddelande markerades som läst.")
    expect(page.get_by_text("Du har inga olästa meddelanden.")).to_be_visible()
    expect(page.get_by_role("button", name="Markera som läst")).to_have_count(0)

    page.get_by_role("article", name=TITLE).get_by_role("link", name="Gå dit").click()
    page.wait_for_url("**/enheter/IFO-FS/stickprov")
    expect(page.get_by_role("button", name="Dra stickprov")).to_be_visible()


def test_the_header_shows_the_unread_count(page):
    if "unread_count_for" not in BASE_HTML.read_text(encoding="utf-8"):
        pytest.skip("base.html does not show the Meddelanden link yet")
    login_as(page, "administrator")
    nav = page.get_by_role("navigation", name="Huvudmeny")
    link = nav.get_by_role("link", name="Meddelanden")
    expect(link).to_contain_text("1")
    check_page(page, "notifications-badge")
    link.click()
    expect(page.get_by_role("article", name="Dags att dra månadens stickprov för INT (december 2026)")).to_be_visible()
    page.get_by_role("button", name="Markera alla som lästa").click()
    expect(nav.get_by_role("link", name="Meddelanden")).not_to_contain_text("1")
