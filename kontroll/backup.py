"""``kontroll backup FILE`` and ``kontroll restore FILE``.

SQLite
    ``backup`` copies the live database with SQLite's online backup API
    (:meth:`sqlite3.Connection.backup`) in one step: the copy is one read transaction, so it is
    a consistent snapshot even while the app keeps writing (WAL: readers never block writers).
    The copy is written to a temporary file beside FILE, switched to ``journal_mode=DELETE``
    (one self-contained file), checked with ``PRAGMA integrity_check``, synced, and only then
    given its name (a hard link, which refuses an existing name, or ``os.replace`` with
    ``--skriv-over``). ``restore`` copies a backup into the configured database with the same API.

PostgreSQL
    ``backup`` runs ``pg_dump --format=custom`` with the host, port, user and database from
    DATABASE_URL (the password only in the PGPASSWORD environment variable, never on the command
    line), inside an exported snapshot so that the row counts printed are those of the dump.
    Without ``pg_dump`` on PATH it prints the command to run and exits 1. ``restore`` runs
    ``pg_restore --no-owner --no-privileges --single-transaction --exit-on-error``.

"Empty" (the only database ``restore`` writes into): every table except ``alembic_version``
has zero rows. That covers both a new database with no tables and one that has been migrated
but never used. On PostgreSQL such a migrated empty schema is first taken down with the
migrations' own downgrade (it has no rows, so nothing is lost), because ``pg_restore`` creates
every object itself. Anything else is refused with nothing changed.

After a restore the migrations run up to head (a backup from an older version restores and
is then upgraded, through the same code as ``kontroll db upgrade``), the restore is recorded in
the audit log, and the row counts are printed.

The audit log's HMAC key is kept outside the database and is therefore *not* in a backup;
both commands say so.

Why one module of over 500 lines: backup and restore are the two halves of one file format per
database, and they share the helpers that make both safe (temporary files beside the target,
fsync, integrity checks, row counts). Reading them side by side is how one checks that what
``backup`` writes, ``restore`` accepts.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url

from kontroll.db import SQLITE_BUSY_TIMEOUT_MS, get_database, make_engine

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
VERSION_TABLE = "alembic_version"



def _key_source() -> str:
    """Where this installation's audit key comes from, for the reminders."""
    if current_app.config.get("AUDIT_KEY"):
        return "AUDIT_KEY i konfigurationen"
    path = current_app.config.get("AUDIT_KEY_FILE") or os.path.join(current_app.instance_path, "audit.key")
    return f"nyckelfilen {path}"


def key_reminder() -> str:
    return (
        f"Obs! Händelseloggens nyckel ({_key_source()}) finns inte i säkerhetskopian. Spara nyckeln "
        "separat och säkert, skild från säkerhetskopian; utan den kan ”kontroll audit verify” inte "
        "bekräfta händelseloggens kedja efter en återställning."
    )


def restore_key_reminder() -> str:
    return (
        f"Händelseloggens nyckel ingår inte i säkerhetskopian: den här installationen använder "
        f"{_key_source()}, och den måste vara samma nyckel som när kopian togs. Kontrollera kedjan "
        "med ”kontroll audit verify”."
    )


class Refusal(Exception):
    """A Swedish message for the user; the command exits 1."""


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


# --- helpers -------------------------------------------------------------------------------


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise Refusal(f"Databasen {url} är ingen SQLite-fil; den kan inte säkerhetskopieras eller återställas.")
    return Path(database)


def _sqlite_connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    if read_only:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True,
                               timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    else:
        conn = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    conn.isolation_level = None  # no implicit transactions
    conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    return conn


def _sqlite_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    )]
    return {name: conn.execute(f"SELECT count(*) FROM {_quote_ident(name)}").fetchone()[0] for name in names}


def _sqlite_version(conn: sqlite3.Connection) -> str | None:
    try:
        rows = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
    except sqlite3.DatabaseError:
        return None
    return ", ".join(sorted(r[0] for r in rows)) or None


def _sqlite_integrity(conn: sqlite3.Connection) -> str:
    """'ok', or the first problems SQLite reports."""
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check(20)")]
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return "ok" if rows == ["ok"] else "; ".join(rows)


def _pg_counts(conn: Connection) -> dict[str, int]:
    names = sorted(inspect(conn).get_table_names())
    return {name: conn.execute(text(f"SELECT count(*) FROM {_quote_ident(name)}")).scalar_one() for name in names}


def _pg_version(conn: Connection) -> str | None:
    if VERSION_TABLE not in inspect(conn).get_table_names():
        return None
    rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return ", ".join(sorted(rows)) or None


def _pg_args(url: str) -> tuple[list[str], dict[str, str], str]:
    """libpq arguments for pg_dump/pg_restore, the environment (password), and the command
    line as text for people (without the password)."""
    u = make_url(url)
    args: list[str] = []
    host = u.host or u.query.get("host")
    if isinstance(host, tuple):
        host = host[0]
    if host:
        args += ["--host", str(host)]
    if u.port:
        args += ["--port", str(u.port)]
    if u.username:
        args += ["--username", u.username]
    args += ["--dbname", u.database or ""]
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    sslmode = u.query.get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = str(sslmode)
    shown = " ".join(args)
    if u.password:
        shown = "PGPASSWORD=… " + shown  # reminds that the password goes in the environment
    return args, env, shown


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _temp_beside(target: Path) -> Iterator[Path]:
    """A temporary file name in target's folder, removed unless it has been renamed away."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)
        for suffix in ("-journal", "-wal", "-shm"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)


def _publish(tmp: Path, target: Path, overwrite: bool) -> None:
    """Give the finished temporary file its name, atomically; never clobber unless asked."""
    _fsync(tmp)
    if overwrite:
        os.replace(tmp, target)
    else:
        try:
            os.link(tmp, target)  # fails if the name exists, even if it appeared just now
        except FileExistsError:
            raise Refusal(f"Filen {target} finns redan. Välj ett annat namn eller använd --skriv-over.") from None
        except OSError:  # a file system without hard links
            if target.exists():
                raise Refusal(f"Filen {target} finns redan. Välj ett annat namn eller använd --skriv-over.") from None
            os.replace(tmp, target)
    try:
        _fsync(target.parent)
    except OSError:  # pragma: no cover - some platforms cannot sync a folder
        pass


def _format_counts(counts: dict[str, int]) -> str:
    width = max((len(n) for n in counts), default=0)
    lines = [f"  {name.ljust(width)}  {n}" for name, n in sorted(counts.items()) if name != VERSION_TABLE]
    total = sum(n for name, n in counts.items() if name != VERSION_TABLE)
    return "\n".join(["Rader per tabell:", *lines, f"  {'totalt'.ljust(width)}  {total}"])


def _record(action: str, details: dict[str, Any]) -> None:
    from kontroll.core import audit
    from kontroll.core.cli import cli_session

    with cli_session() as session:
        audit.record(session, "cli", action, object_type="database", details=details)


# --- backup --------------------------------------------------------------------------------


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--skriv-over", "overwrite", is_flag=True, help="Ersätt FILE om den redan finns.")
@with_appcontext
def backup_command(file: Path, overwrite: bool) -> None:
    """Gör en säkerhetskopia av databasen till FILE (SQLite: medan appen körs; PostgreSQL: med pg_dump)."""
    url = current_app.config["DATABASE_URL"]
    target = file.expanduser().absolute()
    try:
        if target.is_dir():
            raise Refusal(f"{target} är en mapp; ange ett filnamn.")
        if target.exists() and not overwrite:
            raise Refusal(f"Filen {target} finns redan. Välj ett annat namn eller använd --skriv-over.")
        if not target.parent.is_dir():
            raise Refusal(f"Mappen {target.parent} finns inte.")
        if get_database().dialect == "sqlite":
            info = _backup_sqlite(url, target, overwrite)
        else:
            info = _backup_postgres(url, target, overwrite)
    except Refusal as refusal:
        _fail(str(refusal))
    _record("backup.create", {"file": str(target), "format": info["format"], "sha256": info["sha256"],
                              "bytes": info["bytes"], "schema": info["schema"], "rows": info["rows"]})
    click.echo(f"Säkerhetskopian är sparad: {target}")
    click.echo(f"Format: {info['format']}, {info['bytes']} byte, SHA-256 {info['sha256']}")
    click.echo(f"Integritetskontroll: {info['check']}")
    click.echo(f"Schemaversion: {info['schema'] or 'okänd'}")
    click.echo(_format_counts(info["rows"]))
    click.echo(key_reminder())


def _backup_sqlite(url: str, target: Path, overwrite: bool) -> dict[str, Any]:
    source = _sqlite_path(url)
    if not source.exists():
        raise Refusal(f"Databasfilen {source} finns inte.")
    if target.exists() and os.path.samefile(target, source):
        raise Refusal("Säkerhetskopian kan inte skrivas över själva databasen.")
    with _temp_beside(target) as tmp:
        with closing(_sqlite_connect(source, read_only=True)) as src, closing(_sqlite_connect(tmp)) as dst:
            # pages=-1: the whole database in one step, i.e. one read transaction on the
            # source: a consistent snapshot that writers in WAL mode are not held up by.
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            check = _sqlite_integrity(dst)
            if check != "ok":
                raise Refusal(f"Kopian klarade inte integritetskontrollen (PRAGMA integrity_check): {check}. "
                              "Ingen säkerhetskopia sparades.")
            counts = _sqlite_counts(dst)
            version = _sqlite_version(dst)
        sha, size = _sha256(tmp), tmp.stat().st_size
        _publish(tmp, target, overwrite)
    return {"format": "sqlite", "sha256": sha, "bytes": size, "schema": version, "rows": counts,
            "check": "ok (PRAGMA integrity_check)"}


def _backup_postgres(url: str, target: Path, overwrite: bool) -> dict[str, Any]:
    args, env, shown = _pg_args(url)
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise Refusal(
            "PostgreSQL-databaser säkerhetskopieras med pg_dump, som inte finns på den här datorn "
            "(installera PostgreSQL:s klientprogram, t.ex. paketet postgresql-client). Kör:\n"
            f"  pg_dump --format=custom --file {target} {shown}\n"
            "Lösenordet ges i miljövariabeln PGPASSWORD eller i ~/.pgpass, aldrig på kommandoraden."
        )
    engine = make_engine(url)
    try:
        with _temp_beside(target) as tmp, engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                # The dump and the counts see the same snapshot.
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                done = subprocess.run(
                    [pg_dump, "--format=custom", "--file", str(tmp), "--snapshot", snapshot, *args],
                    env=env, capture_output=True, text=True,
                )
                if done.returncode != 0:
                    raise Refusal(f"pg_dump misslyckades (kod {done.returncode}):\n{done.stderr.strip()}")
                counts = _pg_counts(conn)
                version = _pg_version(conn)
            _check_pg_dump_file(tmp)
            sha, size = _sha256(tmp), tmp.stat().st_size
            _publish(tmp, target, overwrite)
    finally:
        engine.dispose()
    return {"format": "pg_dump custom", "sha256": sha, "bytes": size, "schema": version, "rows": counts,
            "check": "ok (pg_restore --list läser dumpen)"}


def _check_pg_dump_file(path: Path) -> None:
    pg_restore = shutil.which("pg_restore")
    if pg_restore is None:
        return
    done = subprocess.run([pg_restore, "--list", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise Refusal(f"Dumpen {path} går inte att läsa med pg_restore: {done.stderr.strip()}")


# --- restore -------------------------------------------------------------------------------


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def restore_command(file: Path) -> None:
    """Återställ en säkerhetskopia till den konfigurerade databasen, som måste vara tom."""
    from kontroll.cli import db_upgrade

    url = current_app.config["DATABASE_URL"]
    source = file.expanduser().absolute()
    database = get_database()
    try:
        kind = _backup_kind(source)
        if database.dialect == "sqlite":
            if kind != "sqlite":
                raise Refusal(f"Filen {source} är en PostgreSQL-dump (pg_dump); den kan bara återställas "
                              "i en PostgreSQL-databas.")
            restored_version = _restore_sqlite(url, source)
        else:
            if kind != "pg_dump":
                raise Refusal(f"Filen {source} är en SQLite-säkerhetskopia; den kan bara återställas i en "
                              "SQLite-databas. Konfigurerad databas: PostgreSQL.")
            restored_version = _restore_postgres(url, source)
    except Refusal as refusal:
        _fail(str(refusal))
    finally:
        database.engine.dispose()  # nothing of the old file or schema lingers in the pool

    click.echo(f"Säkerhetskopian {source} är återställd (schemaversion {restored_version or 'okänd'}).")
    # the same upgrade as `kontroll db upgrade` (it passes the audit key to the migrations)
    click.get_current_context().invoke(db_upgrade, revision="head")
    database.engine.dispose()
    _record("backup.restore", {"file": str(source), "format": kind, "sha256": _sha256(source),
                               "schema_restored": restored_version, "rows": _current_counts(url)})
    click.echo(_format_counts(_current_counts(url)))  # including the entry just recorded
    click.echo(restore_key_reminder())


def _backup_kind(source: Path) -> str:
    if not source.exists():
        raise Refusal(f"Filen {source} finns inte.")
    if not source.is_file():
        raise Refusal(f"{source} är ingen fil.")
    with source.open("rb") as fh:
        head = fh.read(len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "pg_dump"
    raise Refusal(f"Filen {source} är ingen säkerhetskopia av kontroll: varken en SQLite-databas eller "
                  "en dump från pg_dump --format=custom.")


def _refuse_not_empty(counts: dict[str, int], where: str) -> None:
    full = {name: n for name, n in counts.items() if name != VERSION_TABLE and n}
    if full:
        listed = ", ".join(f"{name} ({n})" for name, n in sorted(full.items())[:8])
        more = " …" if len(full) > 8 else ""
        raise Refusal(
            f"Databasen {where} är inte tom: {listed}{more}. Återställning görs bara i en tom databas "
            "(en ny databas, eller en migrerad databas utan rader). Ingenting har ändrats."
        )


def _restore_sqlite(url: str, source: Path) -> str | None:
    target = _sqlite_path(url).absolute()
    if target.exists() and os.path.samefile(target, source):
        raise Refusal("Säkerhetskopian är själva den konfigurerade databasen.")
    if not target.parent.is_dir():
        raise Refusal(f"Mappen {target.parent} finns inte.")
    try:
        src = _sqlite_connect(source, read_only=True)
    except sqlite3.DatabaseError as exc:
        raise Refusal(f"Filen {source} går inte att öppna som SQLite-databas: {exc}") from None
    with closing(src):
        check = _sqlite_integrity(src)
        if check != "ok":
            raise Refusal(f"Säkerhetskopian {source} är skadad (PRAGMA integrity_check: {check}). "
                          "Ingenting har ändrats.")
        version = _sqlite_version(src)
        if version is None:
            raise Refusal(f"Filen {source} är en SQLite-databas men ingen säkerhetskopia av kontroll "
                          "(den saknar schemaversion). Ingenting har ändrats.")
        existed = target.exists()
        try:
            with closing(_sqlite_connect(target)) as dst:
                if existed:
                    _refuse_not_empty(_sqlite_counts(dst), str(target))
                src.backup(dst, pages=-1)  # replaces every page of the target, in one transaction
                check = _sqlite_integrity(dst)
                if check != "ok":  # pragma: no cover - the source passed the same check
                    raise Refusal(f"Den återställda databasen klarade inte integritetskontrollen: {check}")
        except Refusal:
            if not existed:
                target.unlink(missing_ok=True)
            raise
        except sqlite3.DatabaseError as exc:
            raise Refusal(f"Återställningen misslyckades: {exc}") from None
    return version


def _restore_postgres(url: str, source: Path) -> str | None:
    pg_restore = shutil.which("pg_restore")
    args, env, shown = _pg_args(url)
    if pg_restore is None:
        raise Refusal(
            "PostgreSQL-dumpar återställs med pg_restore, som inte finns på den här datorn "
            "(installera PostgreSQL:s klientprogram). Kör, i en tom databas:\n"
            f"  pg_restore --no-owner --no-privileges --single-transaction --exit-on-error {shown} {source}\n"
            "och sedan ”kontroll db upgrade”."
        )
    listed = subprocess.run([pg_restore, "--list", str(source)], capture_output=True, text=True)
    if listed.returncode != 0:
        raise Refusal(f"Dumpen {source} går inte att läsa med pg_restore: {listed.stderr.strip()} "
                      "Ingenting har ändrats.")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            tables = inspect(conn).get_table_names()
            if tables:  # lock, so that nothing is written between the count and the restore
                conn.execute(text(f"LOCK TABLE {', '.join(map(_quote_ident, tables))} IN ACCESS EXCLUSIVE MODE"))
            _refuse_not_empty(_pg_counts(conn), make_url(url).database or url)
            schema_version = _pg_version(conn) if tables else None
    finally:
        engine.dispose()
    if tables:
        # A migrated but empty schema: take it down with the migrations' own downgrade, since
        # pg_restore creates every table, sequence, function and trigger itself.
        from kontroll.migrate import downgrade

        if schema_version is None:
            raise Refusal("Databasen har tabeller men ingen schemaversion från kontroll; återställ i en ny, "
                          "tom databas (createdb). Ingenting har ändrats.")
        try:
            downgrade(url, "base")  # one transaction on PostgreSQL: all or nothing
        except Exception as exc:  # noqa: BLE001 - e.g. a schema newer than this version of kontroll
            raise Refusal(f"Det tomma schemat kunde inte tas bort före återställningen ({exc}). Återställ i en "
                          "ny, tom databas (createdb). Ingenting har ändrats.") from None
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
        finally:
            engine.dispose()
    done = subprocess.run(
        [pg_restore, "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error", *args, str(source)],
        env=env, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise Refusal(f"pg_restore misslyckades (kod {done.returncode}); databasen är fortfarande tom:\n"
                      f"{done.stderr.strip()}")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return _pg_version(conn)
    finally:
        engine.dispose()


def _current_counts(url: str) -> dict[str, int]:
    database = get_database()
    if database.dialect == "sqlite":
        with closing(_sqlite_connect(_sqlite_path(url), read_only=True)) as conn:
            return _sqlite_counts(conn)
    with database.engine.connect() as conn:
        return _pg_counts(conn)
