"""Fixtures for the fault tests: child ``kontroll`` processes, and the app with the scheduler
commands. Helpers (the child process, looks at the database's locks) are in tests/support/faults.py."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest
from flask import Flask

from kontroll.db import get_database
from tests.support.app import make_test_app
from tests.support.faults import Child
from tests.support.jobs import register_notifications


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    """The test app with the notifications blueprint and the ``scheduler`` commands (as in
    tests/jobs/conftest.py; a no-op once the app factory registers them)."""
    app = register_notifications(make_test_app(database_url))
    yield app
    get_database(app).engine.dispose()


@pytest.fixture
def spawn(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Child]]:
    """Start ``kontroll ARGS`` against the test database; every child is killed at the end.

    Keyword arguments: ``pause_before`` (a SQL statement prefix), ``pause_at`` (the n-th such
    statement), ``count`` (tables whose rows the child reports, as seen inside its transaction,
    when it pauses), ``release`` (a file whose creation lets the paused child go on), ``today``
    (the scheduler's date), ``announce_begin``.
    """
    children: list[Child] = []

    def start(
        args: list[str],
        *,
        pause_before: str | None = None,
        pause_at: int = 1,
        count: tuple[str, ...] = (),
        release: Path | None = None,
        today: str | None = None,
        announce_begin: bool = False,
    ) -> Child:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KONTROLL_TEST", "FAULT_"))}
        env.update(
            KONTROLL_DATABASE_URL=database_url,
            KONTROLL_SECRET_KEY="fault-test-secret-key",
            PYTHONUNBUFFERED="1",
            PYTHONDONTWRITEBYTECODE="1",
        )
        if pause_before:
            env.update(FAULT_PAUSE_BEFORE=pause_before, FAULT_PAUSE_AT=str(pause_at),
                       FAULT_COUNT_TABLES=",".join(count))
        if release is not None:
            env["FAULT_RELEASE_FILE"] = str(release)
        if today:
            env["FAULT_TODAY"] = today
        if announce_begin:
            env["FAULT_ANNOUNCE_BEGIN"] = "1"
        child = Child(args, env)
        children.append(child)
        return child

    try:
        yield start
    finally:
        for child in children:
            if child.proc.poll() is None:
                child.proc.kill()
            try:
                child.proc.wait(10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass
            for stream in (child.proc.stdout, child.proc.stderr):
                if stream is not None:
                    stream.close()
