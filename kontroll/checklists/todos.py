"""The templates' to-do: revise a template past its revideras_senast date (those who answer
for templates)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from kontroll.checklists.services import overdue_templates
from kontroll.core.models import User
from kontroll.core.permissions import Perm, can_anywhere
from kontroll.core.todos import Todo


def todos(session: Session, user: User, today: dt.date, config: Mapping[str, Any]) -> list[Todo]:
    if not can_anywhere(user, Perm.REVISE_TEMPLATES):
        return []
    return [Todo(
        kind="template", key=f"template:{t.id}:{t.version}",
        title=f"Revidera mallen ”{t.title}” (version {t.version})",
        detail=(f"Mallen {t.id} version {t.version} är fastställd {t.faststalld.isoformat()} av {t.faststalld_av}; "
                f"ansvarig funktion: {t.ansvarig_funktion}. Den går att använda, men behöver ses över."),
        link=None, due=t.revideras_senast, remind_on=t.revideras_senast + dt.timedelta(days=1),
        reminder_key=f"template_revision:{t.id}:{t.version}", reminder_kind="template_revision",
        reminder_title=f"Mallen ”{t.title}” skulle ha reviderats senast {t.revideras_senast.isoformat()}",
    ) for t in overdue_templates(config, today)]
