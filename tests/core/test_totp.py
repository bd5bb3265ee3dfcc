"""TOTP as a second factor for local accounts: enrolment, the login step, lockout, replay."""

from __future__ import annotations

import datetime as dt
import json
import re
import time

import pyotp
import pytest
from sqlalchemy import select

from kontroll.core import auth, totp
from kontroll.core.models import AuditEntry, User, UserSession
from kontroll.db import utcnow
from tests.support.app import PASSWORD
from tests.support.web import csrf_from, login, post_form

PAGE = "/mitt-konto/tvastegsverifiering"
COOKIE = "kontroll_session"


def fresh_code(db, user_id, secret):
    """A code the server has not seen yet: the earliest accepted step after the last used.

    Near the end of a 30-second step the server's clock may move on before the request
    arrives, so wait for the next step then (at most a few seconds)."""
    left = totp.PERIOD - utcnow().timestamp() % totp.PERIOD
    if left < 6:
        time.sleep(left + 0.05)
    db.expire_all()
    last = db.get(User, user_id).totp_last_timestep
    now = totp.timestep(utcnow())
    step = now - 1 if last is None else max(now - 1, last + 1)
    assert step <= now + 1, "test used more codes than the window allows"
    return totp.code_at(secret, step)


def wrong_code(secret):
    now = totp.timestep(utcnow())
    valid = {totp.code_at(secret, s) for s in range(now - 2, now + 3)}
    return next(c for c in ("000000", "111111", "123456", "999999") if c not in valid)


def secret_on(page_html):
    match = re.search(r'id="totp-nyckel">([A-Z2-7 ]+)<', page_html)
    assert match, "no secret on the page"
    return match.group(1).replace(" ", "")


def enrol(client, db, user_id):
    """Turn TOTP on through the pages; returns the secret."""
    assert post_form(client, f"{PAGE}/ny", {}, page=PAGE).status_code == 302
    secret = secret_on(client.get(PAGE).get_data(as_text=True))
    response = post_form(client, f"{PAGE}/bekrafta", {"totp_code": fresh_code(db, user_id, secret)}, page=PAGE)
    assert response.status_code == 302
    return secret


def password_step(client, username="forste"):
    response = login(client, username)
    assert response.status_code == 302 and response.headers["Location"] == "/logga-in/kod", response.status_code
    return response


def code_step(client, code):
    token = csrf_from(client.get("/logga-in/kod").get_data(as_text=True))
    return client.post("/logga-in/kod", data={"totp_code": code, "csrf_token": token})


def actions(db, username):
    db.expire_all()
    return list(db.scalars(select(AuditEntry.action).where(AuditEntry.actor_label == username).order_by(AuditEntry.id)))


@pytest.fixture
def enrolled(client, world, db):
    """forste has TOTP on and is logged out again; returns the secret."""
    login(client, "forste")
    secret = enrol(client, db, world["forste"].id)
    post_form(client, "/logga-ut", {})
    return secret


# --- enrolment ---------------------------------------------------------------------------


def test_enrolment_shows_the_secret_until_confirmed_and_stores_it_encrypted(client, world, db):
    uid = world["forste"].id
    login(client, "forste")
    page = client.get(PAGE).get_data(as_text=True)
    assert "Kom igång" in page
    post_form(client, f"{PAGE}/ny", {}, page=PAGE)
    page = client.get(PAGE).get_data(as_text=True)
    secret = secret_on(page)
    assert len(secret) == 32
    assert "otpauth://totp/" in page and f"secret={secret}" in page
    db.expire_all()
    stored = db.get(User, uid).totp_secret
    assert stored and secret not in stored
    assert totp.decrypt_secret(stored, "test-secret") == secret
    assert totp.decrypt_secret(stored, "another-secret-key") is None
    assert not db.get(User, uid).is_totp_enabled

    # a wrong code does not turn it on, and is audited
    response = post_form(client, f"{PAGE}/bekrafta", {"totp_code": wrong_code(secret)}, page=PAGE)
    assert response.status_code == 422 and "Koden stämmer inte" in response.get_data(as_text=True)
    db.expire_all()
    assert not db.get(User, uid).is_totp_enabled
    assert actions(db, "forste")[-1] == "totp.failure"
    # nonsense is a message, not a 500
    response = post_form(client, f"{PAGE}/bekrafta", {"totp_code": "abc<script>"}, page=PAGE)
    assert response.status_code == 422 and "sexsiffriga" in response.get_data(as_text=True)

    response = post_form(client, f"{PAGE}/bekrafta", {"totp_code": fresh_code(db, uid, secret)}, page=PAGE)
    assert response.status_code == 302
    db.expire_all()
    assert db.get(User, uid).is_totp_enabled
    assert actions(db, "forste")[-1] == "totp.enable"
    page = client.get(PAGE).get_data(as_text=True)
    assert "Påslagen" in page and secret not in page and "otpauth" not in page


def test_enrolment_can_be_cancelled(client, world, db):
    login(client, "forste")
    post_form(client, f"{PAGE}/ny", {}, page=PAGE)
    assert post_form(client, f"{PAGE}/avbryt", {}, page=PAGE).status_code == 302
    db.expire_all()
    assert db.get(User, world["forste"].id).totp_secret is None


def test_every_form_carries_a_csrf_token_and_needs_it(client, world, db):
    login(client, "forste")
    for state in ("start", "enrolling"):
        page = client.get(PAGE).get_data(as_text=True)
        forms = re.findall(r"<form[^>]*method=\"post\".*?</form>", page, re.S)
        assert forms and all('name="csrf_token"' in f for f in forms), state
        if state == "start":
            post_form(client, f"{PAGE}/ny", {}, page=PAGE)
    secret = secret_on(client.get(PAGE).get_data(as_text=True))
    # without the token: the stale-form page, nothing changes
    response = client.post(f"{PAGE}/bekrafta", data={"totp_code": fresh_code(db, world["forste"].id, secret)})
    assert response.status_code == 400
    db.expire_all()
    assert not db.get(User, world["forste"].id).is_totp_enabled


def test_the_page_needs_a_login(client):
    assert client.get(PAGE).status_code == 302


# --- the login step ----------------------------------------------------------------------


def test_login_asks_for_the_code_and_starts_the_session_only_after_it(client, world, db, enrolled):
    uid = world["forste"].id
    password_step(client)
    # a correct password alone gives no session
    assert client.get("/").status_code == 302
    row = db.scalar(select(UserSession).where(UserSession.token_hash == auth.token_hash(client.get_cookie(COOKIE).value)))
    assert row.user_id is None and json.loads(row.pending_login)["kind"] == "totp"
    page = client.get("/logga-in/kod").get_data(as_text=True)
    assert 'name="csrf_token"' in page and 'autocomplete="one-time-code"' in page
    # the code step needs its CSRF token, and the stale-form page does not echo the code
    code = fresh_code(db, uid, enrolled)
    stale = client.post("/logga-in/kod", data={"totp_code": code})
    assert stale.status_code == 400 and code not in stale.get_data(as_text=True)

    before = client.get_cookie(COOKIE).value
    response = code_step(client, fresh_code(db, uid, enrolled))
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.get_cookie(COOKIE).value != before
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "login.success").order_by(AuditEntry.id.desc())).first()
    assert entry.actor_label == "forste" and "lösenord+totp" in entry.details
    assert "login.password_ok" in actions(db, "forste")


def test_the_code_step_without_a_password_goes_back_to_the_login(client, world):
    response = client.get("/logga-in/kod")
    assert response.status_code == 302 and "/logga-in?avbruten=1" in response.headers["Location"]


def test_the_code_step_expires(client, world, db, enrolled):
    password_step(client)
    row = db.scalar(select(UserSession).where(UserSession.token_hash == auth.token_hash(client.get_cookie(COOKIE).value)))
    data = json.loads(row.pending_login)
    data["since"] -= 10 * 60
    row.pending_login = json.dumps(data)
    db.commit()
    response = client.get("/logga-in/kod")
    assert response.status_code == 302 and "avbruten=1" in response.headers["Location"]
    assert "tog för lång tid" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_wrong_codes_count_toward_the_lock(client, world, db, enrolled, app):
    uid = world["forste"].id
    limit = app.config["LOGIN_MAX_FAILURES"]
    password_step(client)
    for n in range(1, limit):
        response = code_step(client, wrong_code(enrolled))
        assert response.status_code == 401 and "Koden stämmer inte" in response.get_data(as_text=True)
        db.expire_all()
        assert db.get(User, uid).failed_login_count == n
    # a correct password again gives no fresh guesses
    password_step(client)
    db.expire_all()
    assert db.get(User, uid).failed_login_count == limit - 1
    response = code_step(client, wrong_code(enrolled))
    assert response.status_code == 401 and "tillfälligt spärrat" in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(User, uid).locked_until_dt is not None
    # locked: neither the password nor a right code helps
    response = login(client, "forste")
    assert response.status_code == 401 and "tillfälligt spärrat" in response.get_data(as_text=True)
    assert client.get("/logga-in/kod").status_code == 302
    assert client.get("/").status_code == 302
    assert "login.failure" in actions(db, "forste")


def test_a_code_cannot_be_used_twice(client, world, db, enrolled):
    uid = world["forste"].id
    password_step(client)
    code = fresh_code(db, uid, enrolled)
    assert code_step(client, code).status_code == 302
    post_form(client, "/logga-ut", {})
    password_step(client)
    response = code_step(client, code)
    assert response.status_code == 401 and "redan använts" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    db.expire_all()
    assert db.get(User, uid).failed_login_count == 1
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "login.failure").order_by(AuditEntry.id.desc())).first()
    assert "totp_reused" in entry.details


def test_the_code_tolerates_spaces(client, world, db, enrolled):
    code = fresh_code(db, world["forste"].id, enrolled)
    password_step(client)
    assert code_step(client, f" {code[:3]} {code[3:]} ").status_code == 302


# --- turning it off ----------------------------------------------------------------------


def test_disabling_takes_a_current_code(client, world, db, enrolled):
    uid = world["forste"].id
    password_step(client)
    code_step(client, fresh_code(db, uid, enrolled))
    response = post_form(client, f"{PAGE}/stang-av", {"totp_code": wrong_code(enrolled)}, page=PAGE)
    assert response.status_code == 422
    db.expire_all()
    assert db.get(User, uid).is_totp_enabled
    assert actions(db, "forste")[-1] == "totp.failure"
    response = post_form(client, f"{PAGE}/stang-av", {"totp_code": fresh_code(db, uid, enrolled)}, page=PAGE)
    assert response.status_code == 302
    db.expire_all()
    user = db.get(User, uid)
    assert not user.is_totp_enabled and user.totp_secret is None
    assert actions(db, "forste")[-1] == "totp.disable"
    post_form(client, "/logga-ut", {})
    assert login(client, "forste").headers["Location"] == "/"


def test_sysadmin_resets_a_lost_phone(client, world, db, enrolled, app):
    uid = world["forste"].id
    admin = app.test_client()
    login(admin, "sysadmin")
    page = admin.get(f"/admin/anvandare/{uid}").get_data(as_text=True)
    assert "Påslagen" in page
    response = post_form(admin, f"/admin/anvandare/{uid}/tvastegsverifiering/aterstall", {},
                         page=f"/admin/anvandare/{uid}")
    assert response.status_code == 302
    db.expire_all()
    assert not db.get(User, uid).is_totp_enabled
    entry = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry.action == "totp.reset" and entry.actor_label == "sysadmin" and entry.object_id == str(uid)
    assert login(client, "forste").headers["Location"] == "/"


def test_a_reset_during_the_code_step_sends_back_to_the_password(client, world, db, enrolled):
    password_step(client)
    user = db.get(User, world["forste"].id)
    totp.reset(db, "test", user)
    db.commit()
    response = code_step(client, "123456")
    assert response.status_code == 401 and "Logga in igen" in response.get_data(as_text=True)


def test_an_sso_only_user_cannot_enrol(client, world, db):
    user = db.get(User, world["forste"].id)
    login(client, "forste")
    user.password_hash = None
    db.commit()
    response = post_form(client, f"{PAGE}/ny", {}, page=PAGE)
    assert response.status_code == 422 and "organisationens konto" in response.get_data(as_text=True)


# --- the pure parts ----------------------------------------------------------------------


def test_match_accepts_one_step_of_drift_and_refuses_reuse():
    secret = pyotp.random_base32()
    now = dt.datetime(2026, 3, 1, 12, 0, 10, tzinfo=dt.timezone.utc)
    step = totp.timestep(now)
    assert totp.code_at(secret, step) == pyotp.TOTP(secret).at(now)
    assert totp.match(secret, totp.code_at(secret, step), now, None) == ("ok", step)
    assert totp.match(secret, totp.code_at(secret, step - 1), now, None) == ("ok", step - 1)
    assert totp.match(secret, totp.code_at(secret, step + 1), now, None) == ("ok", step + 1)
    assert totp.match(secret, totp.code_at(secret, step - 2), now, None)[0] in ("wrong",)
    assert totp.match(secret, totp.code_at(secret, step), now, step) == ("reused", step)
    assert totp.match(secret, totp.code_at(secret, step - 1), now, step)[0] == "reused"


def test_normalise_code():
    assert totp.normalise_code(" 123 456 ") == "123456"
    assert totp.normalise_code("123-456") == "123456"
    for bad in ("", None, "12345", "1234567", "abcdef", "１２３４５６"):
        assert totp.normalise_code(bad) is None


def test_the_password_alone_still_works_without_totp(client, world):
    assert login(client, "forste", PASSWORD).headers["Location"] == "/"
