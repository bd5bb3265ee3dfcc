"""Systemadministratör's pages: each change works, each refusal is Swedish and changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from kontroll.core.models import AuditEntry, Role, RoleAssignment, Team, Unit, User
from tests.support.web import login, post_form


def _count(db, model):
    return db.scalar(select(func.count()).select_from(model))


def test_create_user_and_give_a_role(client, world, db):
    login(client, "sysadmin")
    response = post_form(client, "/admin/anvandare/ny",
                         {"username": "karl.k", "full_name": "Karl Karlsson", "case_system_id": "KAKA",
                          "password": "ett-langt-losen"}, page="/admin/anvandare/ny")
    assert response.status_code == 302
    user = db.scalar(select(User).where(User.username == "karl.k"))
    response = post_form(client, f"/admin/anvandare/{user.id}/roller", {"role": "forste_socialsekreterare", "unit": "IFO-FS"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Rollen är tilldelad Karl Karlsson." in page
    assert db.scalar(select(RoleAssignment).where(RoleAssignment.user_id == user.id)).role == Role.FORSTE_SOCIALSEKRETERARE


def test_bad_user_input_is_refused_in_swedish_and_changes_nothing(client, world, db):
    login(client, "sysadmin")
    before = _count(db, User), _count(db, AuditEntry)
    for data, message in (
        ({"username": "Ä!", "full_name": "X"}, "Användarnamnet ska vara"),
        ({"username": "forste", "full_name": "X"}, "finns redan"),
        ({"username": "ny.en", "full_name": ""}, "Ange användarens namn"),
        ({"username": "ny.en", "full_name": "Ny", "password": "kort"}, "minst 12 tecken"),
        ({"username": "ny.en", "full_name": "Ny", "email": "inte-en-adress"}, "E-postadressen"),
    ):
        response = post_form(client, "/admin/anvandare/ny", data, page="/admin/anvandare/ny")
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert message in html
        assert f'value="{data["full_name"]}"' in html  # what was typed is kept
    # only the login itself was audited
    assert _count(db, User) == before[0]
    assert _count(db, AuditEntry) == before[1]


def test_org_wide_role_only_for_org_wide_roles(client, world, db):
    login(client, "sysadmin")
    uid = world["handlaggare"].id
    response = post_form(client, f"/admin/anvandare/{uid}/roller", {"role": "sektionschef", "unit": ""})
    assert response.status_code == 422
    assert "måste höra till en enhet" in response.get_data(as_text=True)
    assert _count(db, RoleAssignment) == 9


def test_deactivate_and_activate(client, world, db):
    login(client, "sysadmin")
    uid = world["forste"].id
    assert post_form(client, f"/admin/anvandare/{uid}/stang-av", {}).status_code == 302
    db.expire_all()
    assert db.get(User, uid).is_active is False
    assert post_form(client, f"/admin/anvandare/{uid}/aktivera", {}).status_code == 302
    db.expire_all()
    assert db.get(User, uid).is_active is True


def test_admin_cannot_lock_themselves_out(client, world, db):
    login(client, "sysadmin")
    uid = world["sysadmin"].id
    response = post_form(client, f"/admin/anvandare/{uid}/stang-av", {})
    assert response.status_code == 422 and "ditt eget konto" in response.get_data(as_text=True)
    assignment = world["sysadmin"].role_assignments[0]
    response = post_form(client, f"/admin/anvandare/{uid}/roller/{assignment.id}/ta-bort", {})
    assert response.status_code == 422
    db.expire_all()
    assert db.get(User, uid).is_active and db.get(RoleAssignment, assignment.id) is not None


def test_unit_settings_and_teams(client, world, db):
    login(client, "sysadmin")
    response = post_form(client, "/admin/enheter/IFO-FS",
                         {"name": "Försörjningsstöd", "drawer_role": "sektionschef", "sample_size": "3",
                          "genomgang_min": "4", "genomgang_max": "6", "hemmablindhet_protection": "nej",
                          "stratify_by_team": "ja", "exclude_reviewed_months": "3", "snapshot_max_age_days": "20"})
    assert response.status_code == 302
    db.expire_all()
    unit = db.scalar(select(Unit).where(Unit.code == "IFO-FS"))
    assert unit.sample_size == 3 and unit.hemmablindhet_protection is False
    assert unit.stratify_by_team is True and unit.exclude_reviewed_months == 3 and unit.snapshot_max_age_days == 20
    response = post_form(client, "/admin/enheter/IFO-FS",
                         {"name": "X", "drawer_role": "sektionschef", "sample_size": "0",
                          "genomgang_min": "4", "genomgang_max": "6", "hemmablindhet_protection": "ja"})
    assert response.status_code == 422 and "mellan 1 och 1000" in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(Unit, unit.id).name == "Försörjningsstöd"
    assert post_form(client, "/admin/enheter/IFO-FS/grupper", {"team_name": "Grupp A"}).status_code == 302
    team = db.scalar(select(Team).where(Team.name == "Grupp A"))
    response = post_form(client, f"/admin/enheter/IFO-FS/grupper/{team.id}/ledare", {"lead": str(world["forste"].id)})
    assert response.status_code == 302
    db.expire_all()
    assert db.get(Team, team.id).lead_user_id == world["forste"].id
    page = client.get("/enheter/IFO-FS").get_data(as_text=True)
    assert "Grupp A" in page and world["forste"].full_name in page


def test_unit_create(client, world, db):
    login(client, "sysadmin")
    response = post_form(client, "/admin/enheter", {"code": "ifo-vx", "name": "Vuxen", "drawer_role": "sektionschef", "sample_size": "2"})
    assert response.status_code == 302
    assert db.scalar(select(Unit).where(Unit.code == "IFO-VX")) is not None
    response = post_form(client, "/admin/enheter", {"code": "IFO-VX", "name": "Igen", "sample_size": "2"})
    assert response.status_code == 422 and "finns redan" in response.get_data(as_text=True)


def test_revisor_reads_the_audit_log_with_filters(client, world, db):
    login(client, "forste", "fel-losenord-1")
    login(client, "revisor")
    page = client.get("/revision/logg?handelse=login.failure").get_data(as_text=True)
    assert "Misslyckad inloggning" in page and "forste" in page
    page = client.get("/revision/logg?anvandare=revisor").get_data(as_text=True)
    assert "forste" not in page.split("<tbody>")[1]
    page = client.get("/revision/logg?fran=inte-ett-datum").get_data(as_text=True)
    assert "Ett datum kunde inte tolkas" in page


def test_user_page_forms_act_on_the_shown_user_not_the_admin(client, world):
    """Regression: the layout's own `user` variable once leaked into the page's forms."""
    login(client, "sysadmin")
    uid = world["handlaggare"].id
    html = client.get(f"/admin/anvandare/{uid}").get_data(as_text=True)
    for path in ("roller", "uppgifter", "losenord", "stang-av"):
        assert f'action="/admin/anvandare/{uid}/{path}"' in html
    assert f'/admin/anvandare/{world["sysadmin"].id}/' not in html
