"""Login, logout, session expiry and rotation, account lock, CSRF: each asserts the outcome."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from sqlalchemy import func, select

from kontroll.core import auth
from kontroll.core import users as svc
from kontroll.core.models import AuditEntry, User, UserSession
from kontroll.db import get_database
from tests.support.app import PASSWORD
from tests.support.web import csrf_from, login, post_form

COOKIE = "kontroll_session"


def _cookie(client):
    cookie = client.get_cookie(COOKIE)
    return cookie.value if cookie else None


def _actions(db, username=None):
    query = select(AuditEntry.action).order_by(AuditEntry.id)
    if username:
        query = query.where(AuditEntry.actor_label == username)
    return list(db.scalars(query))


def test_login_sets_a_hardened_cookie_and_records_the_login(client, world, db):
    response = login(client, "sektionschef")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    header = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE)][0]
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header
    token = _cookie(client)
    assert token and len(token) >= 43  # 256 bits, url-safe base64
    row = db.scalar(select(UserSession).where(UserSession.token_hash == auth.token_hash(token)))
    assert row is not None and row.user_id == world["sektionschef"].id
    # the database keeps only a hash of the cookie's token
    assert db.scalar(select(func.count()).select_from(UserSession).where(UserSession.token_hash == token)) == 0
    assert "login.success" in _actions(db, "sektionschef")
    page = client.get("/").get_data(as_text=True)
    assert "Hej Sektionschef" in page


def test_session_id_rotates_at_login(client, world, db):
    client.get("/logga-in")
    before = _cookie(client)
    assert before is not None  # the login form's anonymous session
    login(client, "forste")
    after = _cookie(client)
    assert after and after != before
    assert db.scalar(select(UserSession).where(UserSession.token_hash == auth.token_hash(before))) is None
    # a fixated pre-login id gives no access
    other = client.application.test_client()
    other.set_cookie(COOKIE, before)
    assert other.get("/").status_code == 302


def test_wrong_password_is_refused_in_swedish_and_counted(client, world, db):
    response = login(client, "forste", "fel-losenord")
    assert response.status_code == 401
    assert "Fel användarnamn eller lösenord" in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(User, world["forste"].id).failed_login_count == 1
    assert client.get("/").status_code == 302
    assert _actions(db, "forste")[-1] == "login.failure"


def test_unknown_user_gets_the_same_message_and_is_audited(client, world, db):
    response = login(client, "finns.inte")
    assert "Fel användarnamn eller lösenord" in response.get_data(as_text=True)
    entry = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry.action == "login.failure" and "unknown_user" in entry.details


def test_account_locks_after_repeated_failures_and_opens_again(client, world, db, app):
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        login(client, "forste", "fel-losenord")
    response = login(client, "forste")  # the right password no longer helps
    assert response.status_code == 401
    assert "tillfälligt spärrat" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert "login.locked" in _actions(db, "forste")
    # the lock runs out
    db.expire_all()
    user = db.get(User, world["forste"].id)
    user.locked_until_dt = auth.utcnow() - dt.timedelta(seconds=1)
    db.commit()
    assert login(client, "forste").status_code == 302
    db.expire_all()
    assert db.get(User, world["forste"].id).failed_login_count == 0


def test_concurrent_failures_all_count(app, world):
    """Failed logins at the same moment from several workers are all counted (atomic update)."""
    database = get_database(app)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            barrier.wait()
            with database.session_scope() as session:
                auth.authenticate(session, "forste", "fel", max_failures=100, lock_seconds=60)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with database.session_scope() as session:
        assert session.get(User, world["forste"].id).failed_login_count == 4


def test_logout_ends_the_session_on_the_server(client, world, db):
    login(client, "sektionschef")
    token = _cookie(client)
    response = post_form(client, "/logga-ut", {})
    assert response.status_code == 302
    assert db.scalar(select(UserSession).where(UserSession.token_hash == auth.token_hash(token))) is None
    # a copy of the old cookie is worthless
    thief = client.application.test_client()
    thief.set_cookie(COOKIE, token)
    assert thief.get("/").status_code == 302
    assert "logout" in _actions(db, "sektionschef")


def test_logout_is_not_possible_with_get(client, world):
    login(client, "sektionschef")
    assert client.get("/logga-ut").status_code == 405
    assert client.get("/").status_code == 200


def _age_session(db, token, **delta):
    row = db.scalar(select(UserSession).where(UserSession.token_hash == auth.token_hash(token)))
    if "idle" in delta:
        row.last_seen_dt = auth.utcnow() - delta["idle"]
    if "age" in delta:
        row.created_dt = auth.utcnow() - delta["age"]
    db.commit()


def test_idle_session_expires(client, world, db, app):
    login(client, "sektionschef")
    token = _cookie(client)
    _age_session(db, token, idle=dt.timedelta(seconds=app.config["SESSION_IDLE_TIMEOUT"] + 5))
    response = client.get("/")
    assert response.status_code == 302 and "/logga-in" in response.headers["Location"]
    assert db.scalar(select(UserSession).where(UserSession.token_hash == auth.token_hash(token))) is None
    assert "session.expired" in _actions(db, "sektionschef")


def test_session_expires_after_absolute_lifetime_even_when_active(client, world, db, app):
    login(client, "sektionschef")
    token = _cookie(client)
    _age_session(db, token, age=dt.timedelta(seconds=app.config["SESSION_ABSOLUTE_TIMEOUT"] + 5))
    assert client.get("/").status_code == 302


def test_activity_keeps_the_session_alive(client, world, db, app):
    login(client, "sektionschef")
    token = _cookie(client)
    _age_session(db, token, idle=dt.timedelta(seconds=app.config["SESSION_IDLE_TIMEOUT"] - 60))
    assert client.get("/").status_code == 200
    _age_session(db, token, idle=dt.timedelta(seconds=120))  # the previous request renewed it
    assert client.get("/").status_code == 200


def test_deactivating_a_user_ends_their_sessions(client, world, db, app):
    login(client, "forste")
    assert client.get("/").status_code == 200
    with get_database(app).session_scope() as session:
        user = session.get(User, world["forste"].id)
        assert svc.deactivate_user(session, "test", user) == 1
    assert client.get("/").status_code == 302
    response = login(client, "forste")
    assert "avstängt" in response.get_data(as_text=True)


def test_a_form_with_another_sessions_token_is_refused_and_not_kept(client, world, db):
    """A logged-in user's POST with a token that is not their session's came from another
    login or another site: nothing is stored, and what it carried is not offered back."""
    login(client, "sysadmin")
    users_before = db.scalar(select(func.count()).select_from(User))
    response = client.post(
        "/admin/anvandare/ny",
        data={"csrf_token": "gammal", "username": "ny.person", "full_name": "Ny Persson",
              "password": "hemligt-losenord-123"},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Formuläret kunde inte skickas" in html and "annan inloggning" in html
    assert "Ny Persson" not in html and "ny.person" not in html and "hemligt-losenord-123" not in html
    assert db.scalar(select(func.count()).select_from(User)) == users_before
    assert db.scalar(select(func.count()).select_from(UserSession).where(UserSession.kept_form.is_not(None))) == 0


def test_missing_csrf_token_is_refused(client, world, db):
    login(client, "sektionschef")
    response = client.post("/logga-ut", data={})
    assert response.status_code == 400
    assert client.get("/").status_code == 200  # still logged in


def _expire_while_typing(client, db, username, fields):
    """Log in, open the new-user form, let the session expire, then post ``fields``."""
    login(client, username)
    token = _cookie(client)
    csrf = csrf_from(client.get("/admin/anvandare/ny").get_data(as_text=True))
    _age_session(db, token, idle=dt.timedelta(hours=1))
    return client.post("/admin/anvandare/ny", data={"csrf_token": csrf, **fields})


def test_expired_session_during_a_form_keeps_the_input_for_the_same_user(client, world, db, app):
    response = _expire_while_typing(client, db, "sysadmin", {"username": "sen.person", "full_name": "Sen Person"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "session gick ut" in html and "Logga in och fortsätt" in html
    assert "Sen Person" in html
    # kept on the server, in this browser's new session, bound to the user who typed it
    kept = db.scalar(select(UserSession.kept_form).where(UserSession.kept_form.is_not(None)))
    assert kept is not None and f'"user_id": {world["sysadmin"].id}' in kept
    response = login(client, "sysadmin")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Skicka igen" in page and 'value="Sen Person"' in page
    assert db.scalar(select(func.count()).select_from(User).where(User.username == "sen.person")) == 0
    response = client.post(
        "/admin/anvandare/ny",
        data={"csrf_token": csrf_from(page), "username": "sen.person", "full_name": "Sen Person"},
    )
    assert response.status_code == 302
    assert db.scalar(select(func.count()).select_from(User).where(User.username == "sen.person")) == 1


def test_kept_input_is_never_offered_to_another_user(client, world, db, app):
    response = _expire_while_typing(client, db, "sysadmin", {"username": "sen.person", "full_name": "Sen Person"})
    assert response.status_code == 400
    # someone else logs in at the same computer: no resend page, nothing of it anywhere
    response = login(client, "revisor")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Sen Person" not in client.get("/").get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(UserSession).where(UserSession.kept_form.is_not(None))) == 0
    # and the one who typed it, logging in afterwards, is not offered it either (it is gone)
    post_form(client, "/logga-ut", {})
    assert login(client, "sysadmin").status_code == 302


def test_a_personnummer_typed_before_expiry_is_not_kept(client, world, db, app):
    response = _expire_while_typing(client, db, "sysadmin", {"username": "sen.person", "full_name": "Sen 850101-1236"})
    html = response.get_data(as_text=True)
    assert "850101" not in html and "personnummer" in html
    kept = db.scalar(select(UserSession.kept_form).where(UserSession.kept_form.is_not(None)))
    assert kept is not None and "850101" not in kept and "sen.person" in kept


def test_cross_site_post_without_a_session_is_never_kept_or_offered(client, app, world, db):
    """The probe's sequence: a page elsewhere makes the victim's browser POST a redraw
    without kontroll's session cookie (SameSite=Lax keeps it home); the victim then logs in.
    Nothing of the attacker's form is stored, offered or said to be the victim's."""
    from kontroll.cases import services as cases
    from kontroll.sampling import services as sampling
    from kontroll.sampling.models import Draw

    with get_database(app).session_scope() as session:
        unit = svc.get_unit_by_code(session, "IFO-FS")
        cases.import_file(session, svc.get_user_by_username(session, "forste"), unit,
                          "Ärendenummer;Handläggare\r\nEB-1;A\r\nEB-2;B\r\nEB-3;C\r\n".encode(), "l.csv", source="cli")
        session.flush()
        draw = sampling.run_draw(session, svc.get_user_by_username(session, "sektionschef"), unit, "2026-03")
        draw_id = draw.id
    attacker = {"reason": "Angriparens motivering, som offret aldrig skrev."}
    victim = client  # a fresh browser: no kontroll cookie is sent with the cross-site POST
    response = victim.post(f"/enheter/IFO-FS/stickprov/{draw_id}/omdragning", data=attacker)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Angriparens" not in html and "Logga in" in html
    assert db.scalar(select(func.count()).select_from(UserSession).where(UserSession.kept_form.is_not(None))) == 0
    # the victim logs in from that page: the start page, no form offered, nothing claimed as theirs
    response = login(victim, "sektionschef")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = victim.get("/").get_data(as_text=True)
    assert "Angriparens" not in page and "Skicka igen" not in page
    db.expire_all()
    assert db.get(Draw, draw_id).voided_dt is None
    # the same with the victim's own (expired) cookie but without their session's CSRF token
    post_form(victim, "/logga-ut", {})
    login(victim, "sektionschef")
    token = _cookie(victim)
    _age_session(db, token, idle=dt.timedelta(hours=1))
    response = victim.post(f"/enheter/IFO-FS/stickprov/{draw_id}/omdragning", data={**attacker, "csrf_token": "gissad"})
    assert response.status_code == 400 and "Angriparens" not in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(UserSession).where(UserSession.kept_form.is_not(None))) == 0
    assert login(victim, "sektionschef").status_code == 302
    db.expire_all()
    assert db.get(Draw, draw_id).voided_dt is None


def test_login_redirects_only_to_local_paths(client, world):
    page = client.get("/logga-in?next=https://evil.example/").get_data(as_text=True)
    token = csrf_from(page)
    response = client.post(
        "/logga-in",
        data={"csrf_token": token, "username": "revisor", "password": PASSWORD, "next": "//evil.example/x"},
    )
    assert response.headers["Location"] == "/"


# --- one answer for every failure, counting, throttling, the password policy ----------------


def test_unknown_name_wrong_password_and_locked_account_get_the_same_answer_after_the_same_work(
        client, world, db, app, monkeypatch):
    calls: list[str | None] = []
    real_verify = auth._verify

    def counting_verify(stored, password):
        calls.append(stored)
        return real_verify(stored, password)

    monkeypatch.setattr(auth, "_verify", counting_verify)
    answers = []
    answers.append(login(client, "finns.inte", "fel-losenord"))
    answers.append(login(client, "forste", "fel-losenord"))
    with get_database(app).session_scope() as session:
        user = session.get(User, world["forste"].id)
        user.locked_until_dt = auth.utcnow() + dt.timedelta(minutes=10)
    answers.append(login(client, "forste", PASSWORD))  # locked: even the right password
    assert {r.status_code for r in answers} == {401}
    messages = {r.get_data(as_text=True).split('id="inloggningsfel">')[1].split("</div>")[0] for r in answers}
    assert len(messages) == 1 and "Fel användarnamn eller lösenord" in messages.pop()
    assert len(calls) == 3  # a password hash was verified every time (no shortcut to time)


def test_failures_for_unknown_names_are_counted_without_storing_the_name(client, world, db):
    from kontroll.core.models import LoginAttempts

    for _ in range(3):
        login(client, "Okänd.Person", "fel-losenord")
    row = db.scalar(select(LoginAttempts).where(LoginAttempts.kind == "namn"))
    assert row is not None and row.failures == 3
    entries = list(db.scalars(select(AuditEntry).where(AuditEntry.action == "login.failure")))
    assert len(entries) == 3
    for entry in entries:
        assert "okänd.person" not in entry.details.lower() and "unknown_user" in entry.details
    assert len({e.details.split('"namn_hash":"')[1][:16] for e in entries}) == 1  # the same name, followable


def test_one_address_is_throttled_with_429_and_retry_after(client, world, db, app):
    app.config["LOGIN_ADDRESS_MAX_FAILURES"] = 3
    for name in ("a.a", "b.b", "forste"):
        assert login(client, name, "fel-losenord").status_code == 401
    response = login(client, "forste", PASSWORD)  # the right password waits too
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "För många misslyckade inloggningar" in response.get_data(as_text=True)
    # another address is not affected
    other = app.test_client()
    page = other.get("/logga-in", environ_base={"REMOTE_ADDR": "10.0.0.9"}).get_data(as_text=True)
    response = other.post("/logga-in", data={"username": "forste", "password": PASSWORD, "csrf_token": csrf_from(page)},
                          environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert response.status_code == 302


@pytest.mark.parametrize("password, ok", [
    ("kort", False),
    ("Kontroll2026!", False),
    ("Sommar2024!!", False),
    ("PerAndersson1985", False),
    ("Stockholm2026!", False),
    ("losenord123456", False),
    ("kontroll-kontroll", False),
    ("forste-forste-forste", False),  # the username, repeated
    ("blå-cykel-under-trappan-nio", True),
    ("x" * 10 + "Qz7!kPw2#vL9@mN4" + "y" * 200, True),  # long: only the first 72 characters are scored
])
def test_the_password_policy(password, ok):
    problem = auth.password_problem(password, ("forste", "Forste", "", ""))
    assert (problem is None) == ok, problem


def test_an_administrators_password_reset_ends_the_users_sessions(client, world, db, app):
    login(client, "forste")
    assert client.get("/").status_code == 200
    admin = app.test_client()
    login(admin, "sysadmin")
    response = post_form(admin, f"/admin/anvandare/{world['forste'].id}/losenord",
                         {"password": "blå-cykel-under-trappan-nio"}, page=f"/admin/anvandare/{world['forste'].id}")
    assert response.status_code == 302
    assert client.get("/").status_code == 302  # logged out
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "user.password")).one()
    assert '"sessions_ended":1' in entry.details
