"""Browser tests: the real app served on 127.0.0.1 with the demo data, driven by Playwright
in Debian's Chromium (/usr/bin/chromium), with an axe-core check on every page visited.

Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from kontroll import demo
from kontroll.db import get_database
from tests.conftest import IN_CI, OUTPUT, make_test_app

CHROMIUM = os.environ.get("KONTROLL_CHROMIUM", "/usr/bin/chromium")
SHOTS = OUTPUT / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def live_server(database_url: str) -> Iterator[str]:
    app = make_test_app(database_url)
    with get_database(app).session_scope() as session:
        demo.load_demo(session)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        get_database(app).engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        message = f"Chromium not found at {CHROMIUM}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server, locale="sv-SE", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.console_errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


_axe: Any = None


def check_page(page: Any, name: str) -> None:
    """Screenshot the page and assert axe-core finds no serious or critical violation."""
    global _axe
    from axe_playwright_python.sync_playwright import Axe

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    if _axe is None:
        _axe = Axe()
    result = _axe.run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} – {[n['target'] for n in v['nodes']][:3]}"
        for v in result.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"axe-core on {name} ({page.url}):\n" + "\n".join(bad)
    csp_errors = [e for e in page.console_errors if "Content Security Policy" in e]
    assert not csp_errors, f"CSP violations on {name}: {csp_errors}"


def login_as(page: Any, username: str, password: str = demo.DEMO_PASSWORD) -> None:
    page.goto("/logga-in")
    page.get_by_label("Användarnamn").fill(username)
    page.get_by_label("Lösenord").fill(password)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url("**/")
