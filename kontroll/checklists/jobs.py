"""The templates' scheduled job: say when a template is past its revideras_senast date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from kontroll.checklists.services import checklists_directory, file_templates
from kontroll.core.jobs import DAILY_0600, by_day, job, notify_each
from kontroll.core.permissions import Perm, holders_anywhere


@job(
    "template_revision",
    period=by_day,
    schedule=DAILY_0600,
    schedule_label="varje dag kl. 06:00",
    description="Påminn sektionschefer och systemadministratörer när en mall passerat revideras_senast",
)
def template_revision(session: Session, today: dt.date, *, config: Mapping[str, Any]) -> str:
    """Once per template version and person who answers for templates (Perm.REVISE_TEMPLATES)."""
    templates = [t for t in file_templates(checklists_directory(config)).values() if t.is_overdue(today)]
    people = list(holders_anywhere(session, Perm.REVISE_TEMPLATES))
    created = 0
    for template in templates:
        created += notify_each(
            session, list(people), key=f"template_revision:{template.id}:{template.version}", kind="template_revision",
            title=f"Mallen ”{template.title}” skulle ha reviderats senast {template.revideras_senast.isoformat()}",
            body=(f"Mallen {template.id} version {template.version} är fastställd {template.faststalld.isoformat()} "
                  f"av {template.faststalld_av}; ansvarig funktion: {template.ansvarig_funktion}. "
                  "Den går att använda, men behöver ses över."),
            link=None,
        )
    return f"{len(templates)} mallar har passerat revideringsdatum; {created} nya påminnelser."


JOBS = (template_revision,)
