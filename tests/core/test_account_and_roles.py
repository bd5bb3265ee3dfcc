"""Mitt konto and roles that make sense. A local user changes their own password. The current password is required, the
new one is typed twice and meets the rules; every other session of the user ends and this one
stays; a refusal changes nothing. An SSO user is told where to change it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kontroll.core import users as user_svc
from kontroll.core.errors import ValidationError
from kontroll.core.models import AuditEntry, Role, UserSession
from tests.support.app import PASSWORD
from tests.support.web import login, post_form

NEW = "ett nytt och långt lösenord för kontroll"


def _change(client, current=PASSWORD, new=NEW, repeat=NEW):
    return post_form(client, "/mitt-konto/losenord",
                     {"current_password": current, "new_password": new, "repeat_password": repeat},
                     page="/mitt-konto")


def test_change_own_password_ends_the_other_sessions(app, db, world):
    here, elsewhere = app.test_client(), app.test_client()
    login(here, "forste")
    login(elsewhere, "forste")
    page = here.get("/").get_data(as_text=True)
    assert 'href="/mitt-konto"' in page and "Mitt konto" in page
    assert "Byt lösenord" in here.get("/mitt-konto").get_data(as_text=True)

    response = _change(here)
    assert response.status_code == 302
    said = here.get(response.headers["Location"]).get_data(as_text=True)
    assert "Ditt lösenord är bytt. Du har loggats ut på 1 annan plats." in said
    assert elsewhere.get("/").status_code == 302, "the other session has ended"
    assert here.get("/").status_code == 200, "this one stays"
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == world["forste"].id)) == 1
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "user.password_own")) == 1

    old = app.test_client()
    login(old, "forste")
    assert old.get("/").status_code == 302, "the old password no longer logs in"
    fresh = app.test_client()
    login(fresh, "forste", NEW)
    assert fresh.get("/").status_code == 200


def test_refusals_change_nothing(app, db, world):
    client = app.test_client()
    login(client, "forste")
    before = world["forste"].password_hash
    for args, words in ((("fel lösenord helt och hållet",), "Det nuvarande lösenordet stämmer inte."),
                        ((PASSWORD, NEW, NEW + "x"), "inte lika"),
                        ((PASSWORD, PASSWORD, PASSWORD), "Välj ett nytt lösenord"),
                        ((PASSWORD, "kort", "kort"), "12 tecken")):
        response = _change(client, *args)
        html = response.get_data(as_text=True)
        assert response.status_code == 422, words
        assert words in html
        assert 'id="felmeddelande"' in html
    db.expire_all()
    assert db.get(type(world["forste"]), world["forste"].id).password_hash == before
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "user.password_own")) == 0


def test_roles_that_make_sense(app, client, db, world):
    """A systemadministratör in one unit would have nothing to do: refused. One person who is
    both revisor and a reviewer is warned about on their page (självgranskning)."""
    with pytest.raises(ValidationError, match="gäller hela organisationen"):
        user_svc.add_role(db, "t", world["forste"], Role.SYSTEMADMINISTRATOR, world.ifo)
    db.rollback()
    login(client, "sysadmin")
    page = client.get(f"/admin/anvandare/{world['forste'].id}").get_data(as_text=True)
    assert "Självgranskning" not in page
    user_svc.add_role(db, "t", world["forste"], Role.REVISOR, None)
    db.commit()
    page = client.get(f"/admin/anvandare/{world['forste'].id}").get_data(as_text=True)
    assert "Självgranskning" in page and "både revisor och 1:e socialsekreterare" in page
