"""Errors that services raise for people to read."""

from __future__ import annotations


class ValidationError(ValueError):
    """Bad input. ``message`` is Swedish and meant for the user; ``field`` names the form
    field it concerns, if any. Raising it must leave the database as it was: services check
    before they change anything, and the view rolls back."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
