"""Run the ``kontroll`` command in a child process, optionally pausing at a SQL statement.

Test code only: ``python tests/faults/child.py caselist import …`` is ``kontroll caselist
import …`` plus, when the environment asks for it, a pause *before* the n-th statement that
starts with ``FAULT_PAUSE_BEFORE``. While paused the child prints one line::

    FAULT-PAUSED backend=<pg backend pid or 0> <table>=<rows visible inside the transaction> …

and waits until ``FAULT_RELEASE_FILE`` exists (or 60 s pass), so the parent can look at the
database from outside, kill the child inside its transaction, or let it go on.

``FAULT_TODAY=YYYY-MM-DD`` fixes the scheduler's "today" so the tests do not depend on the date.
``FAULT_ANNOUNCE_BEGIN=1`` prints ``FAULT-BEGIN`` before each transaction begins (SQLite's
``BEGIN IMMEDIATE`` is where a second writer queues).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def _count(dbapi_connection, table: str) -> int:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return int(cursor.fetchone()[0])
    finally:
        cursor.close()


def _backend_pid(dbapi_connection, dialect: str) -> int:
    if dialect != "postgresql":
        return 0
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])
    finally:
        cursor.close()


def install_hooks() -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    prefix = os.environ.get("FAULT_PAUSE_BEFORE", "").upper()
    nth = int(os.environ.get("FAULT_PAUSE_AT", "1"))
    tables = [t for t in os.environ.get("FAULT_COUNT_TABLES", "").split(",") if t]
    release = os.environ.get("FAULT_RELEASE_FILE", "")
    announce = os.environ.get("FAULT_ANNOUNCE_BEGIN") == "1"
    seen = 0

    @event.listens_for(Engine, "before_cursor_execute")
    def _pause(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        nonlocal seen
        text = statement.lstrip().upper()
        if announce and text.startswith("BEGIN"):
            print("FAULT-BEGIN", flush=True)
        if not prefix or not text.startswith(prefix):
            return
        seen += 1
        if seen != nth:
            return
        raw = conn.connection.dbapi_connection
        dialect = conn.dialect.name
        counts = " ".join(f"{t}={_count(raw, t)}" for t in tables)
        print(f"FAULT-PAUSED backend={_backend_pid(raw, dialect)} {counts}".rstrip(), flush=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if release and os.path.exists(release):
                print("FAULT-RELEASED", flush=True)
                return
            time.sleep(0.02)


def fix_today() -> None:
    today = os.environ.get("FAULT_TODAY")
    if not today:
        return
    from kontroll import scheduler

    day = dt.date.fromisoformat(today)
    scheduler.local_today = lambda config: day  # type: ignore[assignment]


if __name__ == "__main__":
    install_hooks()
    fix_today()
    from kontroll.cli import main

    sys.argv = ["kontroll", *sys.argv[1:]]
    main()
