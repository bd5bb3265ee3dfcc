"""Permission matrix: which pages answer 200 and which 403/404 for each role, including a
crafted request for another unit's page."""

from __future__ import annotations

import pytest

from kontroll.core.models import Role
from kontroll.core.permissions import PERMISSIONS, Perm, can
from tests.support.web import login, post_form

PAGES = ["/", "/enheter/IFO-FS", "/enheter/INT", "/revision/logg", "/admin/anvandare", "/admin/enheter",
         "/admin/enheter/IFO-FS", "/admin/anvandare/ny"]

OK, NO = 200, 403
MATRIX = {
    #                 start  IFO-FS INT  logg  users units unit  new-user
    "sektionschef":  [OK,    OK,    NO,  NO,   NO,   NO,   NO,   NO],
    "administrator": [OK,    NO,    OK,  NO,   NO,   NO,   NO,   NO],
    "forste":        [OK,    OK,    NO,  NO,   NO,   NO,   NO,   NO],
    "enhetschef":    [OK,    OK,    NO,  NO,   NO,   NO,   NO,   NO],
    "handlaggare":   [OK,    NO,    NO,  NO,   NO,   NO,   NO,   NO],
    "namnd":         [OK,    NO,    NO,  NO,   NO,   NO,   NO,   NO],
    "revisor":       [OK,    OK,    OK,  OK,   NO,   NO,   NO,   NO],
    "sysadmin":      [OK,    OK,    OK,  NO,   OK,   OK,   OK,   OK],
    "forste.int":    [OK,    NO,    OK,  NO,   NO,   NO,   NO,   NO],
}


@pytest.mark.parametrize("username", list(MATRIX))
def test_page_matrix(client, world, username):
    login(client, username)
    got = [client.get(url).status_code for url in PAGES]
    assert got == MATRIX[username], dict(zip(PAGES, got))


def test_anonymous_is_sent_to_login_everywhere(client, world):
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/logga-in")


def test_another_units_page_shows_none_of_its_data(client, world):
    login(client, "sektionschef")  # IFO-FS only
    response = client.get("/enheter/INT")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "Integrationsenheten" not in html and "Administrator" not in html
    assert "Ingen behörighet" in html


def test_unknown_unit_is_404(client, world):
    login(client, "revisor")
    assert client.get("/enheter/FINNS-EJ").status_code == 404


def test_crafted_admin_post_from_a_non_admin_is_refused_and_changes_nothing(client, world, db):
    login(client, "sektionschef")
    before = db.get(type(world["forste"]), world["forste"].id).is_active
    response = post_form(client, f"/admin/anvandare/{world['forste'].id}/stang-av", {})
    assert response.status_code == 403
    db.expire_all()
    assert db.get(type(world["forste"]), world["forste"].id).is_active is before is True


def test_deactivated_users_hold_no_permissions(world, db):
    user = world["sektionschef"]
    assert can(user, Perm.VIEW_UNIT, world.ifo)
    user.is_active = False
    assert not can(user, Perm.VIEW_UNIT, world.ifo)


def test_org_wide_role_counts_for_every_unit_and_unit_roles_only_for_theirs(world):
    assert can(world["revisor"], Perm.VIEW_UNIT, world.int)
    assert can(world["revisor"], Perm.VIEW_UNIT, world.ifo)
    assert not can(world["forste"], Perm.VIEW_UNIT, world.int)


#: what a nämnd member may do: read aggregates, nothing that names a case or a person
NAMND_MAY = {Perm.VIEW_SUMMARY}


def test_every_permission_is_decided():
    assert set(PERMISSIONS) == set(Perm)


@pytest.mark.parametrize("perm", list(Perm), ids=lambda p: p.value)
def test_namnd_holds_only_the_aggregate_permissions(perm):
    """Derived from the enum: a permission added later is refused to the nämnd until someone
    decides here that it reveals no case and no person (docs/architecture.md, invariant 5)."""
    assert (Role.NAMND in PERMISSIONS[perm]) is (perm in NAMND_MAY)
