"""E-mail copies of notifications through a real SMTP conversation on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import ssl
import threading

import pytest

from sqlalchemy import select

from kontroll import jobs
from kontroll.core import notifications as svc
from kontroll.core import users as user_svc
from kontroll.core.models import Notification, Role
from kontroll.db import get_database
from tests.support.jobs import add_user, closed_port, d, self_signed_certificate


def _smtp(app, host: str, port: int) -> None:
    app.config.update(SMTP_HOST=host, SMTP_PORT=port, SMTP_FROM="kontroll@kommun.example",
                      PUBLIC_URL="https://kontroll.kommun.example")


def _with_email(db, world, username: str, address: str) -> None:
    user = world[username]
    user.email = address
    db.commit()


def _send(app) -> jobs.JobOutcome:
    return jobs.run_job(get_database(app), "send_email", d("2026-12-01"), app.config)


def test_a_reminder_is_mailed_once_with_title_and_link_only(app, db, world, smtp_server):
    _smtp(app, smtp_server.host, smtp_server.port)
    _with_email(db, world, "sektionschef", "sara@kommun.example")
    jobs.run_job(get_database(app), "draw_due", d("2026-12-01"), app.config)  # administrator has no address
    outcome = _send(app)
    assert outcome.summary == "1 e-postmeddelande skickade."
    assert len(smtp_server.received) == 1
    mail = smtp_server.received[0]
    assert mail.rcpt_to == ["sara@kommun.example"] and mail.mail_from == "kontroll@kommun.example"
    message = mail.message
    assert message["To"] == "sara@kommun.example"
    assert message["Subject"] == "kontroll: Dags att dra månadens stickprov för IFO-FS (december 2026)"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "text/plain"
    body = message.get_content()
    assert "Dags att dra månadens stickprov för IFO-FS (december 2026)" in body
    assert "https://kontroll.kommun.example/enheter/IFO-FS/stickprov" in body
    assert "https://kontroll.kommun.example/meddelanden" in body
    note = db.scalar(select(Notification).where(Notification.user_id == world["sektionschef"].id))
    assert note.body and note.body not in body  # the body (which may grow case details) is never mailed
    db.expire_all()
    assert db.get(Notification, note.id).emailed_dt is not None
    # the next run sends nothing new
    assert _send(app).summary == "0 e-postmeddelanden skickade."
    assert len(smtp_server.received) == 1


def test_smtp_down_raises_nothing_and_leaves_emailed_dt_null(app, db, world):
    _smtp(app, "127.0.0.1", closed_port())
    _with_email(db, world, "sektionschef", "sara@kommun.example")
    note = svc.notify(db, world["sektionschef"], kind="x", title="Hej", dedupe_key="m:1")
    db.commit()
    outcome = _send(app)  # no exception
    assert outcome.status == "done"
    assert "E-postservern svarade inte" in outcome.summary
    report = svc.send_pending_email(db, app.config)
    db.rollback()
    assert report.sent == 0 and report.error and "unreachable" in report.error
    db.expire_all()
    assert db.get(Notification, note.id).emailed_dt is None


def test_after_smtp_comes_back_the_waiting_mail_goes_out(app, db, world, smtp_server):
    _smtp(app, "127.0.0.1", closed_port())
    _with_email(db, world, "forste", "forste@kommun.example")
    svc.notify(db, world["forste"], kind="x", title="Väntar", dedupe_key="m:2")
    db.commit()
    _send(app)
    _smtp(app, smtp_server.host, smtp_server.port)
    assert _send(app).summary == "1 e-postmeddelande skickade."
    assert smtp_server.received[0].message["Subject"] == "kontroll: Väntar"


def test_who_gets_mail(app, db, world, smtp_server):
    """Read, old, address-less and deactivated users' notifications are not mailed; a refused
    address does not stop the others and is tried again next time."""
    _smtp(app, smtp_server.host, smtp_server.port)
    _with_email(db, world, "sektionschef", "sara@kommun.example")
    _with_email(db, world, "forste", "forste@kommun.example")
    _with_email(db, world, "enhetschef", "   ")
    refused = add_user(db, "avvisad", Role.FORSTE_SOCIALSEKRETERARE, world.ifo, email="avvisad@kommun.example")
    gone = add_user(db, "slutat", Role.FORSTE_SOCIALSEKRETERARE, world.ifo, email="slutat@kommun.example")
    n_read = svc.notify(db, world["sektionschef"], kind="x", title="Läst", dedupe_key="w:1")
    n_read.read_dt = n_read.created_dt
    n_old = svc.notify(db, world["sektionschef"], kind="x", title="Gammal", dedupe_key="w:2")
    n_old.created_dt = n_old.created_dt - dt.timedelta(days=8)
    svc.notify(db, world["sektionschef"], kind="x", title="Ny", dedupe_key="w:3")
    svc.notify(db, world["handlaggare"], kind="x", title="Utan adress", dedupe_key="w:4")
    svc.notify(db, world["enhetschef"], kind="x", title="Blank adress", dedupe_key="w:5")
    n_refused = svc.notify(db, refused, kind="x", title="Avvisas", dedupe_key="w:6")
    svc.notify(db, world["forste"], kind="x", title="Efter den avvisade", dedupe_key="w:7")
    svc.notify(db, gone, kind="x", title="Avstängd", dedupe_key="w:8")
    user_svc.deactivate_user(db, "test", gone)
    db.commit()
    outcome = _send(app)
    assert outcome.summary == "2 e-postmeddelanden skickade. 1 kunde inte skickas."
    got = sorted((m.rcpt_to[0], m.message["Subject"]) for m in smtp_server.received)
    assert got == [("forste@kommun.example", "kontroll: Efter den avvisade"), ("sara@kommun.example", "kontroll: Ny")]
    db.expire_all()
    assert db.get(Notification, n_refused.id).emailed_dt is None


def test_without_public_url_the_mail_carries_the_path(app, db, world, smtp_server):
    _smtp(app, smtp_server.host, smtp_server.port)
    app.config.pop("PUBLIC_URL")
    _with_email(db, world, "forste", "forste@kommun.example")
    svc.notify(db, world["forste"], kind="x", title="Titel", link="/enheter/IFO-FS", dedupe_key="u:1")
    db.commit()
    _send(app)
    assert "Öppna: /enheter/IFO-FS\r\n" in smtp_server.received[0].message.get_content()


@pytest.mark.concurrency
def test_two_senders_at_once_never_send_the_same_mail_twice(app, db, world, smtp_server):
    """Two schedulers started by mistake: the rows being sent are locked (FOR UPDATE SKIP
    LOCKED on PostgreSQL, the write lock on SQLite), so each e-mail goes out once."""
    _smtp(app, smtp_server.host, smtp_server.port)
    smtp_server.delay = 0.1  # the first sender is still busy when the second one looks
    _with_email(db, world, "forste", "forste@kommun.example")
    for i in range(6):
        svc.notify(db, world["forste"], kind="x", title=f"Nr {i}", dedupe_key=f"c:{i}")
    db.commit()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            barrier.wait()
            _send(app)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    subjects = sorted(m.message["Subject"] for m in smtp_server.received)
    assert subjects == [f"kontroll: Nr {i}" for i in range(6)]
    db.expire_all()
    assert db.scalars(select(Notification.emailed_dt)).all().count(None) == 0


def test_starttls_and_login_when_configured(app, db, world, smtp_server, tmp_path):
    """STARTTLS first (the server's certificate checked against SMTP_CA_FILE), then the login,
    then the mail; a wrong password sends nothing and keeps the mail for the next run."""
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    smtp_server.tls_context = context
    smtp_server.credentials = ("kontroll", "hemligt-losen")
    _smtp(app, smtp_server.host, smtp_server.port)
    app.config.update(SMTP_STARTTLS=True, SMTP_CA_FILE=str(cert), SMTP_USERNAME="kontroll", SMTP_PASSWORD="fel")
    _with_email(db, world, "sektionschef", "sara@kommun.example")
    jobs.run_job(get_database(app), "draw_due", d("2026-12-01"), app.config)
    assert _send(app).summary.startswith("0 e-postmeddelanden skickade")
    assert smtp_server.tls_used and smtp_server.logged_in is None and smtp_server.received == []
    app.config["SMTP_PASSWORD"] = "hemligt-losen"
    assert _send(app).summary == "1 e-postmeddelande skickade."
    assert smtp_server.logged_in == "kontroll" and len(smtp_server.received) == 1


def test_starttls_refuses_a_server_it_cannot_trust(app, db, world, smtp_server, tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    smtp_server.tls_context = context
    _smtp(app, smtp_server.host, smtp_server.port)
    app.config.update(SMTP_STARTTLS=True)  # no SMTP_CA_FILE: the self-signed certificate is not trusted
    _with_email(db, world, "sektionschef", "sara@kommun.example")
    jobs.run_job(get_database(app), "draw_due", d("2026-12-01"), app.config)
    assert _send(app).summary.startswith("0 e-postmeddelanden skickade")
    assert smtp_server.received == []
