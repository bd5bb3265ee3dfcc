"""Fixtures for the production tests: one installation for the package, set up as an
operator would: a PostgreSQL database of its own, ``kontroll db upgrade`` and ``kontroll
demo load`` in subprocesses (configuration only through KONTROLL_* variables), then gunicorn
started with the README's command line.

These tests run on PostgreSQL only (production's database): on the SQLite pass they are
skipped with the reason; on the PostgreSQL pass a server that does not answer is a skip
outside CI and a failure under CI=true.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench import loadclient as lc

TEST_DB = os.environ.get("KONTROLL_TEST_DB", "sqlite")
IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_URL = os.environ.get(
    "KONTROLL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
#: gunicorn's extra settings (only through GUNICORN_CMD_ARGS, so the command line stays the
#: README's): an access log line per request with the worker's pid
ACCESS_FORMAT = "%(p)s %(m)s %(U)s?%(q)s %(s)s"


@dataclass
class Installation:
    env: dict[str, str]
    base: str  # http://127.0.0.1:<port>
    server: lc.Process
    access_log: Path
    log_dir: Path

    @property
    def database_url(self) -> str:
        return self.env["KONTROLL_DATABASE_URL"]


@pytest.fixture(scope="package")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    """kontroll under gunicorn (four workers) on a fresh PostgreSQL database with the demo
    loaded. No scheduler: the tests start their own. Stopped with SIGTERM at the end, which
    must end gunicorn cleanly (exit 0); the database is dropped whatever happens."""
    if TEST_DB != "postgresql":
        pytest.skip("production run: PostgreSQL only (runs in the PostgreSQL pass, KONTROLL_TEST_DB=postgresql)")
    reason = lc.postgres_answers(POSTGRES_ADMIN_URL)
    if reason is not None:
        message = f"PostgreSQL does not answer at {POSTGRES_ADMIN_URL}: {reason}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    log_dir = tmp_path_factory.mktemp("production")
    access_log = log_dir / "access.log"
    with lc.postgres_database("kontroll_prodtest", POSTGRES_ADMIN_URL) as url:
        env = lc.service_env(url)
        lc.prepare_database(env)
        port = lc.free_port()
        server = lc.start_gunicorn(env, port, log_dir, extra_env={
            "GUNICORN_CMD_ARGS": f"--access-logfile {access_log} --access-logformat '{ACCESS_FORMAT}'",
        })
        try:
            yield Installation(env, f"http://127.0.0.1:{port}", server, access_log, log_dir)
        finally:
            code = server.stop(timeout=30)
        assert code == 0, f"gunicorn did not stop cleanly on SIGTERM (exit {code}):\n{server.log()[-3000:]}"
