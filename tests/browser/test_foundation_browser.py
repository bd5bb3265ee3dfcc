"""Every demo role logs in, reaches its start page and logs out; every page passes axe-core."""

from __future__ import annotations

import pytest

from tests.browser.conftest import check_page, login_as

ROLES = {
    "sektionschef": "Stickprov och åtgärder",
    "administrator": "Stickprov och åtgärder",
    "forste1": "Granskning",
    "enhetschef": "Granskning",
    "anna.froberg": "Återkoppling på dina ärenden",
    "namnd": "Nämndens uppföljning",
    "revisor": "Revision",
    "sysadmin": "Administration",
}


@pytest.mark.parametrize("username", list(ROLES))
def test_each_role_logs_in_sees_its_start_page_and_logs_out(page, username):
    page.goto("/")
    page.wait_for_url("**/logga-in**")
    check_page(page, "login")
    login_as(page, username)
    assert page.get_by_role("heading", name=ROLES[username]).is_visible()
    check_page(page, f"start-{username}")
    page.get_by_role("button", name="Logga ut").click()
    page.wait_for_url("**/logga-in**")
    assert page.get_by_text("Du är utloggad.").is_visible()
    page.goto("/")
    page.wait_for_url("**/logga-in**")
