"""What the checklist templates add to other pages (they have no pages of their own)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from kontroll.checklists.services import overdue_templates
from kontroll.core.models import User
from kontroll.core.permissions import Perm, can_anywhere
from kontroll.core.timezone import local_today


def start_notices(db: Session, user: User) -> list[tuple[str, dict[str, Any]]]:
    """Templates past their revideras_senast, for those told to revise them (the same people
    the template_revision job reminds)."""
    if not can_anywhere(user, Perm.REVISE_TEMPLATES):
        return []
    templates = overdue_templates(current_app.config, local_today())
    return [("checklists/_start_overdue.html", {"templates": templates})] if templates else []
