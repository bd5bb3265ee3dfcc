"""Extension points through which features add to core pages and services without the core
(or an earlier feature) importing them. Each application has its own :class:`Hooks`, filled
in a fixed order by :mod:`kontroll.features` and carried by every database session of that
application (``session.info``), so a service reaches them without Flask and without depending
on the order in which modules happen to be imported.

- ``unit_sections``: callables ``(session, user, unit) -> (template, context) | None``; the unit
  overview page includes each returned template with ``c`` bound to its context, in order.
- ``todo_sources``: callables ``(session, user, today, config) -> [Todo, …]``: what the user has
  to do (:mod:`kontroll.core.todos`); the start page lists them and the reminder jobs send them.
- ``start_cards``: callables ``(session, user) -> [(template, context), …]``; the start page
  shows them below the to-dos (what the user does here and where), in order. Each feature
  decides from permissions, never from role names.
- ``feedback_sections``: callables ``(session, user) -> (template, context) | None``; the
  handläggare's page of återkoppling on their own cases includes each, in order.
- ``nav_items``: callables ``(session, user) -> [NavItem, …]``: links a feature adds to the
  top menu for this person (e.g. "Mina granskningar" with how many and by when).
- ``audit_values``: ``{detail key: {stored value: Swedish words}}`` for the coded values a
  feature writes in the audit log's details (``method: vid_mote`` reads "Vid möte").
- ``assignment_guards``: callables ``(session, drawn_case_id) -> None`` that raise
  ValidationError when a drawn case may no longer get a new reviewer (its review is signed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from kontroll.core.models import Unit, User

UnitSection = Callable[[Session, User, Unit], tuple[str, dict[str, Any]] | None]
StartPart = Callable[[Session, User], list[tuple[str, dict[str, Any]]]]
AssignmentGuard = Callable[[Session, int], None]
FeedbackSection = Callable[[Session, User], tuple[str, dict[str, Any]] | None]


@dataclass(frozen=True)
class NavItem:
    """A link in the top menu: its text, where it leads, the endpoint that marks it current,
    and a short badge (e.g. "2 · senast 2027-01-31") with its words for a screen reader."""

    label: str
    url: str
    endpoint: str
    badge: str | None = None
    badge_words: str | None = None


NavSource = Callable[[Session, User], list[NavItem]]

#: ``session.info`` key of the application's hooks (set by kontroll.db.Database)
INFO_KEY = "kontroll_hooks"


@dataclass
class Hooks:
    unit_sections: list[UnitSection] = field(default_factory=list)
    todo_sources: list[Any] = field(default_factory=list)  # kontroll.core.todos.TodoSource
    start_cards: list[StartPart] = field(default_factory=list)
    assignment_guards: list[AssignmentGuard] = field(default_factory=list)
    feedback_sections: list[FeedbackSection] = field(default_factory=list)
    nav_items: list[NavSource] = field(default_factory=list)
    audit_values: dict[str, dict[str, str]] = field(default_factory=dict)


def hooks_of(session: Session) -> Hooks:
    """The hooks of the application ``session`` belongs to."""
    hooks = session.info.get(INFO_KEY)
    if hooks is None:
        raise RuntimeError("the session has no hooks; create sessions through kontroll.db.Database")
    return hooks
