"""What every ``kontroll`` command shares: a session that commits on success and exits 1 with
the Swedish message on a refusal, and finding the acting user, a user or a unit by name.

Features' command groups (``kontroll caselist``, ``draw``, ``report``…) use these; the command
itself is assembled in :mod:`kontroll.cli`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import current_app
from sqlalchemy.orm import Session

from kontroll.core import users as user_svc
from kontroll.core.errors import ValidationError
from kontroll.core.models import Unit
from kontroll.db import get_database


@contextmanager
def cli_session() -> Iterator[Session]:
    """A session for one command: commits on success, rolls back and exits 1 on refusal."""
    database = get_database(current_app)
    session = database.sessionmaker()
    try:
        yield session
        session.commit()
    except ValidationError as err:
        session.rollback()
        click.echo(err.message, err=True)
        sys.exit(1)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def cli_actor(session: Session, username: str | None) -> Any:
    """The acting user named with --user, or the label "cli"."""
    if not username:
        return "cli"
    user = user_svc.get_user_by_username(session, username)
    if user is None or not user.is_active:
        raise ValidationError(f"Användaren ”{username}” finns inte eller är avstängd.")
    return user


def cli_user(session: Session, username: str) -> Any:
    user = user_svc.get_user_by_username(session, username)
    if user is None:
        raise ValidationError(f"Användaren ”{username}” finns inte.")
    return user


def cli_unit(session: Session, code: str) -> Unit:
    unit = user_svc.get_unit_by_code(session, code)
    if unit is None:
        raise ValidationError(f"Enheten ”{code}” finns inte.")
    return unit
