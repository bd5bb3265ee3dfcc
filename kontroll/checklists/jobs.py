"""The templates' scheduled job: say when a template is past its revideras_senast date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from kontroll.checklists.services import overdue_templates
from kontroll.core.jobs import DAILY_0600, by_day, job
from kontroll.core.todos import active_users, send_reminders


@job(
    "template_revision",
    period=by_day,
    schedule=DAILY_0600,
    schedule_label="varje dag kl. 06:00",
    description="Påminn sektionschefer och systemadministratörer när en mall passerat revideras_senast",
)
def template_revision(session: Session, today: dt.date, *, config: Mapping[str, Any]) -> str:
    """Once per template version and person who answers for templates (Perm.REVISE_TEMPLATES),
    from their to-dos (kontroll.checklists.todos)."""
    templates = overdue_templates(config, today)
    sent = send_reminders(session, active_users(session), today, config, {"template"})
    return f"{len(templates)} mallar har passerat revideringsdatum; {len(sent)} nya påminnelser."


JOBS = (template_revision,)
