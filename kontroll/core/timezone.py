"""Where the users are: the configured time zone (``TIMEZONE``, Europe/Stockholm by default).

Stored times are UTC; every date shown to people, every month a draw belongs to and every
day a job runs for is read in this zone. :func:`local_zone` is the one reader of the setting:
in a request, the CLI or the scheduler it is the app's; outside an application (pure code in
tests) it is the default.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Europe/Stockholm"


def local_zone(config: Mapping[str, Any] | None = None) -> ZoneInfo:
    """The configured zone: from ``config`` when given (the scheduler passes its app's), else
    from the current app, else the default."""
    if config is None:
        from flask import current_app, has_app_context

        config = current_app.config if has_app_context() else {}
    return ZoneInfo(config.get("TIMEZONE") or DEFAULT_TIMEZONE)


def local_date(moment: dt.datetime, zone: ZoneInfo | str | None = None) -> dt.date:
    """The date of ``moment`` where the users are."""
    tz = ZoneInfo(zone) if isinstance(zone, str) else (zone or local_zone())
    return moment.astimezone(tz).date()


def year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants at which ``year`` begins and ends where the users are."""
    zone = local_zone()
    start = dt.datetime(year, 1, 1, tzinfo=zone).astimezone(dt.timezone.utc)
    end = dt.datetime(year + 1, 1, 1, tzinfo=zone).astimezone(dt.timezone.utc)
    return start, end


def local_today(config: Mapping[str, Any] | None = None) -> dt.date:
    """Today where the users are (``config``: as for :func:`local_zone`)."""
    from kontroll.db import utcnow

    return local_date(utcnow(), local_zone(config))


def local_datetime_text(moment: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``moment`` written where the users are (empty for None)."""
    if moment is None:
        return ""
    return moment.astimezone(local_zone()).strftime(fmt)
