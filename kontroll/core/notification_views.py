"""The page of one's own notifications (/meddelanden) and the header's unread count."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, g, redirect, render_template, url_for

from kontroll.core import notifications as notification_svc
from kontroll.core.actions import Page
from kontroll.core.models import User
from kontroll.core.web import current_user, flash, login_required
from kontroll.db import get_session

log = logging.getLogger(__name__)

bp = Blueprint("notifications", __name__, url_prefix="/meddelanden")

PAGE_SIZE = 50


def _me() -> User:
    user = current_user()
    assert user is not None
    return user


def _back() -> Response:
    page = Page.of(notification_svc.count_for_user(get_session(), _me()), PAGE_SIZE).number
    return redirect(url_for("notifications.index", sida=page) if page > 1 else url_for("notifications.index"))


@bp.get("")
@login_required
def index() -> str:
    db = get_session()
    me = _me()
    total = notification_svc.count_for_user(db, me)
    page = Page.of(total, PAGE_SIZE)
    return render_template(
        "notifications/index.html",
        items=notification_svc.for_user(db, me, limit=PAGE_SIZE, offset=page.offset),
        total=total,
        unread_total=notification_svc.unread_count(db, me),
        page=page.number,
        pages=page.pages,
        kind_labels=notification_svc.KIND_LABELS,
    )


@bp.post("/<int:notification_id>/markera-last")
@login_required
def mark_read(notification_id: int) -> Response:
    db = get_session()
    try:
        notification_svc.mark_read(db, _me(), notification_id)
    except notification_svc.NotificationNotFound:
        abort(404)  # someone else's looks exactly like one that does not exist
    db.commit()
    flash("Meddelandet är markerat som läst.", "success")
    return _back()


@bp.post("/markera-alla-lasta")
@login_required
def mark_all_read() -> Response:
    db = get_session()
    count = notification_svc.mark_all_read(db, _me())
    db.commit()
    if count:
        flash(f"{count} {'meddelande markerades som läst' if count == 1 else 'meddelanden markerades som lästa'}.",
              "success")
    else:
        flash("Du hade inga olästa meddelanden.", "info")
    return _back()


@bp.app_template_global()
def unread_count_for(user: User | None) -> int:
    """The number of unread notifications of ``user``, for the header (0 when unknown).

    Counted once per request. Never fails: the header is also drawn on error pages, when the
    database may be the reason for the error.
    """
    if user is None:
        return 0
    cache = g.setdefault("_unread_counts", {})
    if user.id not in cache:
        try:
            cache[user.id] = notification_svc.unread_count(get_session(), user)
        except Exception:  # noqa: BLE001 - see the docstring
            log.debug("unread count unavailable", exc_info=True)
            cache[user.id] = 0
    return cache[user.id]
