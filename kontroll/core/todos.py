"""What a person has to do (uppgifter): one list, across their units and roles, that the start
page shows and the reminders are sent from.

Each feature contributes a *source* (``todo_sources`` of ``kontroll.core.hooks.Hooks``): a function
``(session, user, today, config) -> [Todo, …]`` that decides, from permissions and the
feature's own state, what this user has to do now. A to-do disappears when the thing is done
(the source no longer returns it). The reminder jobs ask the same sources through
:func:`due_reminders`, so a reminder is never sent for something the start page does not show.

Sources must answer in a bounded number of queries for one user, whatever the number of units
or years (the start page is rendered on every visit).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.core.hooks import hooks_of
from kontroll.core.models import User
from kontroll.core.notifications import notify, page_path
from kontroll.core.swedish import count

#: the kinds of to-do, in the order the start page groups them when their dates are equal
KINDS: dict[str, str] = {
    "caselist": "Ärendelista",
    "draw": "Stickprov",
    "assign": "Granskare",
    "review": "Granskning",
    "review_late": "Försenad granskning",
    "feedback": "Återkoppling",
    "atgard": "Åtgärd",
    "atgard_late": "Försenad åtgärd",
    "verify": "Kontroll av åtgärd",
    "brist": "Brist utan åtgärd",
    "genomgang": "Genomgång",
    "genomgang_plan": "Genomgångar",
    "template": "Mall",
    "assessment": "Bedömning",
}


@dataclass(frozen=True)
class Todo:
    """One thing to do. ``key`` names the thing (the same for everyone who has it); ``due`` is
    the date it should be done by (None: no date); ``remind_on`` the day a reminder is sent
    (None: the page only). ``reminder_key`` is the notification's dedupe key without the user
    (default ``"todo:" + key``)."""

    kind: str
    key: str
    title: str
    link: str | None
    unit_code: str | None = None
    due: dt.date | None = None
    detail: str = ""
    remind_on: dt.date | None = None
    reminder_key: str | None = None
    reminder_title: str | None = None
    reminder_kind: str | None = None
    #: the reminder's text when it differs from the page's (written for the day it is sent)
    reminder_detail: str | None = None

    def is_late(self, today: dt.date) -> bool:
        return self.due is not None and self.due < today

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, "")

    def sort_key(self, today: dt.date) -> tuple[Any, ...]:
        kinds = list(KINDS)
        return (not self.is_late(today), self.due is None, self.due or dt.date.max,
                kinds.index(self.kind) if self.kind in kinds else len(kinds), self.unit_code or "", self.title)


TodoSource = Callable[[Session, User, dt.date, Mapping[str, Any]], list[Todo]]


def todos_for(session: Session, user: User, today: dt.date, config: Mapping[str, Any]) -> list[Todo]:
    """Everything ``user`` has to do today, late first, then by due date."""
    if user is None or not user.is_active:
        return []
    found = [todo for source in hooks_of(session).todo_sources for todo in source(session, user, today, config)]
    return sorted(found, key=lambda t: t.sort_key(today))


#: how many to-dos of one kind in one unit the start page lists before it sums up the rest
SHOWN_PER_KIND_AND_UNIT = 5


def for_the_page(todos: list[Todo], session: Session | None = None,
                 limit: int = SHOWN_PER_KIND_AND_UNIT) -> list[Todo]:
    """The start page's list: the first ``limit`` to-dos of each kind in each unit (the most
    urgent, as sorted), and for the rest one line that says how many more there are and leads
    to the unit. Nothing is dropped without being counted; the reminders still go one by one."""
    seen: dict[tuple[str, str | None], int] = {}
    shown: list[Todo] = []
    for todo in todos:
        group = (todo.kind, todo.unit_code)
        seen[group] = seen.get(group, 0) + 1
        if seen[group] <= limit:
            shown.append(todo)
    for (kind, unit_code), n in seen.items():
        if n > limit:
            rest = n - limit
            where = f" i {unit_code}" if unit_code else ""
            last = max(i for i, t in enumerate(shown) if (t.kind, t.unit_code) == (kind, unit_code))
            shown.insert(last + 1, Todo(
                kind=kind, key=f"fler:{kind}:{unit_code}", unit_code=unit_code,
                title=f"… och {count(rest, 'till', 'till')} av samma slag{where}",
                link=page_path("core.unit_overview", session=session, code=unit_code) if unit_code else None))
    return shown


def due_reminders(session: Session, user: User, today: dt.date, config: Mapping[str, Any],
                  kinds: set[str]) -> list[Todo]:
    """The to-dos of ``kinds`` whose reminder day has come: what a reminder job sends."""
    return [t for t in todos_for(session, user, today, config)
            if t.kind in kinds and t.remind_on is not None and t.remind_on <= today]


def active_users(session: Session) -> list[User]:
    """Everyone a reminder job asks the to-do sources for."""
    return list(session.scalars(select(User).where(User.is_active.is_(True)).order_by(User.id)))


def send_reminders(session: Session, users: list[User], today: dt.date, config: Mapping[str, Any],
                   kinds: set[str]) -> list[tuple[User, Todo]]:
    """Notify each of ``users`` once about each of their to-dos of ``kinds`` whose reminder day
    has come (the notification's dedupe key is the to-do's reminder key and the user). Returns
    the (user, to-do) pairs that got a new notification. Flushes; the job commits."""
    sent = []
    for user in users:
        for todo in due_reminders(session, user, today, config, kinds):
            created = notify(
                session, user, kind=todo.reminder_kind or todo.kind, title=todo.reminder_title or todo.title,
                body=todo.reminder_detail or todo.detail, link=todo.link, dedupe_key=f"{todo.reminder_key or 'todo:' + todo.key}:{user.id}",
            )
            if created is not None:
                sent.append((user, todo))
    return sent
