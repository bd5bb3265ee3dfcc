"""The shapes every page repeats, written once: a unit with a permission, a row of that unit,
a form action, a page of a list.

A form action is always the same dance: run the service with the acting user; if it refuses
(:class:`~kontroll.core.errors.ValidationError`), roll back and show the page again with the
message (422) or go back with the message; else commit, say what was done, and redirect.
:func:`form_action` is that dance; the views only say which service, which page and where to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from flask import Response, redirect, render_template, request
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound

from kontroll.core.errors import ValidationError
from kontroll.core.models import Unit
from kontroll.core.permissions import Perm
from kontroll.core.web import flash, require_perm, unit_or_404
from kontroll.db import get_session

T = TypeVar("T")
R = TypeVar("R")


def unit_with(code: str, perm: Perm) -> Unit:
    """The unit with ``code`` (404 if there is none) when the acting user holds ``perm`` in it
    (403 otherwise)."""
    unit = unit_or_404(code)
    require_perm(perm, unit)
    return unit


def of_unit(model: type[R], ident: int, unit: Unit) -> R:
    """Row ``ident`` of ``model`` when it belongs to ``unit``; a 404 otherwise (a row of
    another unit looks exactly like one that does not exist)."""
    row = get_session().get(model, ident)
    if row is None or getattr(row, "unit_id", None) != unit.id:
        raise NotFound()
    return row


#: the form field a confirmation page adds: the POST that carries it acts
CONFIRMED_FIELD = "bekraftat"


@dataclass(frozen=True)
class Confirm:
    """What a confirmation page says before an action that cannot be undone: the question, what
    will happen and what cannot be undone, the button, and where "Avbryt" leads."""

    title: str
    consequences: tuple[str, ...]
    button: str
    back: str


def form_action(
    action: Callable[[Session], T],
    *,
    on_error: Callable[[ValidationError], Response],
    then: str | Callable[[T], str],
    done: str | Callable[[T], str] | None = None,
    category: str = "success",
    confirm: Confirm | None = None,
) -> Response:
    """Run ``action`` (a service call) in the request's session; on a refusal roll back and
    answer ``on_error(err)``; else commit, flash ``done`` (if any) and redirect to ``then``.

    With ``confirm``, a POST without the confirmation changes nothing: the action is tried and
    rolled back (so a refusal is shown at once, before anyone confirms), and the answer is a page
    that says what will happen and re-posts the same form with the confirmation."""
    db = get_session()
    try:
        result = action(db)
    except ValidationError as err:
        db.rollback()
        return on_error(err)
    if confirm is not None and request.form.get(CONFIRMED_FIELD) != "ja":
        db.rollback()
        return confirmation_page(confirm)
    db.commit()
    if done:
        flash(done(result) if callable(done) else done, category)
    return redirect(then(result) if callable(then) else then)


def confirmation_page(confirm: Confirm) -> Response:
    """The page that asks before acting: the form's own fields go along unchanged."""
    fields = [(name, value) for name, values in request.form.lists() for value in values
              if name not in ("csrf_token", CONFIRMED_FIELD)]
    html = render_template("confirm.html", c=confirm, fields=fields, action=request.full_path.rstrip("?"),
                           confirmed_field=CONFIRMED_FIELD)
    return Response(html, status=200)


def page_again(render: Callable[[ValidationError, int], Response]) -> Callable[[ValidationError], Response]:
    """``on_error`` that shows the form's page again with the message, as 422."""
    return lambda err: render(err, 422)


def back_to(url: str) -> Callable[[ValidationError], Response]:
    """``on_error`` for a button without a form page of its own: go back and say why."""

    def answer(err: ValidationError) -> Response:
        flash(err.message, "error")
        return redirect(url)

    return answer


@dataclass(frozen=True)
class Page:
    """One page of a long list: the ``sida`` argument clamped to the pages that exist."""

    number: int
    size: int
    total: int

    @classmethod
    def of(cls, total: int, size: int) -> Page:
        try:
            number = int(request.values.get("sida", "1"))
        except ValueError:
            number = 1
        return cls(min(max(number, 1), max(1, -(-total // size))), size, total)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size
