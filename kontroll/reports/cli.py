"""``kontroll report year``: the yearly summary as PDF or CSV from the command line."""

from __future__ import annotations

import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from kontroll.core.models import Unit
from kontroll.db import get_database, utcnow
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
    tz = str(current_app.config["TIMEZONE"])
    today = utcnow().astimezone(ZoneInfo(tz)).date()
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
        summary = build_summary(session, units, year, today, tz, forvaltning=all_units)
        body = export.to_pdf(summary, tz) if fmt == "pdf" else export.to_csv(summary, tz)
    finally:
        session.rollback()
        session.close()
    if not output.parent.exists():
        _fail(f"Mappen {output.parent} finns inte.")
    output.write_bytes(body)
    click.echo(f"Sammanfattningen för {summary.title} {year} är sparad i {output} ({len(body)} byte).")
