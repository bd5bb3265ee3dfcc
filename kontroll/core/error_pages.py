"""Error pages in Swedish, without internals: the text for each status, the handlers that turn
an exception into a page (or JSON under ``/api/``), and dropping the request's session when the
database is the reason. A refusal a view did not catch (``ValidationError``) rolls back."""

from __future__ import annotations

import json
import logging

from flask import Flask, Response, g, render_template, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from kontroll.core.errors import ValidationError
from kontroll.core.permissions import PermissionDenied
from kontroll.db import get_session

log = logging.getLogger("kontroll.core.web")

ERROR_TEXTS: dict[int, tuple[str, str]] = {
    400: ("Felaktig begäran", "Begäran kunde inte tolkas. Gå tillbaka och försök igen."),
    403: ("Ingen behörighet", "Du har inte behörighet till den här sidan eller åtgärden."),
    404: ("Sidan finns inte", "Sidan du söker finns inte, eller så har du inte behörighet att se den."),
    405: ("Otillåten metod", "Den här adressen kan inte användas på det sättet."),
    413: (
        "Filen är för stor",
        "Det du skickade är större än vad kontroll tar emot. Dela upp filen eller kontakta systemadministratören.",
    ),
    422: ("Uppgifterna kunde inte sparas", "Något i det du skickade kunde inte godtas. Ingenting har sparats."),
    429: ("För många försök", "Vänta en stund och försök igen."),
    500: (
        "Något gick fel",
        "Ett oväntat fel inträffade. Ingenting av det du gjorde i det här steget har sparats. "
        "Försök igen, och kontakta systemadministratören om felet kvarstår.",
    ),
    503: (
        "Tjänsten är inte tillgänglig just nu",
        "Databasen svarar inte för tillfället. Ingenting av det du gjorde i det här steget har sparats. "
        "Försök igen om en liten stund.",
    ),
}


def error_page(code: int, message: str | None = None) -> Response:
    title, text = ERROR_TEXTS.get(code, ERROR_TEXTS[500])
    if request.path.startswith("/api/"):  # the JSON API answers in JSON, whatever went wrong
        return Response(json.dumps({"fel": message or text}, ensure_ascii=False), status=code,
                        mimetype="application/json")
    html = render_template("errors/error.html", code=code, title=title, text=message or text)
    return Response(html, status=code)


def handle_http(exc: HTTPException) -> Response:
    if exc.code is None or exc.code < 400:
        return exc  # type: ignore[return-value]
    if request.path.startswith("/api/"):
        title, text = ERROR_TEXTS.get(exc.code, (exc.name, exc.description))
        return Response(json.dumps({"fel": text}, ensure_ascii=False), status=exc.code, mimetype="application/json")
    return error_page(exc.code)


def handle_denied(exc: PermissionDenied) -> Response:
    return error_page(403, exc.message)


def handle_refused(exc: ValidationError) -> Response:
    """Bad input that a view did not catch itself (e.g. the personnummer backstop refusing at
    commit): nothing is kept, and the page says why."""
    get_session().rollback()
    g.pop("flashes_dirty", None)
    return error_page(422, exc.message)


#: seconds a client is asked to wait before retrying when the database does not answer
DB_DOWN_RETRY_AFTER = 30


def handle_db_down(exc: OperationalError) -> Response:
    log.error("database unavailable: %s", exc)
    discard_db_session()
    # the page is drawn without the database: the user and session objects loaded earlier in
    # this request are expired by the rollback and cannot be reloaded, so show no one as
    # logged in (the cookie is kept: the next request is logged in again)
    g.user = None
    g.auth_session = None
    response = error_page(503)
    response.headers["Retry-After"] = str(DB_DOWN_RETRY_AFTER)
    return response


def handle_unexpected(exc: Exception) -> Response:
    log.exception("unhandled error")
    discard_db_session()
    # the rollback expired the user and session objects of this request; the page would
    # fail drawing them (DetachedInstanceError) and answer with no page at all
    g.user = None
    g.auth_session = None
    return error_page(500)


def discard_db_session() -> None:
    session = g.pop("_db_session", None)
    if session is not None:
        try:
            session.rollback()
            session.close()
        except Exception:  # pragma: no cover - the connection is gone
            session.invalidate()
    g.pop("flashes_dirty", None)
    g.pop("pending_session_insert", None)


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(PermissionDenied, handle_denied)
    app.register_error_handler(ValidationError, handle_refused)
    app.register_error_handler(OperationalError, handle_db_down)
    app.register_error_handler(Exception, handle_unexpected)
