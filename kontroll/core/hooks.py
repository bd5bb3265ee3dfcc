"""Extension points through which features add to core pages and services without the core
(or an earlier feature) importing them.

``unit_sections``: callables ``(session, user, unit) -> (template, context) | None``; the unit
overview page includes each returned template with ``c`` bound to its context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from kontroll.core.models import Unit, User

UnitSection = Callable[[Session, User, Unit], tuple[str, dict[str, Any]] | None]

unit_sections: list[UnitSection] = []

#: ``assignment_guards``: callables ``(session, drawn_case_id) -> None`` that raise
#: ValidationError when a drawn case may no longer get a new reviewer (e.g. its review is signed).
assignment_guards: list[Callable[[Session, int], None]] = []
