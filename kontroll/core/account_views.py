"""Signing in and out: password (and a TOTP code), single sign-on, logout, and my account's
two-step verification.

The rules live in :mod:`kontroll.core.auth` (passwords, lockout, throttling), :mod:`kontroll.core.totp`
and :mod:`kontroll.core.sso`; the session itself in :mod:`kontroll.core.web`. These views only
carry the steps between them.
"""

from __future__ import annotations

import json
import time

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.exc import IntegrityError

from kontroll.core import audit, auth, sso, totp, users
from kontroll.core.actions import form_action, page_again
from kontroll.core.swedish import count
from kontroll.core.errors import ValidationError
from kontroll.core.models import User
from kontroll.core.web import (
    CSP,
    current_session,
    current_user,
    end_login_session,
    ensure_session,
    flash,
    local_next,
    login_required,
    start_login_session,
    take_kept_form,
)
from kontroll.db import get_session, utcnow

bp = Blueprint("account", __name__)


# --- login: password (+ TOTP code) or single sign-on --------------------------------------
#
# A login in progress lives in the visitor's server-side session row (``pending_login``):
# after a correct password for an account with TOTP, or between leaving for the identity
# provider and coming back. The session proper starts only when the last step succeeds.

TOTP_STEP_SECONDS = 5 * 60
LOCAL_LOGIN_OFF = "Inloggning med lösenord är avstängd. Logga in med organisationens konto."


def _login_page(status: int = 200, **context: object) -> Response:
    cfg = current_app.config
    context.setdefault("next_url", None)
    context.setdefault("username", "")
    context.setdefault("error", None)
    html = render_template(
        "core/login.html", sso_enabled=sso.is_enabled(cfg), local_enabled=cfg["LOCAL_LOGIN_ENABLED"], **context
    )
    response = Response(html, status=status)
    origin = sso.provider_origin(cfg) if sso.is_enabled(cfg) else ""
    if origin:
        # form-action also governs where a form's redirect may lead: the SSO button's POST
        # answers with a redirect to the provider, which 'self' alone would block
        response.headers["Content-Security-Policy"] = CSP.replace(
            "form-action 'self'", f"form-action 'self' {origin}"
        )
    return response


def _pending(kind: str | None = None) -> dict | None:
    row = current_session()
    if row is None or not row.pending_login:
        return None
    try:
        data = json.loads(row.pending_login)
    except ValueError:
        return None
    if not isinstance(data, dict) or (kind is not None and data.get("kind") != kind):
        return None
    return data


def _set_pending(data: dict | None) -> None:
    """Keep (or drop) the login in progress; the view commits (a new anonymous session row
    is stored after the view, with it)."""
    row = ensure_session() if data is not None else current_session()
    if row is not None:
        row.pending_login = None if data is None else json.dumps(data, ensure_ascii=False)


def _after_login(next_url: str | None, kept: tuple[str, list[tuple[str, str]]] | None = None) -> Response | str:
    """Where a login leads: the form this user typed before their session expired, if this
    browser kept one for them (kontroll.core.web.take_kept_form), else the page they asked for."""
    if kept is not None:
        return render_template("core/resume.html", resume_url=kept[0], kept=kept[1])
    return redirect(next_url or url_for("core.start"))


@bp.route("/logga-in", methods=["GET", "POST"])
def login() -> Response | str:
    next_url = local_next(request.values.get("next"))
    cfg = current_app.config
    if request.method == "GET":
        if current_user() is not None:
            return redirect(next_url or url_for("core.start"))
        return _login_page(next_url=next_url, expired=request.args.get("utgangen") == "1",
                           interrupted=request.args.get("avbruten") == "1")

    if not cfg["LOCAL_LOGIN_ENABLED"]:
        return _login_page(403, next_url=next_url, error=LOCAL_LOGIN_OFF)
    username = request.form.get("username", "")[:200]
    password = request.form.get("password", "")[:512]
    db = get_session()
    throttle = auth.AddressThrottle(cfg["SECRET_KEY"], cfg["LOGIN_ADDRESS_MAX_FAILURES"],
                                    cfg["LOGIN_ADDRESS_WINDOW_SECONDS"])
    wait = throttle.retry_after(db, request.remote_addr)
    if wait is not None:
        minutes = max(1, -(-wait // 60))
        response = _login_page(429, next_url=next_url, username=username, error=(
            "För många misslyckade inloggningar från din dator på kort tid. Vänta "
            f"{minutes} {'minut' if minutes == 1 else 'minuter'} och försök igen."))
        response.headers["Retry-After"] = str(wait)
        return response
    result = auth.authenticate(
        db,
        username,
        password,
        max_failures=cfg["LOGIN_MAX_FAILURES"],
        lock_seconds=cfg["LOGIN_LOCK_SECONDS"],
        secret=cfg["SECRET_KEY"],
        address=request.remote_addr,
        throttle=throttle,
    )
    if result.needs_totp:
        assert result.user is not None
        _set_pending({"kind": "totp", "user_id": result.user.id, "since": time.time(), "next": next_url})
        db.commit()
        return redirect(url_for("account.login_code"))
    if not result.ok:
        db.commit()  # the failure count and the audit entry are kept
        return _login_page(401, next_url=next_url, username=username, error=result.message)
    assert result.user is not None
    kept = take_kept_form(result.user)  # before the rotation ends this browser's anonymous session
    start_login_session(result.user)
    db.commit()
    return _after_login(next_url, kept)


@bp.route("/logga-in/kod", methods=["GET", "POST"])
def login_code() -> Response | str:
    """The second step for an account with TOTP: the session starts once the code is right."""
    cfg = current_app.config
    db = get_session()
    pending = _pending("totp")
    user = None
    if pending and time.time() - float(pending.get("since", 0)) <= TOTP_STEP_SECONDS:
        user = db.get(User, int(pending.get("user_id", 0)))
    if user is None or not cfg["LOCAL_LOGIN_ENABLED"]:
        if pending:
            _set_pending(None)
            db.commit()
        return redirect(url_for("account.login", avbruten=1))
    if request.method == "GET":
        return render_template("core/login_code.html", error=None)

    result = auth.verify_totp_login(
        db,
        user,
        request.form.get("totp_code", "")[:50],
        secret_key=cfg["SECRET_KEY"],
        max_failures=cfg["LOGIN_MAX_FAILURES"],
        lock_seconds=cfg["LOGIN_LOCK_SECONDS"],
    )
    if result.ok:
        kept = take_kept_form(user)
        start_login_session(user)  # ends the anonymous session and its pending login
        db.commit()
        return _after_login(pending.get("next"), kept)
    locked = user.locked_until_dt is not None and user.locked_until_dt > utcnow()
    if locked or not user.is_active or not user.is_totp_enabled:
        _set_pending(None)  # start again from the password
        db.commit()
        return _login_page(401, next_url=pending.get("next"), username=user.username, error=result.message)
    db.commit()  # the failure count and the audit entry are kept
    return Response(render_template("core/login_code.html", error=result.message), status=401)


def _sso_redirect_uri() -> str:
    public = current_app.config.get("PUBLIC_URL") or ""
    if public:
        return public.rstrip("/") + url_for("account.sso_callback")
    return url_for("account.sso_callback", _external=True)


def _sso_refused(err: sso.SSOError) -> Response:
    ids = err.details if err.reason == "unknown_user" else {}
    html = render_template("core/login_sso_error.html", message=err.message, ids=ids,
                           local_enabled=current_app.config["LOCAL_LOGIN_ENABLED"])
    return Response(html, status=err.status)


@bp.post("/logga-in/sso")
def sso_start() -> Response:
    """Leave for the organisation's identity provider (state, nonce and PKCE kept here)."""
    if not sso.is_enabled(current_app.config):
        abort(404)
    db = get_session()
    try:
        url, pending = sso.begin(current_app, _sso_redirect_uri(), local_next(request.form.get("next")))
    except sso.SSOError as err:
        audit.record(db, None, "login.sso_failure", details={"orsak": err.reason})
        db.commit()
        return _sso_refused(err)
    _set_pending(pending)
    db.commit()
    return redirect(url)


@bp.get("/logga-in/sso/svar")
def sso_callback() -> Response:
    """Back from the identity provider: check, find the user, start the session."""
    cfg = current_app.config
    if not sso.is_enabled(cfg):
        abort(404)
    db = get_session()
    pending = _pending()
    _set_pending(None)  # one round trip, one try
    try:
        claims = sso.finish(current_app, request.args, pending)
        user = sso.sign_in(db, claims, cfg)
    except sso.SSOError as err:
        if not err.audited:
            audit.record(db, None, "login.sso_failure", details={"orsak": err.reason, **err.details})
        db.commit()
        return _sso_refused(err)
    except IntegrityError:  # the same person's first login twice at once
        db.rollback()
        _set_pending(None)
        audit.record(db, None, "login.sso_failure", details={"orsak": "conflict"})
        db.commit()
        return _sso_refused(sso.SSOError("conflict", "Inloggningen krockade med en annan. Försök igen.", 409))
    start_login_session(user)
    db.commit()
    return redirect((pending or {}).get("next") or url_for("core.start"))


@bp.post("/logga-ut")
def logout() -> Response:
    user = current_user()
    if user is not None:
        db = get_session()
        audit.record(db, user, "logout", object_type="user", object_id=user.id)
        end_login_session()
        db.commit()
    return redirect(url_for("account.login", utloggad=1))


# --- my account ------------------------------------------------------------------------------


def _account_page(error: ValidationError | None = None, status: int = 200) -> Response:
    user = current_user()
    assert user is not None
    return Response(render_template("core/account.html", user=user, error=error), status=status)


@bp.get("/mitt-konto")
@login_required
def account() -> Response:
    return _account_page()


@bp.post("/mitt-konto/losenord")
@login_required
def change_password() -> Response:
    user = current_user()
    assert user is not None
    return form_action(
        lambda db: users.change_own_password(db, user, request.form.get("current_password", ""),
                                             request.form.get("new_password", ""),
                                             request.form.get("repeat_password", ""), current_session()),
        on_error=page_again(_account_page), then=url_for("account.account"),
        done=lambda ended: "Ditt lösenord är bytt." + (
            f" Du har loggats ut på {count(ended, 'annan plats', 'andra platser')}." if ended else ""),
    )


# --- my account: TOTP --------------------------------------------------------------------


def _totp_page(error: ValidationError | None = None, status: int = 200) -> Response:
    user = current_user()
    assert user is not None
    secret = None
    if user.totp_secret and not user.is_totp_enabled:
        secret = totp.decrypt_secret(user.totp_secret, current_app.config["SECRET_KEY"])
    html = render_template(
        "core/totp.html",
        user=user,
        secret=secret,
        grouped=totp.grouped(secret) if secret else None,
        uri=totp.provisioning_uri(secret, user.username, f"kontroll ({current_app.config['ORGANISATION_NAME']})")
        if secret else None,
        error=error,
    )
    return Response(html, status=status)


@bp.get("/mitt-konto/tvastegsverifiering")
@login_required
def totp_settings() -> Response:
    return _totp_page()


def _totp_action(action, success: str) -> Response:  # type: ignore[no-untyped-def]
    db = get_session()
    user = current_user()
    assert user is not None
    try:
        action(db, user, current_app.config["SECRET_KEY"])
    except ValidationError as err:
        # nothing was changed but the audit entry of a wrong code, which is kept
        db.commit()
        return _totp_page(err, 422)
    db.commit()
    if success:
        flash(success, "success")
    return redirect(url_for("account.totp_settings"))


@bp.post("/mitt-konto/tvastegsverifiering/ny")
@login_required
def totp_begin() -> Response:
    def begin(db, user: User, key: str) -> None:  # type: ignore[no-untyped-def]
        if user.password_hash is None:
            raise ValidationError("Du loggar in med organisationens konto. Tvåstegsverifiering sköts där.")
        totp.begin_enrolment(db, user, key)

    return _totp_action(begin, "")


@bp.post("/mitt-konto/tvastegsverifiering/bekrafta")
@login_required
def totp_confirm() -> Response:
    code = request.form.get("totp_code", "")[:50]
    return _totp_action(
        lambda db, user, key: totp.confirm_enrolment(db, user, code, key),
        "Tvåstegsverifiering är påslagen. Nästa gång du loggar in frågar kontroll efter en kod från appen.",
    )


@bp.post("/mitt-konto/tvastegsverifiering/avbryt")
@login_required
def totp_cancel() -> Response:
    return _totp_action(lambda db, user, key: totp.cancel_enrolment(db, user), "")


@bp.post("/mitt-konto/tvastegsverifiering/stang-av")
@login_required
def totp_disable() -> Response:
    code = request.form.get("totp_code", "")[:50]
    return _totp_action(
        lambda db, user, key: totp.disable(db, user, code, key),
        "Tvåstegsverifiering är avstängd. Du loggar nu in med bara lösenord.",
    )
