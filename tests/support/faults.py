"""Helpers for the fault tests: child ``kontroll`` processes (:class:`Child`, run through
tests/faults/child.py and started by the ``spawn`` fixture in tests/faults/conftest.py) and
looks at the database's locks from outside."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from typing import Any, Callable

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.app import ROOT, TEST_DB

#: the script that runs ``kontroll`` in a child process (tests/faults/child.py)
CHILD = ROOT / "tests" / "faults" / "child.py"
#: a child that does not reach the expected point in this time has failed (start-up alone takes seconds)
START_TIMEOUT = 45.0


class Child:
    """A ``kontroll`` command in its own process, its output collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any, into: list[str]) -> None:
        for line in stream:
            with self._changed:
                into.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_for(self, pattern: str, timeout: float = START_TIMEOUT, *, stream: str = "stdout") -> re.Match[str]:
        """The first line of stdout (or stderr) matching ``pattern``; fails if the child exits first."""
        lines = self.stdout if stream == "stdout" else self.stderr
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in lines:
                    match = regex.search(line)
                    if match:
                        return match
                if self.proc.poll() is not None and not any(r.is_alive() for r in self._readers):
                    pytest.fail(f"{self.describe()} exited with {self.proc.returncode} before printing {pattern!r}")
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"{self.describe()} did not print {pattern!r} within {timeout} s")
                self._changed.wait(min(left, 0.2))

    def wait(self, timeout: float = START_TIMEOUT) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.describe()} still runs after {timeout} s")
        for reader in self._readers:
            reader.join(5)
        return code

    def kill(self) -> int:
        """SIGKILL: no handler, no rollback, no atexit; exactly like a crash or the OOM killer."""
        self.proc.send_signal(signal.SIGKILL)
        return self.wait(10)

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(20)

    def describe(self) -> str:
        out = "\n".join(self.stdout[-20:])
        err = "\n".join(self.stderr[-40:])
        return f"kontroll {' '.join(self.args)} (pid {self.pid})\n--- stdout\n{out}\n--- stderr\n{err}\n"


def paused_counts(match: re.Match[str]) -> dict[str, int]:
    """``backend=123 snapshot_cases=10000`` from a FAULT-PAUSED line, as a dict."""
    line = match.string
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


# --- looking at locks from outside ------------------------------------------------------------


def sqlite_path(database_url: str) -> str:
    return make_url(database_url).database or ""


def sqlite_write_lock_is_taken(database_url: str) -> bool:
    """True when another connection holds SQLite's write lock (``BEGIN IMMEDIATE`` is refused at once)."""
    conn = sqlite3.connect(sqlite_path(database_url), timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc) or "busy" in str(exc), exc
        return True
    else:
        conn.execute("ROLLBACK")
        return False
    finally:
        conn.close()


def sqlite_integrity(database_url: str) -> tuple[list[Any], list[Any]]:
    """(PRAGMA integrity_check, PRAGMA foreign_key_check) of the SQLite file."""
    conn = sqlite3.connect(sqlite_path(database_url), timeout=15)
    try:
        return conn.execute("PRAGMA integrity_check").fetchall(), conn.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        conn.close()


def pg_query(database_url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def pg_backend_locks(database_url: str, backend: int) -> set[tuple[str, str, bool]]:
    """(relation, mode, granted) of the relation locks a backend holds or waits for."""
    rows = pg_query(
        database_url,
        "SELECT c.relname, l.mode, l.granted FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE l.pid = :pid",
        pid=backend,
    )
    return {(r, m, g) for r, m, g in rows}


def pg_backend_state(database_url: str, backend: int) -> str | None:
    rows = pg_query(database_url, "SELECT state FROM pg_stat_activity WHERE pid = :pid", pid=backend)
    return rows[0][0] if rows else None


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for: {what}")
        time.sleep(0.05)


def pg_backend_gone(database_url: str, backend: int, timeout: float = 15) -> None:
    """Wait until PostgreSQL has noticed the killed client and ended its backend (and transaction)."""
    wait_until(lambda: pg_backend_state(database_url, backend) is None, timeout, f"backend {backend} to end")


ON_POSTGRES = TEST_DB == "postgresql"
