"""The ``kontroll`` command: Flask's CLI with the app factory, plus kontroll's own commands.

Every command prints Swedish messages and exits 1 on refusal, 0 on success.
"""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext
from sqlalchemy import select

from kontroll import create_app
from kontroll.core import users as user_svc
from kontroll.core.cli import cli_session, cli_unit, cli_user
from kontroll.core.errors import ValidationError
from kontroll.core.models import Unit
from kontroll.db import get_database

# --- db ----------------------------------------------------------------------------------

db_cli = AppGroup("db", help="Databasen: migreringar.")


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Uppgradera databasen till senaste schemat."""
    from kontroll.migrate import upgrade

    upgrade(current_app.config["DATABASE_URL"], revision, audit_key=current_app.config["AUDIT_KEY_BYTES"])
    click.echo("Databasen är uppgraderad.")


@db_cli.command("current")
def db_current() -> None:
    """Visa databasens schemaversion."""
    from kontroll.migrate import current_heads

    heads = current_heads(current_app.config["DATABASE_URL"])
    click.echo(", ".join(sorted(heads)) or "Tom databas (inget schema).")


# --- audit -------------------------------------------------------------------------------

audit_cli = AppGroup("audit", help="Granskningsloggen: kontroll av hashkedjan.")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Gå igenom hela granskningsloggens kedja; exit 1 vid första brutna post."""
    from kontroll.core.audit import verify_chain

    database = get_database(current_app)
    session = database.sessionmaker()
    try:
        report = verify_chain(session, current_app.config["AUDIT_KEY_BYTES"])
    finally:
        session.rollback()
        session.close()
    if not report.ok:
        click.echo(report.message(), err=True)
        sys.exit(1)
    click.echo(report.message())
    click.echo(f"Senaste hash: {report.last_hash}")


# --- users -------------------------------------------------------------------------------

user_cli = AppGroup("user", help="Användare och roller.")


@user_cli.command("create")
@click.option("--username", required=True, help="Användarnamn, t.ex. anna.andersson")
@click.option("--name", "full_name", required=True, help="Fullständigt namn")
@click.option("--email", default=None)
@click.option("--signature", "case_system_id", default=None, help="Signatur/användar-id i verksamhetssystemet")
@click.option("--password", default=None, help="Lösenord (utelämna för att bli tillfrågad)")
@click.option("--no-password", is_flag=True, help="Skapa kontot utan lösenord (t.ex. för inloggningstjänst)")
def user_create(
    username: str, full_name: str, email: str | None, case_system_id: str | None, password: str | None,
    no_password: bool,
) -> None:
    """Skapa en användare."""
    if password is None and not no_password:
        password = click.prompt("Lösenord", hide_input=True, confirmation_prompt="Upprepa lösenordet")
    with cli_session() as session:
        user = user_svc.create_user(
            session, "cli", username=username, full_name=full_name, password=password,
            email=email, case_system_id=case_system_id,
        )
        click.echo(f"Användaren {user.username} ({user.full_name}) är skapad.")


@user_cli.command("add-role")
@click.argument("username")
@click.argument("role")
@click.option("--unit", "unit_code", default=None, help="Enhetens kod; utelämna för hela organisationen")
def user_add_role(username: str, role: str, unit_code: str | None) -> None:
    """Ge en användare en roll, t.ex. `user add-role anna sektionschef --unit IFO-FS`."""
    with cli_session() as session:
        user = cli_user(session, username)
        unit = cli_unit(session, unit_code) if unit_code else None
        user_svc.add_role(session, "cli", user, user_svc.parse_role(role), unit)
        where = unit.code if unit else "hela organisationen"
        click.echo(f"{user.username} har nu rollen {user_svc.parse_role(role).label} för {where}.")


@user_cli.command("deactivate")
@click.argument("username")
def user_deactivate(username: str) -> None:
    """Stäng av en användare och avsluta alla dess sessioner."""
    with cli_session() as session:
        user = cli_user(session, username)
        ended = user_svc.deactivate_user(session, "cli", user)
        click.echo(f"{user.username} är avstängd; {ended} sessioner avslutades.")


@user_cli.command("set-password")
@click.argument("username")
@click.option("--password", default=None)
def user_set_password(username: str, password: str | None) -> None:
    """Sätt ett nytt lösenord (och lås upp kontot)."""
    if password is None:
        password = click.prompt("Nytt lösenord", hide_input=True, confirmation_prompt="Upprepa lösenordet")
    with cli_session() as session:
        user = cli_user(session, username)
        user_svc.set_password(session, "cli", user, password)
        click.echo(f"Nytt lösenord är satt för {user.username}.")


@user_cli.command("list")
def user_list() -> None:
    """Lista användare med roller."""
    from kontroll.core.models import User
    from kontroll.core.permissions import role_summary

    with cli_session() as session:
        for user in session.scalars(select(User).order_by(User.username)):
            roles = ", ".join(f"{label}{f' ({code})' if code else ''}" for label, code in role_summary(user))
            state = "" if user.is_active else " [avstängd]"
            click.echo(f"{user.username}\t{user.full_name}{state}\t{roles}")


# --- units -------------------------------------------------------------------------------

unit_cli = AppGroup("unit", help="Enheter.")


@unit_cli.command("list")
def unit_list() -> None:
    """Lista enheterna."""
    with cli_session() as session:
        units = list(session.scalars(select(Unit).order_by(Unit.code)))
        if not units:
            click.echo("Inga enheter.")
        for unit in units:
            click.echo(
                f"{unit.code}\t{unit.name}\tstickprov {unit.sample_size}/mån\tdras av {unit.drawer_role.label.lower()}"
            )


@unit_cli.command("create")
@click.option("--code", required=True)
@click.option("--name", required=True)
@click.option("--drawer", default="sektionschef", show_default=True, help="sektionschef eller administrator")
@click.option("--sample-size", default=2, show_default=True, type=int)
def unit_create(code: str, name: str, drawer: str, sample_size: int) -> None:
    """Skapa en enhet."""
    with cli_session() as session:
        unit = user_svc.create_unit(
            session, "cli", code=code, name=name, drawer_role=user_svc.parse_role(drawer), sample_size=sample_size
        )
        click.echo(f"Enheten {unit.code} är skapad.")


# --- demo --------------------------------------------------------------------------------

demo_cli = AppGroup("demo", help="Demodata.")


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Gör ingenting (och lyckas) om databasen redan har data.")
def demo_load(if_empty: bool) -> None:
    """Ladda en demokommun i en tom databas."""
    from kontroll import demo

    with cli_session() as session:
        if not demo.database_is_empty(session):
            if if_empty:
                click.echo("Databasen har redan data; demodata laddas inte.")
                return
            raise ValidationError("Databasen är inte tom: demodata laddas bara i en tom databas.")
        counts = demo.load_demo(session)
        click.echo(
            "Demodata laddade: "
            + ", ".join(f"{n} {label}" for label, n in (("enheter", counts["units"]), ("användare", counts["users"]),
                                                        ("grupper", counts["teams"]), ("ärenden", counts["cases"])))
            + f". Alla demoanvändare har lösenordet {demo.DEMO_PASSWORD}."
        )


# --- development: the web server and the scheduler together ---------------------------------


@click.command("dev")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def dev_command(host: str, port: int) -> None:
    """Kör webbservern och schemaläggaren tillsammans (make run). Avsluta med Ctrl+C: båda stoppas.

    For one computer only. In production the web server (gunicorn) and the scheduler are two
    services (docs/production.md)."""
    import os
    import signal
    import subprocess

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    env = dict(os.environ)
    scheduler = subprocess.Popen([sys.executable, "-c", "from kontroll.cli import main; main()", "scheduler", "run"],
                                 env=env)
    click.echo(f"Schemaläggaren körs (process {scheduler.pid}).")

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        from werkzeug.serving import run_simple

        click.echo(f"Webbservern körs på http://{host}:{port}/ (avsluta med Ctrl+C).")
        run_simple(host, port, app, use_reloader=False, use_debugger=False, threaded=True)
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.terminate()
        try:
            scheduler.wait(timeout=15)
        except subprocess.TimeoutExpired:
            scheduler.kill()
            scheduler.wait()
        click.echo("Webbservern och schemaläggaren är stoppade.")


def make_cli() -> FlaskGroup:
    from kontroll import features

    group = FlaskGroup(create_app=create_app, help="kontroll – internkontroll av ekonomiskt bistånd.")
    for command in features.command_groups():
        group.add_command(command)  # type: ignore[arg-type]
    group.add_command(dev_command)
    return group


def main() -> None:
    make_cli()(prog_name="kontroll")
