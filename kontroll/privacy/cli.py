"""``kontroll privacy scan`` and ``kontroll privacy redact``: find every stored personnummer,
and remove one through the controlled, audited path (kontroll.privacy.redaction)."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

privacy_cli = AppGroup("privacy", help="Personnummer i lagrade uppgifter: sök och maskera.")


@privacy_cli.command("scan")
def scan_command() -> None:
    """Sök igenom alla lagrade textvärden efter personnummer. Skriver tabell, kolumn och rad
    (aldrig värdet); exit 1 om något hittas."""
    from kontroll.db import get_database
    from kontroll.privacy.redaction import scan

    session = get_database(current_app).sessionmaker()
    try:
        findings = list(scan(session))
    finally:
        session.rollback()
        session.close()
    if not findings:
        click.echo("Inga personnummer hittades i databasens textvärden.")
        return
    for finding in findings:
        click.echo(str(finding))
    n = len(findings)
    click.echo(f"{n} {'värde' if n == 1 else 'värden'} liknar personnummer. Maskera dem med "
               "kontroll privacy redact --table TABELL --id RAD --column KOLUMN --user SYSTEMADMINISTRATÖR.", err=True)
    sys.exit(1)


@privacy_cli.command("redact")
@click.option("--table", "table_name", required=True, help="Tabellen, som scan skriver den.")
@click.option("--id", "row_id", required=True, type=int, help="Radens id.")
@click.option("--column", "column_name", required=True, help="Kolumnen.")
@click.option("--user", "username", required=True, help="Systemadministratören som maskerar.")
def redact_command(table_name: str, row_id: int, column_name: str, username: str) -> None:
    """Ersätt ett personnummer i ett lagrat värde med en markering, förseglat och loggat."""
    from kontroll.core.cli import cli_actor, cli_session
    from kontroll.core.errors import ValidationError
    from kontroll.core.permissions import PermissionDenied
    from kontroll.privacy.redaction import redact

    with cli_session() as session:
        actor = cli_actor(session, username)
        if isinstance(actor, str):
            raise ValidationError("Ange vem som maskerar med --user.")
        try:
            record = redact(session, actor, table_name, row_id, column_name, current_app.config["AUDIT_KEY_BYTES"])
        except PermissionDenied as err:
            raise ValidationError(err.message) from err
        click.echo(f"Maskerade {table_name}.{column_name} rad {row_id}: värdet är nu {record.marker} "
                   f"(maskering {record.id}, förseglad och loggad).")
