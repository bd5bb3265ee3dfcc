"""`kontroll caselist import`: the same validation as the upload page."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

caselist_cli = AppGroup("caselist", help="Ärendelistor.")


@caselist_cli.command("import")
@click.option("--unit", "unit_code", required=True, help="Enhetens kod, t.ex. IFO-FS")
@click.option("--user", "username", required=True, help="Användaren som importerar (behöver rätt roll)")
@click.option("--column", "columns", multiple=True, metavar="FÄLT=Rubrik",
              help="Ange kolumnrubrik för ett fält, t.ex. case_ref=Ärende-ID (kan upprepas)")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def import_command(unit_code: str, username: str, columns: tuple[str, ...], file: Path) -> None:
    """Importera en ärendelista (CSV eller xlsx) som en ny ögonblicksbild."""
    from flask import current_app

    from kontroll.cases import services as svc
    from kontroll.cases.parsing import CaseListError, ImportLimits
    from kontroll.core.cli import cli_actor, cli_session, cli_unit
    from kontroll.core.errors import ValidationError
    from kontroll.core.permissions import PermissionDenied

    overrides: dict[str, str] = {}
    for item in columns:
        key, sep, header = item.partition("=")
        if not sep:
            click.echo(f"Kolumnangivelsen ”{item}” ska skrivas fält=Rubrik.", err=True)
            sys.exit(1)
        overrides[key.strip()] = header.strip()
    try:
        data = file.read_bytes()
    except OSError as exc:
        click.echo(f"Filen {file} kunde inte läsas: {exc.strerror}.", err=True)
        sys.exit(1)
    with cli_session() as session:
        actor = cli_actor(session, username)
        unit = cli_unit(session, unit_code)
        try:
            snapshot = svc.import_file(session, actor, unit, data, file.name, overrides=overrides, source="cli",
                                       limits=ImportLimits.from_config(current_app.config))
        except CaseListError as err:
            raise ValidationError(err.message) from err
        except PermissionDenied as err:
            raise ValidationError(f"{actor.username} får inte importera ärendelistor för {unit.code}.") from err
        click.echo(f"Importerade {snapshot.row_count} ärenden (sha256 {snapshot.sha256})")
