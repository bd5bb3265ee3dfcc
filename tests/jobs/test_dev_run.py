"""`make run` serves the pages and runs the scheduler as two processes of one command
(`kontroll dev`); stopping it stops both."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from sqlalchemy import func, select

from kontroll.core.models import JobRun
from tests.support.app import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_make_run_starts_the_server_and_the_scheduler_and_stops_both(database_url, db):
    assert "$(BIN)/kontroll dev --host $(HOST) --port $(PORT)" in (ROOT / "Makefile").read_text(encoding="utf-8")
    port = _free_port()
    env = dict(os.environ, KONTROLL_DATABASE_URL=database_url, KONTROLL_SECRET_KEY="dev-run-test-" + "x" * 40,
               KONTROLL_SESSION_COOKIE_SECURE="false", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-c", "from kontroll.cli import main; main()", "dev", "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    scheduler_pid = None
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status != 200:
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/halsa", timeout=2).status
            except OSError:
                time.sleep(0.3)
        assert status == 200
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not db.scalar(select(func.count()).select_from(JobRun)):
            time.sleep(0.3)
            db.rollback()
        assert db.scalar(select(func.count()).select_from(JobRun)) > 0  # the scheduler caught up
        children = [int(p) for p in open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()]
        assert len(children) == 1
        scheduler_pid = children[0]
        assert _alive(scheduler_pid)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, output
    assert "Schemaläggaren körs (process" in output and "Webbservern och schemaläggaren är stoppade." in output
    assert not _alive(scheduler_pid)
