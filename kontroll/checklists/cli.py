"""``kontroll checklists validate``: check every template file, and the files against the
template versions already used."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from kontroll.checklists.services import checklists_directory, database_problems
from kontroll.checklists.validation import load_directory
from kontroll.core.timezone import local_today
from kontroll.db import get_database

checklists_cli = AppGroup("checklists", help="Checklistmallar.")


@checklists_cli.command("validate")
@click.option("--dir", "directory", default=None, help="Mallkatalogen (standard: checklists/ eller CHECKLISTS_DIR)")
def validate(directory: str | None) -> None:
    """Kontrollera alla mallar: format, obligatoriska uppgifter och att använda versioner inte ändrats."""
    path = Path(directory) if directory else checklists_directory(current_app.config)
    templates, errors = load_directory(path)
    try:
        with get_database(current_app).session_scope() as session:
            errors.extend(database_problems(session, templates))
    except SQLAlchemyError:
        click.echo("VARNING: databasen kunde inte läsas; mallarna jämfördes inte med använda versioner.")
    today: dt.date = local_today()
    for template in sorted(templates.values(), key=lambda t: t.id):
        if template.is_overdue(today):
            click.echo(
                f"VARNING: mallen ”{template.title}” ({template.id}) skulle ha reviderats senast "
                f"{template.revideras_senast.isoformat()} (ansvarig: {template.ansvarig_funktion})."
            )
    if errors:
        for message in errors:
            click.echo(f"FEL: {message}", err=True)
        click.echo(f"{len(errors)} fel i mallarna i {path}.", err=True)
        sys.exit(1)
    click.echo(f"Alla mallar är giltiga ({len(templates)} st i {path}).")
