"""`kontroll draw run` and `kontroll draw verify`."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

draw_cli = AppGroup("draw", help="Månadens stickprov.")


@draw_cli.command("run")
@click.option("--unit", "unit_code", required=True)
@click.option("--period", required=True, help="ÅÅÅÅ-MM")
@click.option("--user", "username", required=True, help="Den som drar (enhetens dragande roll)")
def run_command(unit_code: str, period: str, username: str) -> None:
    """Dra stickprovet för en enhet och månad."""
    from kontroll.core.cli import cli_actor, cli_session, cli_unit
    from kontroll.core.errors import ValidationError
    from kontroll.core.permissions import PermissionDenied
    from kontroll.sampling import services as svc

    with cli_session() as session:
        actor = cli_actor(session, username)
        unit = cli_unit(session, unit_code)
        try:
            draw = svc.run_draw(session, actor, unit, period)
        except PermissionDenied as err:
            raise ValidationError(err.message) from err
        refs = ", ".join(c.case_ref for c in draw.cases)
        click.echo(f"Stickprov {draw.id} för {unit.code} {draw.period}: {refs} (frö {draw.seed})")


@draw_cli.command("verify")
@click.argument("draw_id", type=int)
def verify_command(draw_id: int) -> None:
    """Gör om en dragning från sparad ärendelista och slumpfrö och jämför."""
    from kontroll.core.cli import cli_session
    from kontroll.core.errors import ValidationError
    from kontroll.sampling import services as svc

    with cli_session() as session:
        draw = svc.load_draw(session, draw_id)
        if draw is None:
            raise ValidationError(f"Stickprov {draw_id} finns inte.")
        result = svc.verify_draw(session, draw)
        for line in result.lines:
            click.echo(line)
        click.echo("Verifierad" if result.ok else "Stämmer inte")
    sys.exit(0 if result.ok else 1)
