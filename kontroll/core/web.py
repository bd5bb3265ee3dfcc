"""Request plumbing: the logged-in user, CSRF, flash messages, security headers, error pages.

Everything here runs around every request. Views use :func:`login_required`,
:func:`current_user`, :func:`flash` and :func:`require_perm`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import (
    Flask,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from werkzeug.routing import IntegerConverter

from kontroll.core import auth, error_pages, swedish
from kontroll.core.error_pages import error_page, handle_db_down
from kontroll.core.models import ROLE_LABELS, Unit, User, UserSession
from kontroll.core.periods import period_label
from kontroll.core.permissions import (
    DRAWER_ROLES,
    Perm,
    can,
    can_anywhere,
    require,
    role_summary,
)
from kontroll.core.timezone import local_date, local_datetime_text
from kontroll.db import get_session, utcnow

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: form fields never echoed back on the stale-form page
SECRET_FIELDS = ("csrf_token", "password", "losenord", "new_password", "token", "totp")
LAST_SEEN_RESOLUTION = dt.timedelta(seconds=30)

CSP = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"
)


def current_user() -> User | None:
    return g.get("user")


def current_session() -> UserSession | None:
    return g.get("auth_session")


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(url_for("account.login", next=local_next(request.full_path)))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def csrf_exempt(view: F) -> F:
    """For token-authenticated JSON endpoints that no browser form reaches."""
    view._csrf_exempt = True  # type: ignore[attr-defined]
    return view


def require_perm(perm: Perm, unit: Unit | None = None) -> None:
    require(current_user(), perm, unit)


def acting_user() -> User:
    """The logged-in user, in views behind :func:`login_required`."""
    user = current_user()
    assert user is not None, "acting_user() needs login_required"
    return user


def unit_or_404(code: str) -> Unit:
    """The unit with this code (case-insensitive), or a 404 page."""
    from sqlalchemy import select
    from werkzeug.exceptions import NotFound

    unit = get_session().scalar(select(Unit).where(Unit.code == code.upper()))
    if unit is None:
        raise NotFound()
    return unit


def year_arg(today: dt.date) -> int:
    """The ``ar`` query argument as a plausible year, else this year."""
    try:
        year = int(request.args.get("ar", today.year))
    except ValueError:
        year = today.year
    return year if 2000 <= year <= 2100 else today.year


#: the largest id an INTEGER column holds (PostgreSQL's int4); larger ones name nothing
MAX_ID = 2**31 - 1


def form_id(raw: str | None) -> int | None:
    """An id sent in a form, or None if it is not one: only ASCII digits (``"²".isdigit()`` is
    true but ``int("²")`` fails), not so many that ``int()`` refuses them (over 4300), and within
    an INTEGER column (PostgreSQL refuses larger ones)."""
    if raw and len(raw) <= len(str(MAX_ID)) and raw.isascii() and raw.isdigit() and int(raw) <= MAX_ID:
        return int(raw)
    return None


def local_next(target: str | None) -> str | None:
    """Accept only a local path as a redirect target."""
    if not target:
        return None
    target = target.rstrip("?")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


# --- flash messages, kept in the server-side session ------------------------------------


def flash(message: str, category: str = "info") -> None:
    """Queue a message for the next page (kept in the server-side session)."""
    row = ensure_session()
    items = json.loads(row.flashes or "[]")
    items.append([category, message])
    _set_flashes(row, json.dumps(items, ensure_ascii=False))


def pop_flashes() -> list[tuple[str, str]]:
    row = current_session()
    if row is None or not row.flashes:
        return []
    items = [tuple(x) for x in json.loads(row.flashes)]
    _set_flashes(row, None)
    return items  # type: ignore[return-value]


def _set_flashes(row: UserSession, value: str | None) -> None:
    row.flashes = value
    g.flashes_dirty = True
    g.flashes_value = value


# --- session lifecycle -------------------------------------------------------------------


def ensure_session() -> UserSession:
    """The visitor's session, created (anonymous) if there is none yet."""
    row = current_session()
    if row is None:
        # built here, stored by _after() so that it never rides on a view's transaction
        token, row = auth.new_session_row(None)
        g.auth_session = row
        g.set_cookie_token = token
        g.pending_session_insert = True
    return row


def start_login_session(user: User) -> None:
    """Rotate: end the visitor's current session and start a new one for ``user``."""
    db = get_session()
    old = current_session()
    if g.pop("pending_session_insert", False):
        old = None  # never stored
    if old is not None:
        auth.end_session(db, old)
    token, row = auth.create_session(db, user)
    g.auth_session = row
    g.user = user
    g.set_cookie_token = token


def end_login_session() -> None:
    row = current_session()
    if row is not None and not g.pop("pending_session_insert", False):
        auth.end_session(get_session(), row)
    g.auth_session = None
    g.user = None
    g.clear_cookie = True


def csrf_token() -> str:
    return ensure_session().csrf_token


def _load_visitor() -> None:
    g.user = None
    g.auth_session = None
    if request.endpoint == "static":
        return
    token = request.cookies.get(current_app.config["SESSION_COOKIE_NAME"])
    if not token:
        return
    db = get_session()
    now = utcnow()
    lookup = auth.load_session(
        db,
        token,
        idle_seconds=current_app.config["SESSION_IDLE_TIMEOUT"],
        absolute_seconds=current_app.config["SESSION_ABSOLUTE_TIMEOUT"],
        now=now,
    )
    if lookup.row is None:
        g.clear_cookie = True
        g.session_expired = lookup.expired
        if lookup.expired:
            g.expired_session = (lookup.expired_user_id, lookup.expired_csrf_token)
        db.commit()
        return
    row = lookup.row
    if now - row.last_seen_dt > LAST_SEEN_RESOLUTION:
        row.last_seen_dt = now
        db.commit()
    g.auth_session = row
    g.user = row.user


def _refuse_nul() -> Response | None:
    """A NUL character (0x00) in the path, the query or a form is a bad request, refused before
    any view runs: PostgreSQL can neither store nor compare text that contains one (it raised
    a 500), and no one types it. The JSON API's body (a file) is the parser's business."""
    if request.endpoint == "static":
        return None
    texts = [request.path, *request.args.keys(), *request.args.values()]
    form_types = ("application/x-www-form-urlencoded", "multipart/form-data")
    if request.mimetype in form_types and not request.path.startswith("/api/"):  # the API reads its body raw
        for key, value in request.form.items(multi=True):
            texts += (key, value)
        texts += [f.filename or "" for f in request.files.values()]
    if any("\x00" in (t or "") for t in texts):  # a multipart field name Werkzeug cannot parse is None
        return error_page(400, "Begäran innehåller ett otillåtet tecken (NUL). Ta bort det och försök igen.")
    return None


def _check_csrf() -> Response | None:
    if request.method in SAFE_METHODS or request.endpoint in (None, "static"):
        return None
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "_csrf_exempt", False):
        return None
    sent = request.form.get("csrf_token", "")
    row = current_session()
    # compared as bytes: compare_digest refuses str with non-ASCII characters (a 500 before)
    if row is not None and sent and hmac.compare_digest(sent.encode(), row.csrf_token.encode()):
        return None
    return stale_form_response()


#: at most this many fields of a form are kept for resending
MAX_KEPT_FIELDS = 2000


def _kept_fields() -> tuple[list[tuple[str, str]], bool]:
    """The form's fields without secrets and without any value holding a personnummer
    (those are never stored, not even for a moment); and whether one was left out."""
    from kontroll.privacy.personnummer import contains_personnummer

    kept: list[tuple[str, str]] = []
    dropped = False
    for k, v in request.form.items(multi=True):
        if k is None or any(s in k.lower() for s in SECRET_FIELDS):  # None: an unparsable multipart name
            continue
        if contains_personnummer(k) or contains_personnummer(v):
            dropped = True
            continue
        kept.append((k, v))
    return kept[:MAX_KEPT_FIELDS], dropped


def _typed_by_expired_session() -> int | None:
    """The user whose login session just expired, when this POST carries both that session's
    cookie and that session's CSRF token: then that user typed the form, in this browser.
    A cross-site POST has neither (the cookie is SameSite=Lax), and a form from anyone else's
    session has another token."""
    expired = g.get("expired_session")
    sent = request.form.get("csrf_token", "")
    if not expired or not expired[0] or not expired[1] or not sent:
        return None
    return expired[0] if hmac.compare_digest(sent.encode(), expired[1].encode()) else None


def stale_form_response() -> Response:
    """The Swedish page for a stale or missing CSRF token.

    What was typed is kept only when the user's own login session expired while they typed
    (:func:`_typed_by_expired_session`): then it is stored server-side in this browser's new
    session, bound to that user, and offered again only after *that user* logs in
    (:func:`take_kept_form`). A POST without a valid session of its own (another site's,
    another login's) is never kept and never offered back."""
    row = ensure_session()
    owner = _typed_by_expired_session()
    kept: list[tuple[str, str]] = []
    dropped = False
    if owner is not None:
        kept, dropped = _kept_fields()
        row.kept_form = json.dumps({"user_id": owner, "url": local_next(request.full_path) or "/",
                                    "fields": kept}, ensure_ascii=False)
        if not g.get("pending_session_insert"):
            get_session().commit()
    html = render_template(
        "errors/stale_form.html",
        kept=kept,
        dropped=dropped,
        logged_in=current_user() is not None,
        expired=g.get("session_expired", False),
    )
    return Response(html, status=400)


def take_kept_form(user: User) -> tuple[str, list[tuple[str, str]]] | None:
    """The form kept in this browser's session for ``user`` (address, fields), removed from
    the session; None when there is none or it was typed by someone else."""
    row = current_session()
    if row is None or not row.kept_form:
        return None
    raw, row.kept_form = row.kept_form, None
    try:
        data = json.loads(raw)
        url = local_next(str(data["url"])) or "/"
        fields = [(str(k), str(v)) for k, v in data["fields"]][:MAX_KEPT_FIELDS]
        owner = int(data["user_id"])
    except (ValueError, TypeError, KeyError):
        return None
    return (url, fields) if owner == user.id and fields else None


def _after(response: Response) -> Response:
    try:
        _store_session_state()
    except OperationalError as exc:
        # the page was rendered, but its new session (the CSRF token in the page) or its flash
        # messages could not be stored: the page would not work, so answer 503 instead
        response = handle_db_down(exc)
        g.pop("set_cookie_token", None)  # that session was never stored
    cfg = current_app.config
    token = g.get("set_cookie_token")
    if token:
        response.set_cookie(
            cfg["SESSION_COOKIE_NAME"],
            token,
            max_age=cfg["SESSION_ABSOLUTE_TIMEOUT"],
            secure=cfg["SESSION_COOKIE_SECURE"],
            httponly=True,
            samesite=cfg["SESSION_COOKIE_SAMESITE"],
            path="/",
        )
    elif g.get("clear_cookie"):
        response.delete_cookie(
            cfg["SESSION_COOKIE_NAME"],
            path="/",
            secure=cfg["SESSION_COOKIE_SECURE"],
            httponly=True,
            samesite=cfg["SESSION_COOKIE_SAMESITE"],
        )
    _security_headers(response)
    return response


def _store_session_state() -> None:
    """Persist a new anonymous session or changed flash messages.

    Views commit what they mean to keep; anything else still pending in the request's
    transaction is rolled back here first, so a refused form never half-lands.
    """
    insert = g.pop("pending_session_insert", False)
    dirty = g.pop("flashes_dirty", False)
    if not insert and not dirty:
        return
    row = current_session()
    if row is None:
        return
    flashes = g.get("flashes_value", row.flashes) if dirty else row.flashes
    db = get_session()
    db.rollback()
    if insert:
        row.flashes = flashes
        db.add(row)
    else:
        db.execute(update(UserSession).where(UserSession.id == row.id).values(flashes=flashes))
    db.commit()


def _security_headers(response: Response) -> None:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.endpoint != "static":
        # pages may carry case references: never keep them in a cache
        h["Cache-Control"] = "no-store"
        h.setdefault("Pragma", "no-cache")


# --- template helpers --------------------------------------------------------------------


def format_datetime(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return local_datetime_text(value, fmt)


def format_date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = local_date(value)
    return value.isoformat()


def url_with(**changes: Any) -> str:
    """The current URL with some query arguments replaced (None removes one)."""
    args = request.args.to_dict()
    for k, v in changes.items():
        if v is None:
            args.pop(k, None)
        else:
            args[k] = v
    return request.path + ("?" + urlencode(args) if args else "")


class IdConverter(IntegerConverter):
    """``<int:...>`` in URLs: ids beyond the database's integer range are a 404, not a 500
    (SQLite raises OverflowError, PostgreSQL NumericValueOutOfRange)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter  # before the blueprints add their rules
    app.before_request(_load_visitor)
    app.before_request(_refuse_nul)
    app.before_request(_check_csrf)
    app.after_request(_after)
    error_pages.register(app)
    app.jinja_env.globals.update(
        csrf_token=csrf_token,
        current_user=current_user,
        can=lambda perm, unit=None: can(current_user(), perm, unit),
        can_anywhere=lambda perm: can_anywhere(current_user(), perm),
        Perm=Perm,
        DRAWER_ROLES=DRAWER_ROLES,
        ROLE_LABELS=ROLE_LABELS,
        pop_flashes=pop_flashes,
        url_with=url_with,
        user_roles=role_summary,
    )
    app.jinja_env.filters.update(
        datetime=format_datetime, date=format_date, number=swedish.number, percent=swedish.percent,
        period=period_label, counted=swedish.count,  # not "count": Jinja has its own
    )
