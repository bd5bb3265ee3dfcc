"""``kontroll report year``: the yearly summary as PDF or CSV from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from kontroll.core.models import Unit
from kontroll.core.periods import late_after_months
from kontroll.core.timezone import local_today
from kontroll.db import get_database
from kontroll.reports import export
from kontroll.reports.summary import build_summary

report_cli = AppGroup("report", help="Nämndens årssammanfattning.")


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


@report_cli.command("year")
@click.option("--unit", "unit_code", help="Enhetens kod, t.ex. IFO-FS.")
@click.option("--all", "all_units", is_flag=True, help="Alla aktiva enheter (hela förvaltningen).")
@click.option("--year", "year", type=int, required=True, help="År, ÅÅÅÅ.")
@click.option("--format", "fmt", type=click.Choice(["pdf", "csv"]), required=True)
@click.option("--output", "output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def report_year(unit_code: str | None, all_units: bool, year: int, fmt: str, output: Path) -> None:
    """Skriv årssammanfattningen för en enhet eller hela förvaltningen till en fil."""
    if bool(unit_code) == all_units:
        _fail("Ange antingen --unit <kod> eller --all.")
    if not 2000 <= year <= 2100:
        _fail("Året ska vara mellan 2000 och 2100.")
    today = local_today()
    session = get_database(current_app).sessionmaker()
    try:
        if all_units:
            units = list(session.scalars(select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.code)))
            if not units:
                _fail("Det finns inga aktiva enheter.")
        else:
            unit = session.scalar(select(Unit).where(Unit.code == unit_code.upper()))  # type: ignore[union-attr]
            if unit is None:
                _fail(f"Enheten ”{unit_code}” finns inte.")
            units = [unit]  # type: ignore[list-item]
        summary = build_summary(session, units, year, today, forvaltning=all_units,
                                late_months=late_after_months(current_app.config))
        body = export.to_pdf(summary) if fmt == "pdf" else export.to_csv(summary)
    finally:
        session.rollback()
        session.close()
    if not output.parent.exists():
        _fail(f"Mappen {output.parent} finns inte.")
    output.write_bytes(body)
    click.echo(f"Sammanfattningen för {summary.title} {year} är sparad i {output} ({len(body)} byte).")


@report_cli.command("sign")
@click.option("--unit", "unit_code", required=True, help="Enhetens kod, t.ex. IFO-FS.")
@click.option("--year", "year", type=int, required=True, help="År, ÅÅÅÅ.")
@click.option("--user", "username", required=True, help="Sektionschefen som signerar.")
@click.option("--text", "text", help="Bedömningen.")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="En textfil (UTF-8) med bedömningen, i stället för --text.")
def report_sign(unit_code: str, year: int, username: str, text: str | None, file: Path | None) -> None:
    """Signera enhetens bedömning för året (samma regler som på sidan: inga personnummer,
    ärendenummer eller namn, eftersom nämnden läser den)."""
    from kontroll.core.cli import cli_actor, cli_session, cli_unit
    from kontroll.core.errors import ValidationError
    from kontroll.core.permissions import PermissionDenied
    from kontroll.reports.services import sign_assessment

    if bool(text) == bool(file):
        _fail("Ange bedömningen med antingen --text eller --file.")
    body = text if text else file.read_text(encoding="utf-8")  # type: ignore[union-attr]
    with cli_session() as session:
        actor = cli_actor(session, username)
        unit = cli_unit(session, unit_code)
        try:
            row = sign_assessment(session, actor, unit, year, body)
        except PermissionDenied as err:
            raise ValidationError(err.message) from err
        click.echo(f"Bedömningen för {unit.code} {year} är signerad (id {row.id}).")
