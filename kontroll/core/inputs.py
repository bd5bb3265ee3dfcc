"""What people type into forms, read the same way everywhere."""

from __future__ import annotations

import datetime as dt

from kontroll.core.errors import ValidationError


def form_date(value: str | dt.date, field_name: str, label: str) -> dt.date:
    """A date typed as ÅÅÅÅ-MM-DD; otherwise a refusal that names the field."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat((value or "").strip())
    except ValueError:
        raise ValidationError(f"{label} ska skrivas ÅÅÅÅ-MM-DD, t.ex. 2026-12-15.", field_name) from None


def date_or_none(value: str | None) -> dt.date | None:
    """A date typed as ÅÅÅÅ-MM-DD, or None when it is empty or not a date (filters)."""
    try:
        return dt.date.fromisoformat(value.strip()) if value and value.strip() else None
    except ValueError:
        return None
