"""Notifications (meddelanden): reminders shown in the app, and e-mailed when SMTP is set.

Services flush; the caller (a view, a CLI command, a scheduled job) commits.

Every notification carries a ``dedupe_key`` with a unique constraint: :func:`notify` inserts
inside a SAVEPOINT and treats the constraint's ``IntegrityError`` as "already there", so a job
that runs twice, or two schedulers started by mistake, never create the same reminder twice,
on SQLite and on PostgreSQL.

E-mail carries only the notification's title and a link: never the body, never case data.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kontroll.core.models import Notification, User
from kontroll.db import insert_once, utcnow

log = logging.getLogger(__name__)

TITLE_MAX = 300
LINK_MAX = 500
DEDUPE_KEY_MAX = 200

#: Swedish labels of notification kinds, for the tag on the page; unknown kinds show none.
KIND_LABELS: dict[str, str] = {
    "draw_due": "Stickprov",
    "draw_made": "Stickprov",
    "review_assigned": "Granskning",
    "review_unassigned": "Granskning",
    "review_late": "Försenad granskning",
    "feedback_given": "Återkoppling",
    "atgard_assigned": "Åtgärd",
    "atgard_done": "Åtgärd",
    "atgard_verified": "Åtgärd",
    "atgard_overdue": "Försenad åtgärd",
    "genomgang_started": "Genomgång",
    "genomgang_soon": "Genomgång",
    "genomgang_behind": "Genomgångar",
    "template_revision": "Mall",
}

#: e-mails are sent in batches of this size per run; the rest wait for the next run
EMAIL_BATCH = 50
#: a notification older than this is not e-mailed any more (e.g. a user who got an address late)
EMAIL_MAX_AGE = dt.timedelta(days=7)
#: seconds to wait for the SMTP server (connect and each command)
SMTP_TIMEOUT = 10


#: ``session.info`` key of the application's URL map (set by kontroll.db.init_app)
URL_MAP_KEY = "kontroll_url_map"


def page_path(endpoint: str, *, session: Session | None = None, **values: Any) -> str:
    """The local path of a page, built from its route (for links in notifications and to-dos),
    also outside a request: from the application of ``session`` when given, else the current
    application."""
    url_map = session.info.get(URL_MAP_KEY) if session is not None else None
    if url_map is None:
        from flask import current_app

        url_map = current_app.url_map
    adapter = getattr(url_map, "_kontroll_adapter", None)  # bound once per map: building is the cost
    if adapter is None:
        adapter = url_map.bind("localhost")
        url_map._kontroll_adapter = adapter  # type: ignore[attr-defined]
    return adapter.build(endpoint, values)


class NotificationNotFound(LookupError):
    """No such notification for this user (someone else's counts as none)."""


def _user_id(user: User | int) -> int:
    return user if isinstance(user, int) else user.id


def _single_line(text: str) -> str:
    return " ".join(text.split())


def notify(
    session: Session,
    user: User | int,
    *,
    kind: str,
    title: str,
    body: str = "",
    link: str | None = None,
    dedupe_key: str,
) -> Notification | None:
    """Create a notification for ``user`` unless one with ``dedupe_key`` exists.

    Returns the new notification, or None when the key was already taken (also when another
    transaction took it at the same moment). Flushes; the caller commits.

    ``link`` must be a local path ("/enheter/IFO-FS/stickprov"); it is shown as a link and
    put in the e-mail.
    """
    title = _single_line(title)
    if not title or len(title) > TITLE_MAX:
        raise ValueError(f"notification title must be 1–{TITLE_MAX} characters")
    if not dedupe_key or len(dedupe_key) > DEDUPE_KEY_MAX:
        raise ValueError(f"dedupe_key must be 1–{DEDUPE_KEY_MAX} characters")
    if link is not None and (
        not link.startswith("/") or link.startswith("//") or "\\" in link or len(link) > LINK_MAX
        or any(c.isspace() for c in link)
    ):
        raise ValueError(f"notification link must be a local path, got {link!r}")

    if session.scalar(select(Notification.id).where(Notification.dedupe_key == dedupe_key)) is not None:
        return None
    # flush the caller's pending changes first, so that an error in them is not mistaken
    # for a duplicate key below
    session.flush()
    notification = Notification(
        user_id=_user_id(user),
        created_dt=utcnow(),
        kind=kind,
        title=title,
        body=body,
        link=link,
        dedupe_key=dedupe_key,
    )
    # another transaction may insert the same key after our check (on PostgreSQL the insert
    # waits for it to commit): then that one stands
    if insert_once(session, notification,
                   lambda: session.scalar(select(Notification.id).where(Notification.dedupe_key == dedupe_key))):
        return None
    return notification


def notify_each(session: Session, people: list[User | None], *, key: str, **message: Any) -> int:
    """Notify each distinct active person once; the dedupe key is ``f"{key}:{user.id}"``.
    Returns how many notifications are new."""
    unique = {u.id: u for u in people if u is not None and u.is_active}
    return sum(
        notify(session, user, dedupe_key=f"{key}:{user.id}", **message) is not None for user in unique.values()
    )


def _own(user: User | int) -> Any:
    return Notification.user_id == _user_id(user)


def for_user(session: Session, user: User | int, *, limit: int = 50, offset: int = 0) -> list[Notification]:
    """The user's notifications, newest first."""
    return list(
        session.scalars(
            select(Notification)
            .where(_own(user))
            .order_by(Notification.created_dt.desc(), Notification.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )


def count_for_user(session: Session, user: User | int) -> int:
    return session.scalar(select(func.count()).select_from(Notification).where(_own(user))) or 0


def unread(session: Session, user: User | int) -> list[Notification]:
    """The user's unread notifications, newest first."""
    return list(
        session.scalars(
            select(Notification)
            .where(_own(user), Notification.read_dt.is_(None))
            .order_by(Notification.created_dt.desc(), Notification.id.desc())
        )
    )


def unread_count(session: Session, user: User | int) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Notification).where(_own(user), Notification.read_dt.is_(None))
        )
        or 0
    )


def mark_read(session: Session, user: User | int, notification_id: int) -> Notification:
    """Mark one of the user's own notifications as read (the first read time is kept).

    Raises :class:`NotificationNotFound` for an unknown id and for someone else's
    notification alike, and changes nothing then.
    """
    notification = session.scalar(
        select(Notification).where(Notification.id == notification_id, _own(user))
    )
    if notification is None:
        raise NotificationNotFound(notification_id)
    if notification.read_dt is None:
        notification.read_dt = utcnow()
        session.flush()
    return notification


def mark_all_read(session: Session, user: User | int) -> int:
    """Mark all the user's unread notifications as read; returns how many."""
    result = session.execute(
        update(Notification)
        .where(_own(user), Notification.read_dt.is_(None))
        .values(read_dt=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount or 0


def resolve(session: Session, dedupe_key_prefix: str) -> int:
    """Mark as read every unread notification whose key starts with the prefix, for everyone.

    For when the reminded thing is done, e.g. after a draw:
    ``resolve(session, f"draw_due:{unit.code}:{period}:")``. Returns how many.
    """
    if not dedupe_key_prefix:
        raise ValueError("an empty prefix would resolve every notification")
    result = session.execute(
        update(Notification)
        .where(Notification.dedupe_key.startswith(dedupe_key_prefix, autoescape=True), Notification.read_dt.is_(None))
        .values(read_dt=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount or 0


# --- e-mail ------------------------------------------------------------------------------


@dataclass
class EmailReport:
    """What one e-mail run did. ``error`` is an English reason when the server failed."""

    sent: int = 0
    failed: int = 0
    configured: bool = True
    error: str | None = None


def _absolute(config: Mapping[str, Any], path: str) -> str:
    base = str(config.get("PUBLIC_URL") or "").rstrip("/")
    return f"{base}{path}" if base else path


def compose_email(notification: Notification, to_address: str, config: Mapping[str, Any],
                  now: dt.datetime | None = None) -> EmailMessage:
    """The e-mail for one notification: plain text, Swedish, the title and a link only."""
    sender = str(config.get("SMTP_FROM") or "kontroll@localhost")
    title = _single_line(notification.title)
    lines = ["Hej!", "", "Du har ett nytt meddelande i kontroll:", "", title, ""]
    if notification.link:
        lines += [f"Öppna: {_absolute(config, notification.link)}", ""]
    lines += [
        f"Alla dina meddelanden finns under Meddelanden i kontroll: {_absolute(config, '/meddelanden')}",
        "",
        "Det här är ett automatiskt utskick från kontroll. Svara inte på det.",
    ]
    message = EmailMessage()
    message["Subject"] = f"kontroll: {title}"
    message["From"] = sender
    message["To"] = to_address
    message["Date"] = format_datetime(now or utcnow())
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(idstring=f"n{notification.id}", domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content("\n".join(lines) + "\n", charset="utf-8", cte="quoted-printable")
    return message


def _connect(host: str, port: int, config: Mapping[str, Any]) -> smtplib.SMTP:
    """An SMTP connection as configured: STARTTLS (SMTP_STARTTLS, the server's certificate
    checked against the system's authorities or SMTP_CA_FILE) and a login (SMTP_USERNAME,
    SMTP_PASSWORD) when set. A login is never sent over a connection that is not encrypted
    when STARTTLS is on. Raises on any failure; the caller logs it and closes nothing."""
    smtp = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
    try:
        if config.get("SMTP_STARTTLS"):
            context = ssl.create_default_context(cafile=str(config.get("SMTP_CA_FILE") or "") or None)
            smtp.starttls(context=context)
        username = str(config.get("SMTP_USERNAME") or "")
        if username:
            smtp.login(username, str(config.get("SMTP_PASSWORD") or ""))
    except BaseException:
        smtp.close()
        raise
    return smtp


def send_pending_email(session: Session, app_config: Mapping[str, Any], *, now: dt.datetime | None = None,
                       batch: int = EMAIL_BATCH) -> EmailReport:
    """E-mail unread notifications not yet e-mailed (SMTP_HOST set; active users with an address).

    Sets ``emailed_dt`` on those sent (flushes; the caller commits). Never raises for SMTP
    trouble: an unreachable server is logged and the notifications wait for the next run.
    Rows are locked while they are sent (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write
    lock on SQLite), so two senders at once never send the same e-mail twice.
    """
    host = str(app_config.get("SMTP_HOST") or "").strip()
    if not host:
        return EmailReport(configured=False)
    now = now or utcnow()
    rows = session.execute(
        select(Notification, User.email)
        .join(User, User.id == Notification.user_id)
        .where(
            Notification.emailed_dt.is_(None),
            Notification.read_dt.is_(None),
            Notification.created_dt >= now - EMAIL_MAX_AGE,
            User.is_active.is_(True),
            User.email.is_not(None),
            func.trim(User.email) != "",
        )
        .order_by(Notification.id)
        .limit(batch)
        .with_for_update(skip_locked=True, of=Notification)
    ).all()
    if not rows:
        return EmailReport()
    port = int(app_config.get("SMTP_PORT") or 25)
    sender = str(app_config.get("SMTP_FROM") or "kontroll@localhost")
    report = EmailReport()
    try:
        smtp = _connect(host, port, app_config)
    except (OSError, smtplib.SMTPException) as exc:
        report.error = f"SMTP server {host}:{port} unreachable: {exc}"
        log.warning("%s; %d e-mails wait for the next run", report.error, len(rows))
        return report
    try:
        for notification, address in rows:
            address = address.strip()
            message = compose_email(notification, address, app_config, now)
            try:
                smtp.send_message(message, from_addr=sender, to_addrs=[address])
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPNotSupportedError) as exc:
                # this message only: the next one may go through
                report.failed += 1
                log.warning("e-mail for notification %s refused: %s", notification.id, exc)
                continue
            except (OSError, smtplib.SMTPException) as exc:
                report.failed += 1
                report.error = f"SMTP server {host}:{port} failed: {exc}"
                log.warning("%s; the remaining e-mails wait for the next run", report.error)
                break
            notification.emailed_dt = now
            report.sent += 1
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    session.flush()
    if report.sent:
        log.info("sent %d notification e-mails", report.sent)
    return report
