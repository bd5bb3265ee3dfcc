"""Helpers for the browser tests: where Chromium is and how it is started, and the checks made
on every page visited (a screenshot in test-output/screenshots/, axe-core, no CSP violation).
The fixtures (the live server, the browser, the page) are in tests/browser/conftest.py."""

from __future__ import annotations

import os
from typing import Any

from kontroll import demo
from tests.support.app import OUTPUT

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
