"""Single sign-on (OpenID Connect) against a local identity provider (tests/support/oidc_idp.py):
the whole round trip with the Flask test client, and every way it must be refused."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select

from kontroll.config import ConfigError
from kontroll.core import auth, sso
from kontroll.core.models import AuditEntry, Role, RoleAssignment, User, UserSession
from kontroll.db import get_database
from tests.support.app import make_test_app
from tests.support.oidc_idp import TENANT, FakeIdP, other_key
from tests.support.web import csrf_from, login, post_form

COOKIE = "kontroll_session"
ROLE_MAP = {
    "Kontroll.Revisor": {"role": "revisor"},
    "Kontroll.Sektionschef.IFO-FS": {"role": "sektionschef", "unit": "IFO-FS"},
    "Kontroll.Forste.INT": {"role": "forste_socialsekreterare", "unit": "INT"},
}
OID = "aaaaaaaa-0000-0000-0000-000000000001"


@pytest.fixture(scope="module")
def idp() -> Iterator[FakeIdP]:
    server = FakeIdP().start()
    yield server
    server.stop()


@pytest.fixture
def sso_app(database_url, idp):
    """Builds apps configured for the provider; each test may add settings."""
    idp.reset()
    apps = []

    def build(**extra):
        app = make_test_app(database_url, **idp.app_config(**extra))
        apps.append(app)
        return app

    yield build
    for app in apps:
        get_database(app).engine.dispose()


@pytest.fixture
def app(sso_app):
    return sso_app()


def start_sso(client, next_url=None):
    """Press "Logga in med organisationens konto": the redirect to the provider."""
    token = csrf_from(client.get("/logga-in").get_data(as_text=True))
    data = {"csrf_token": token}
    if next_url:
        data["next"] = next_url
    response = client.post("/logga-in/sso", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def at_provider(authorize_url):
    """What the browser does at the provider: follow /authorize to the callback URL."""
    answer = requests.get(authorize_url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    parts = urlsplit(answer.headers["Location"])
    assert parts.path == "/logga-in/sso/svar"
    return f"{parts.path}?{parts.query}"


def sso_login(client, next_url=None):
    return client.get(at_provider(start_sso(client, next_url)))


def link(db, user, oid=OID, tid=TENANT):
    user = db.get(User, user.id)
    user.oidc_tid, user.oidc_oid = tid, oid
    db.commit()
    return user


def logged_in(client):
    return client.get("/").status_code == 200


def last_entry(db, action=None):
    db.expire_all()
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    if action:
        query = query.where(AuditEntry.action == action)
    return db.scalars(query).first()


def roles_of(db, user_id):
    db.expire_all()
    rows = db.scalars(select(RoleAssignment).where(RoleAssignment.user_id == user_id))
    return {(a.role.value, a.unit.code if a.unit else None, a.source) for a in rows}


# --- the round trip ----------------------------------------------------------------------


def test_a_linked_user_logs_in_with_state_nonce_and_pkce(client, world, db, idp):
    link(db, world["revisor"])
    idp.login_as(OID, name="Revisor Rut")
    client.get("/logga-in")
    before = client.get_cookie(COOKIE).value
    response = sso_login(client, next_url="/revision/logg")
    assert response.status_code == 302 and response.headers["Location"] == "/revision/logg"
    assert logged_in(client)
    # the session was rotated and is an ordinary server-side one
    after = client.get_cookie(COOKIE).value
    assert after != before
    row = db.scalar(select(UserSession).where(UserSession.token_hash == auth.token_hash(after)))
    assert row.user_id == world["revisor"].id and row.pending_login is None
    # what went to the provider: code flow, state, nonce, PKCE S256
    sent = idp.authorize_requests[-1]
    assert sent["response_type"] == "code" and sent["state"] and sent["nonce"]
    assert sent["code_challenge_method"] == "S256" and sent["code_challenge"]
    assert idp.token_requests[-1]["code_verifier"]
    entry = last_entry(db, "login.success")
    assert entry.actor_user_id == world["revisor"].id and '"metod":"sso"' in entry.details
    db.expire_all()
    assert db.get(User, world["revisor"].id).last_login_dt is not None


def test_the_login_page_offers_the_organisation_account(client, idp):
    response = client.get("/logga-in")
    page = response.get_data(as_text=True)
    assert "Logga in med organisationens konto" in page
    assert 'name="password"' in page  # local login stays
    # the button's POST is answered with a redirect to the provider: form-action must allow it
    assert f"form-action 'self' {idp.base_url};" in response.headers["Content-Security-Policy"]
    assert "form-action 'self';" in client.get("/halsa").headers["Content-Security-Policy"]


def test_without_oidc_there_is_no_button_and_no_route(database_url):
    app = make_test_app(database_url)
    try:
        client = app.test_client()
        assert "organisationens konto" not in client.get("/logga-in").get_data(as_text=True)
        assert client.get("/logga-in/sso/svar?code=x&state=y").status_code == 404
    finally:
        get_database(app).engine.dispose()


def test_local_login_can_be_turned_off(sso_app, world):
    client = sso_app(LOCAL_LOGIN_ENABLED=False).test_client()
    page = client.get("/logga-in").get_data(as_text=True)
    assert "Logga in med organisationens konto" in page and 'name="password"' not in page
    response = login(client, "sektionschef")
    assert response.status_code == 403 and "avstängd" in response.get_data(as_text=True)
    assert not logged_in(client)


# --- refusals ----------------------------------------------------------------------------


def test_an_unknown_person_is_refused_with_the_ids_for_the_administrator(client, world, db, idp):
    idp.login_as(OID, preferred_username="ny.person@kommun.se")
    response = sso_login(client)
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "Ditt konto finns inte i kontroll. Kontakta systemadministratören." in html
    assert OID in html and TENANT in html
    assert not logged_in(client)
    entry = last_entry(db)
    assert entry.action == "login.sso_unknown" and OID in entry.details and "ny.person@kommun.se" in entry.details


def test_a_matching_username_or_email_is_not_enough(client, world, db, idp):
    """preferred_username/email are never used to find the user: only tid + oid."""
    user = db.get(User, world["revisor"].id)
    user.email = "revisor@kommun.se"
    db.commit()
    idp.login_as(OID, preferred_username="revisor", email="revisor@kommun.se")
    assert sso_login(client).status_code == 403
    assert not logged_in(client)


def test_another_tenant_is_refused(sso_app, world, db, idp):
    other_tenant = "99999999-8888-7777-6666-555555555555"
    client = sso_app(OIDC_TENANT_ID=TENANT).test_client()
    link(db, world["revisor"], tid=other_tenant)  # even a linked account
    idp.login_as(OID, tid=other_tenant)
    response = sso_login(client)
    assert response.status_code == 403 and "annan organisation" in response.get_data(as_text=True)
    assert not logged_in(client)
    entry = last_entry(db)
    assert entry.action == "login.sso_failure" and "wrong_tenant" in entry.details


def test_an_inactive_user_is_refused(client, world, db, idp):
    user = link(db, world["revisor"])
    user.is_active = False
    db.commit()
    idp.login_as(OID)
    response = sso_login(client)
    assert response.status_code == 403 and "avstängt" in response.get_data(as_text=True)
    assert not logged_in(client)
    assert last_entry(db).action == "login.inactive"


def test_a_wrong_state_starts_no_session(client, world, db, idp):
    link(db, world["revisor"])
    idp.login_as(OID)
    callback = at_provider(start_sso(client))
    forged = callback.replace("state=", "state=x")
    response = client.get(forged)
    assert response.status_code == 400 and "Börja om" in response.get_data(as_text=True)
    assert not logged_in(client)
    assert "state" in last_entry(db, "login.sso_failure").details
    # the round trip is used up: the genuine callback no longer works either
    assert client.get(callback).status_code == 400
    assert not logged_in(client)


def test_a_callback_in_another_browser_is_refused(client, app, world, db, idp):
    """The state is tied to the server-side session of the browser that started."""
    link(db, world["revisor"])
    idp.login_as(OID)
    callback = at_provider(start_sso(client))
    attacker = app.test_client()
    attacker.get("/logga-in")
    assert attacker.get(callback).status_code == 400
    assert not logged_in(attacker)


def test_a_stale_round_trip_is_refused(client, world, db, idp):
    link(db, world["revisor"])
    idp.login_as(OID)
    callback = at_provider(start_sso(client))
    row = db.scalar(select(UserSession).where(UserSession.token_hash == auth.token_hash(client.get_cookie(COOKIE).value)))
    data = json.loads(row.pending_login)
    data["since"] = time.time() - sso.PENDING_SECONDS - 5
    row.pending_login = json.dumps(data)
    db.commit()
    response = client.get(callback)
    assert response.status_code == 400 and "för lång tid" in response.get_data(as_text=True)
    assert not logged_in(client)


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda idp: setattr(idp, "tamper_signature", True), id="signature"),
        pytest.param(lambda idp: setattr(idp, "sign_with", other_key()), id="unknown-key"),
        pytest.param(lambda idp: idp.overrides.update(exp=int(time.time()) - 600), id="expired"),
        pytest.param(lambda idp: idp.overrides.update(aud="another-client"), id="audience"),
        pytest.param(lambda idp: idp.overrides.update(iss="https://evil.example/v2.0"), id="issuer"),
        pytest.param(lambda idp: idp.overrides.update(nonce="replayed-nonce"), id="nonce"),
        pytest.param(lambda idp: idp.overrides.update(nonce=None), id="no-nonce"),
    ],
)
def test_a_bad_id_token_is_refused(client, world, db, idp, spoil):
    link(db, world["revisor"])
    idp.login_as(OID)
    spoil(idp)
    response = sso_login(client)
    assert response.status_code == 400
    assert "kunde inte slutföras" in response.get_data(as_text=True)
    assert not logged_in(client)
    entry = last_entry(db)
    assert entry.action == "login.sso_failure" and "id_token" in entry.details


def test_the_provider_refusing_is_a_clear_page(client, world, db, idp):
    idp.next_user = None  # the provider answers error=access_denied
    response = sso_login(client)
    assert response.status_code == 400 and "avbröt inloggningen" in response.get_data(as_text=True)
    assert "idp_error" in last_entry(db, "login.sso_failure").details


def test_an_unreachable_provider_is_a_clear_page(sso_app, world, db):
    client = sso_app(OIDC_METADATA_URL="http://127.0.0.1:9/t/v2.0/.well-known/openid-configuration",
                     OIDC_TIMEOUT=2).test_client()
    token = csrf_from(client.get("/logga-in").get_data(as_text=True))
    response = client.post("/logga-in/sso", data={"csrf_token": token})
    assert response.status_code == 502 and "svarar inte" in response.get_data(as_text=True)


def test_starting_sso_needs_the_csrf_token(client):
    client.get("/logga-in")
    response = client.post("/logga-in/sso", data={})
    assert response.status_code == 400


def test_bad_callback_input_never_gives_500(client, world):
    for query in ("", "?state=", "?code=&state=abc", "?error=x", "?code=" + "x" * 5000 + "&state=y",
                  "?state=%00%ff"):
        assert client.get("/logga-in/sso/svar" + query).status_code == 400


# --- roles from the roles claim ----------------------------------------------------------


def test_roles_follow_the_claim_and_manual_roles_are_never_touched(sso_app, world, db, idp):
    client = sso_app(OIDC_ROLE_MAP=ROLE_MAP).test_client()
    user = link(db, world["forste"])  # holds forste_socialsekreterare in IFO-FS, given by hand
    manual = roles_of(db, user.id)
    assert manual == {("forste_socialsekreterare", "IFO-FS", "manual")}

    idp.login_as(OID, roles=["Kontroll.Revisor", "Kontroll.Sektionschef.IFO-FS", "Något.Annat"])
    assert sso_login(client).status_code == 302
    assert roles_of(db, user.id) == manual | {("revisor", None, "sso"), ("sektionschef", "IFO-FS", "sso")}
    added = [e for e in db.scalars(select(AuditEntry).where(AuditEntry.action == "role.add",
                                                             AuditEntry.object_id == str(user.id)))]
    assert sum('"källa":"sso"' in e.details for e in added) == 2

    # next login: Entra no longer gives Sektionschef
    post_form(client, "/logga-ut", {})
    idp.login_as(OID, roles=["Kontroll.Revisor"])
    assert sso_login(client).status_code == 302
    assert roles_of(db, user.id) == manual | {("revisor", None, "sso")}
    removed = last_entry(db, "role.remove")
    assert '"källa":"sso"' in removed.details and "sektionschef" in removed.details

    # no app roles at all: every SSO role goes, the manual one stays
    post_form(client, "/logga-ut", {})
    idp.login_as(OID, roles=[])
    assert sso_login(client).status_code == 302
    assert roles_of(db, user.id) == manual


def test_a_role_given_by_hand_is_not_taken_over_by_sso(sso_app, world, db, idp):
    client = sso_app(OIDC_ROLE_MAP=ROLE_MAP).test_client()
    user = link(db, world["revisor"])  # revisor for the whole organisation, by hand
    idp.login_as(OID, roles=["Kontroll.Revisor"])
    assert sso_login(client).status_code == 302
    assert roles_of(db, user.id) == {("revisor", None, "manual")}
    post_form(client, "/logga-ut", {})
    idp.login_as(OID, roles=[])
    assert sso_login(client).status_code == 302
    assert roles_of(db, user.id) == {("revisor", None, "manual")}


def test_without_a_role_map_sso_changes_no_roles(client, world, db, idp):
    user = link(db, world["forste"])
    idp.login_as(OID, roles=["Kontroll.Revisor"])
    assert sso_login(client).status_code == 302
    assert roles_of(db, user.id) == {("forste_socialsekreterare", "IFO-FS", "manual")}


def test_a_role_map_naming_a_missing_unit_is_skipped(sso_app, world, db, idp):
    client = sso_app(OIDC_ROLE_MAP={**ROLE_MAP, "X": {"role": "enhetschef", "unit": "FINNS-EJ"}}).test_client()
    user = link(db, world["revisor"])
    idp.login_as(OID, roles=["X", "Kontroll.Sektionschef.IFO-FS"])
    assert sso_login(client).status_code == 302
    assert ("sektionschef", "IFO-FS", "sso") in roles_of(db, user.id)


# --- first login: auto-create or not -----------------------------------------------------


def test_auto_create_makes_a_linked_user_with_the_mapped_roles(sso_app, world, db, idp):
    client = sso_app(OIDC_ROLE_MAP=ROLE_MAP, OIDC_AUTO_CREATE=True).test_client()
    idp.login_as(OID, roles=["Kontroll.Forste.INT"], name="Åsa Öberg",
                 preferred_username="Åsa.Öberg@kommun.se", email="asa.oberg@kommun.se")
    assert sso_login(client).status_code == 302
    assert logged_in(client)
    user = db.scalar(select(User).where(User.oidc_oid == OID))
    assert user.username == "asa.oberg" and user.full_name == "Åsa Öberg" and user.oidc_tid == TENANT
    assert user.password_hash is None
    assert roles_of(db, user.id) == {("forste_socialsekreterare", "INT", "sso")}
    actions = [e.action for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))][-5:]
    assert actions[-1] == "login.success" and "user.create" in actions and "role.add" in actions


def test_auto_create_needs_a_mapped_role(sso_app, world, db, idp):
    client = sso_app(OIDC_ROLE_MAP=ROLE_MAP, OIDC_AUTO_CREATE=True).test_client()
    idp.login_as(OID, roles=["Något.Annat"], preferred_username="x@kommun.se")
    response = sso_login(client)
    assert response.status_code == 403 and "finns inte i kontroll" in response.get_data(as_text=True)
    assert db.scalar(select(User).where(User.oidc_oid == OID)) is None
    assert last_entry(db).action == "login.sso_unknown"


def test_auto_create_is_off_by_default(sso_app, world, db, idp):
    client = sso_app(OIDC_ROLE_MAP=ROLE_MAP).test_client()
    idp.login_as(OID, roles=["Kontroll.Revisor"])
    assert sso_login(client).status_code == 403
    assert db.scalar(select(User).where(User.oidc_oid == OID)) is None


def test_auto_create_finds_a_free_username(sso_app, world, db, idp):
    client = sso_app(OIDC_ROLE_MAP=ROLE_MAP, OIDC_AUTO_CREATE=True).test_client()
    idp.login_as(OID, roles=["Kontroll.Revisor"], preferred_username="revisor@kommun.se", name="Ny Revisor")
    assert sso_login(client).status_code == 302
    user = db.scalar(select(User).where(User.oidc_oid == OID))
    assert user.username == "revisor-2" and user.id != world["revisor"].id


# --- the administrator's link ------------------------------------------------------------


def test_sysadmin_links_and_unlinks_a_user(client, world, db, idp):
    login(client, "sysadmin")
    uid = world["enhetschef"].id
    page = client.get(f"/admin/anvandare/{uid}").get_data(as_text=True)
    assert "Inte kopplat" in page
    response = post_form(client, f"/admin/anvandare/{uid}/sso",
                         {"oidc_tid": TENANT.upper(), "oidc_oid": OID}, page=f"/admin/anvandare/{uid}")
    assert response.status_code == 302
    db.expire_all()
    user = db.get(User, uid)
    assert (user.oidc_tid, user.oidc_oid) == (TENANT, OID)  # GUIDs kept in lower case
    assert "Kopplat" in client.get(f"/admin/anvandare/{uid}").get_data(as_text=True)
    assert "Organisationskonto" in client.get("/admin/anvandare").get_data(as_text=True)
    assert last_entry(db).action == "user.sso_link"

    # the same organisation account cannot be linked twice
    other = world["revisor"].id
    response = post_form(client, f"/admin/anvandare/{other}/sso", {"oidc_tid": TENANT, "oidc_oid": OID},
                         page=f"/admin/anvandare/{other}")
    assert response.status_code == 422 and "redan kopplat till" in response.get_data(as_text=True)
    # bad input is a message, not a 500
    response = post_form(client, f"/admin/anvandare/{other}/sso", {"oidc_tid": "inte ett id!", "oidc_oid": ""},
                         page=f"/admin/anvandare/{other}")
    assert response.status_code == 422

    # the linked person can log in now
    sso_client = client.application.test_client()
    idp.login_as(OID)
    assert sso_login(sso_client).status_code == 302 and logged_in(sso_client)

    response = post_form(client, f"/admin/anvandare/{uid}/sso/ta-bort", {}, page=f"/admin/anvandare/{uid}")
    assert response.status_code == 302
    db.expire_all()
    assert db.get(User, uid).oidc_oid is None
    assert last_entry(db).action == "user.sso_unlink"


def test_only_sysadmin_may_link(client, world):
    login(client, "sektionschef")
    uid = world["forste"].id
    response = post_form(client, f"/admin/anvandare/{uid}/sso", {"oidc_tid": TENANT, "oidc_oid": OID})
    assert response.status_code == 403


# --- configuration -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings, fragment",
    [
        ({"OIDC_METADATA_URL": "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration",
          "OIDC_CLIENT_ID": "a", "OIDC_CLIENT_SECRET": "b"}, "tenant-specific"),
        ({"OIDC_METADATA_URL": "https://idp.example/t/v2.0/.well-known/openid-configuration"}, "OIDC_CLIENT_ID"),
        ({"OIDC_METADATA_URL": "https://idp.example/t/.well-known/openid-configuration", "OIDC_CLIENT_ID": "a",
          "OIDC_CLIENT_SECRET": "b", "OIDC_ROLE_MAP": {"X": {"role": "kung"}}}, "unknown role"),
        ({"OIDC_METADATA_URL": "https://idp.example/t/.well-known/openid-configuration", "OIDC_CLIENT_ID": "a",
          "OIDC_CLIENT_SECRET": "b", "OIDC_ROLE_MAP": {"X": {"role": "sektionschef"}}}, "needs a \"unit\""),
        ({"LOCAL_LOGIN_ENABLED": False}, "nobody could log in"),
    ],
)
def test_a_configuration_that_cannot_work_stops_the_start(database_url, settings, fragment):
    with pytest.raises(ConfigError, match=fragment.replace('"', '.')):
        make_test_app(database_url, **settings)


def test_role_map_parsing():
    parsed = sso.parse_role_map(ROLE_MAP)
    assert parsed["Kontroll.Revisor"] == sso.RoleTarget(Role.REVISOR, None)
    assert parsed["Kontroll.Sektionschef.IFO-FS"] == sso.RoleTarget(Role.SEKTIONSCHEF, "IFO-FS")
    assert sso.parse_role_map({}) == {}
    with pytest.raises(ValueError):
        sso.parse_role_map(["not", "a", "map"])
