"""The case lists' scheduled job: previews of imports are kept at most an hour."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kontroll.cases.models import PendingImport
from kontroll.cases.services import PENDING_LIFETIME, purge_pending
from kontroll.core.jobs import DAILY_0600, by_day, job
from kontroll.db import utcnow


@job(
    "purge_previews",
    period=by_day,
    schedule=DAILY_0600,
    schedule_label="varje dag kl. 06:00",
    description="Ta bort förhandsgranskningar av ärendelistor som inte bekräftades inom en timme",
)
def purge_previews(session: Session, today: dt.date, *, config: Mapping[str, Any]) -> str:
    now = utcnow()
    previews = session.scalar(
        select(func.count()).select_from(PendingImport).where(PendingImport.created_dt < now - PENDING_LIFETIME)
    ) or 0
    purge_pending(session, now)
    return f"{previews} utgångna förhandsgranskningar borttagna."


JOBS = (purge_previews,)
