"""The README's production run, tested: gunicorn with four workers (the README's command) on
PostgreSQL behind a simulated reverse proxy (PROXY_COUNT=1), and the scheduler as its own
process.

The client plays the proxy: it sends ``X-Forwarded-Proto: https`` and ``X-Forwarded-For``
and keeps the session cookie itself, so the service runs with its production settings
(``SESSION_COOKIE_SECURE`` stays on). Gunicorn gets extra settings only through
``GUNICORN_CMD_ARGS`` (an access log naming the worker's pid), never other arguments; the
installation fixture (conftest.py) checks that SIGTERM stops it cleanly.
"""

from __future__ import annotations

import concurrent.futures
import re
import time

import pytest
import requests
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bench import loadclient as lc
from kontroll.core.models import AuditEntry, JobRun

pytestmark = pytest.mark.production

PROXY_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.66, 198.51.100.23"}


def _count(url: str, query) -> int:  # type: ignore[no-untyped-def]
    engine = create_engine(url)
    try:
        with Session(engine) as db:
            return db.scalar(query) or 0
    finally:
        engine.dispose()


def test_gunicorn_workers_scheduler_and_proxy(installation):
    inst = installation
    base, url = inst.base, inst.database_url

    # the health check: no login, JSON, no cookie
    health = requests.get(f"{base}/halsa", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert "Set-Cookie" not in health.headers

    # log in through the proxy: a Secure, HttpOnly session cookie, rotated at login
    http = requests.Session()
    http.trust_env = False
    form = http.get(f"{base}/logga-in", headers=PROXY_HEADERS, timeout=30)
    anonymous = form.cookies[lc.SESSION_COOKIE]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    login = http.post(f"{base}/logga-in", allow_redirects=False, timeout=60,
                      headers={**PROXY_HEADERS, "Cookie": f"{lc.SESSION_COOKIE}={anonymous}"},
                      data={"username": "sektionschef", "password": lc.PASSWORD, "csrf_token": token})
    assert login.status_code == 302, login.text
    set_cookie = login.headers["Set-Cookie"]
    assert "Secure" in set_cookie and "HttpOnly" in set_cookie
    cookie = login.cookies[lc.SESSION_COOKIE]
    assert cookie != anonymous

    # ProxyFix with PROXY_COUNT=1: HTTPS as the proxy says, and the client address the proxy
    # appended (the last one), not the value the client sent itself
    assert "Strict-Transport-Security" in login.headers
    assert "Strict-Transport-Security" not in requests.get(f"{base}/logga-in", timeout=30).headers
    engine = create_engine(url)
    try:
        with Session(engine) as db:
            entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "login.success",
                                                        AuditEntry.actor_label == "sektionschef")).one()
            assert entry.ip_address == "198.51.100.23"
    finally:
        engine.dispose()

    # the session is in the database, so every worker knows it: many requests at once land
    # on different workers and all of them see the logged-in user
    def start_page(i: int) -> tuple[int, str]:
        r = requests.get(f"{base}/?prov=arbetare{i}", allow_redirects=False, timeout=60,
                         headers={**PROXY_HEADERS, "Cookie": f"{lc.SESSION_COOKIE}={cookie}"})
        return r.status_code, r.text

    pids: set[str] = set()
    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        for _round in range(10):
            for status, html in pool.map(start_page, range(12)):
                assert status == 200 and "Sara Lindqvist" in html
            time.sleep(0.3)  # the workers write their access log lines
            pids = {line.split()[0] for line in inst.access_log.read_text().splitlines()
                    if " GET /?prov=arbetare" in line and line.endswith(" 200")}
            if len(pids) >= 2:
                break
    assert len(pids) >= 2, f"all logged-in requests landed on one worker: {pids}"

    # the web workers never run scheduled jobs
    assert _count(url, select(func.count()).select_from(JobRun)) == 0

    # the scheduler, as its own process: catches up at start, stops cleanly on SIGTERM
    scheduler = lc.start_scheduler(inst.env, inst.log_dir)
    try:
        runs = _count(url, select(func.count()).select_from(JobRun).where(JobRun.finished_dt.is_not(None)))
        assert runs > 0, scheduler.log()
        assert scheduler.stop(timeout=30) == 0, scheduler.log()
        assert "scheduler stopped" in scheduler.log()
    finally:
        scheduler.stop(timeout=10)  # no-op when it has stopped
