"""The production run, driven from outside: a fresh PostgreSQL database, kontroll under
gunicorn (the command the README gives), the scheduler as its own process, and simulated
users who log in, browse, answer checklists, import case lists and draw.

Used by ``bench/bench_load.py`` (the load test with figures) and by ``tests/production/``
(the same driver, smaller, asserting only correctness: no 5xx, no lost writes).

Everything talks to 127.0.0.1 only. The simulated browser sends the headers the reverse proxy
would (``X-Forwarded-Proto: https`` and ``X-Forwarded-For``), so the service runs with its
production settings: ``PROXY_COUNT=1`` and a ``Secure`` session cookie, which this client
keeps and sends itself (as a browser does over the proxy's HTTPS).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get(
    "KONTROLL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
#: the demo's password (README); the load's extra users get the same one
PASSWORD = "kontroll-demo"
#: the web command of the README's production section, with the port left open
GUNICORN_ARGS = ("-w", "4", "-b", "127.0.0.1:{port}", "--timeout", "120", "kontroll.wsgi:app")
SESSION_COOKIE = "kontroll_session"
#: the address the reverse proxy reports for every simulated browser's own address
CLIENT_NET = "198.51.100."  # TEST-NET-2
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
RADIO_RE = re.compile(r'name="svar-([^"]+)" value="([^"]+)"')


# --- processes ---------------------------------------------------------------------------


def tool(name: str) -> str:
    """An executable of this Python environment (``kontroll``, ``gunicorn``)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found beside {sys.executable} or on PATH")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_answers(admin_url: str = POSTGRES_ADMIN_URL) -> str | None:
    """None when PostgreSQL answers, else the reason."""
    try:
        engine = create_engine(admin_url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return str(exc).splitlines()[0]


@contextmanager
def postgres_database(prefix: str = "kontroll_prod", admin_url: str = POSTGRES_ADMIN_URL) -> Iterator[str]:
    """An empty database of its own (not migrated), dropped afterwards whatever happens."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def service_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a production installation: configuration only through KONTROLL_*
    (nothing inherited from the caller's KONTROLL_* variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KONTROLL_", "GUNICORN_"))}
    env.update(
        KONTROLL_DATABASE_URL=database_url,
        KONTROLL_SECRET_KEY=secrets.token_hex(32),
        KONTROLL_AUDIT_KEY=secrets.token_hex(32),
        KONTROLL_PROXY_COUNT="1",
        PYTHONUNBUFFERED="1",
    )
    env.update(settings)
    return env


def kontroll(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run a ``kontroll`` command; raise with its output when it fails."""
    out = subprocess.run([tool("kontroll"), *args], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"kontroll {' '.join(args)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
    return out


def prepare_database(env: dict[str, str]) -> None:
    """What an operator does on a new installation: migrate, then (here) load the demo.

    The demo's 30 users are hashed with the cheap test profile to keep the start short on a
    busy machine; kontroll rehashes a password with production parameters at its first
    login. The load's own users get a production-parameter hash (see setup_load_data)."""
    kontroll(env, "db", "upgrade")
    kontroll({**env, "KONTROLL_PASSWORD_HASH_PROFILE": "fast"}, "demo", "load")


class Process:
    """A child process in its own process group with its output in a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``sig`` to the process and wait; if it is still there after ``timeout``
        seconds, kill its whole process group. Returns the exit code (negative: killed)."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    pass
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
            else:
                # workers left behind by a master that died would hold the port
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return self.proc.returncode
        finally:
            self._log.close()


def start_gunicorn(env: dict[str, str], port: int, log_dir: Path, extra_env: dict[str, str] | None = None,
                   ready_timeout: float = 45) -> Process:
    """Start ``gunicorn`` exactly as the README says (on ``port``) and wait for /halsa."""
    argv = [tool("gunicorn"), *(a.format(port=port) for a in GUNICORN_ARGS)]
    server = Process("gunicorn", argv, {**env, **(extra_env or {})}, log_dir)
    deadline = time.monotonic() + ready_timeout
    while True:
        if not server.running():
            raise RuntimeError(f"gunicorn exited with {server.proc.returncode}:\n{server.log()}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/halsa", timeout=2).status_code == 200:
                return server
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"gunicorn did not answer /halsa within {ready_timeout} s:\n{server.log()}")
        time.sleep(0.2)


def start_scheduler(env: dict[str, str], log_dir: Path, ready_timeout: float = 60) -> Process:
    """Start ``kontroll scheduler run`` and wait until it has caught up and is scheduling."""
    scheduler = Process("scheduler", [tool("kontroll"), "scheduler", "run"], env, log_dir)
    deadline = time.monotonic() + ready_timeout
    while "Schemaläggaren körs" not in scheduler.log():
        if not scheduler.running():
            raise RuntimeError(f"the scheduler exited with {scheduler.proc.returncode}:\n{scheduler.log()}")
        if time.monotonic() > deadline:
            scheduler.stop()
            raise RuntimeError(f"the scheduler did not start within {ready_timeout} s:\n{scheduler.log()}")
        time.sleep(0.2)
    return scheduler


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc; 0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    """The direct children of ``pid`` (gunicorn's workers)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


def database_backend_pids(database_url: str) -> list[int]:
    """The PostgreSQL server processes serving connections to this database."""
    name = make_url(database_url).database
    engine = create_engine(POSTGRES_ADMIN_URL)
    try:
        with engine.connect() as conn:
            return [int(p) for p in conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
                .scalars()]
    finally:
        engine.dispose()


# --- the load's own users and data -----------------------------------------------------


@dataclass
class SimUser:
    username: str
    kind: str  # "reviewer", "drawer" or "reader"
    pages: list[tuple[str, str]]  # (label, path) this user browses
    unit: str | None = None
    drawn_case_id: int | None = None
    api_token: str | None = None


@dataclass
class Plan:
    users: list[SimUser]
    drawer_units: list[str]
    period: str  # the month the drawers draw
    started: dt.datetime  # before the load: writes after this moment are the load's


def plan_counts(n: int) -> tuple[int, int, int]:
    """(reviewers, drawers, readers) for ``n`` simulated users: about 60 % answer
    checklists, 12 % (at least two) import and draw, the rest read."""
    drawers = max(2, round(n * 0.12))
    reviewers = max(1, round(n * 0.6))
    readers = max(0, n - drawers - reviewers)
    return reviewers, drawers, readers


def setup_load_data(env: dict[str, str], n_users: int) -> Plan:
    """On top of the demo: a user of its own for every simulated user (login throttling is
    per account), a stickprov two months back in IFO-FS with one drawn case assigned to each
    reviewer, and units LAST-1… with two drawing sektionschefer each (so that they race for
    the month's draw) and an API key per drawer. ``env`` is the service's environment: the
    same database and audit key."""
    from sqlalchemy import select

    from kontroll import create_app
    from kontroll.cases import services as cases
    from kontroll.cases.models import CaseListSnapshot
    from kontroll.core import auth
    from kontroll.core import users as user_svc
    from kontroll.core.models import Role
    from kontroll.db import get_database, utcnow
    from kontroll.demo import demo_case_list_csv
    from kontroll.core.periods import Period
    from kontroll.sampling import services as sampling

    n_reviewers, n_drawers, n_readers = plan_counts(n_users)
    app = create_app({"DATABASE_URL": env["KONTROLL_DATABASE_URL"], "SECRET_KEY": env["KONTROLL_SECRET_KEY"],
                      "AUDIT_KEY": env["KONTROLL_AUDIT_KEY"]})
    database = get_database(app)
    password_hash = auth.hash_password(PASSWORD)  # production parameters, hashed once
    sim: list[SimUser] = []
    try:
        with app.app_context(), database.session_scope() as session:

            def new_user(username: str, name: str, roles: list[tuple[Role, Any]]) -> Any:
                user = user_svc.create_user(session, "lasttest", username=username, full_name=name, password=None)
                user.password_hash = password_hash
                for role, unit in roles:
                    user_svc.add_role(session, "lasttest", user, role, unit)
                return user

            chef = user_svc.get_user_by_username(session, "sektionschef")
            ifo = user_svc.get_unit_by_code(session, "IFO-FS")
            assert chef is not None and ifo is not None, "the demo is not loaded"
            now = utcnow()
            period = str(Period.of(now))

            # reviewers, each with a drawn case of their own two months back
            reviewers = [new_user(f"last.granskare{i + 1:02d}", f"Granskare {i + 1}",
                                  [(Role.FORSTE_SOCIALSEKRETERARE, ifo)]) for i in range(n_reviewers)]
            old_period = str(Period.parse(period).previous(2))
            size = ifo.sample_size
            ifo.sample_size = n_reviewers
            draw = sampling.run_draw(session, chef, ifo, old_period, now=now - dt.timedelta(days=50))
            ifo.sample_size = size
            session.flush()
            ifo_snapshot = session.scalar(select(CaseListSnapshot.id).where(CaseListSnapshot.unit_id == ifo.id)
                                          .order_by(CaseListSnapshot.id.desc()).limit(1))
            demo_draw = sampling.valid_draw(session, ifo, str(Period.parse(period).previous()))
            ifo_pages = [
                ("start", "/"), ("granskningar", "/granskningar"), ("enhet", "/enheter/IFO-FS"),
                ("enhetens granskningar", "/enheter/IFO-FS/granskningar"),
                ("genomgångar", "/enheter/IFO-FS/genomgangar"), ("stickprov", "/enheter/IFO-FS/stickprov"),
                ("brister", "/enheter/IFO-FS/brister"), ("ärendelistor", "/enheter/IFO-FS/arendelistor"),
                ("ärendelista", f"/enheter/IFO-FS/arendelistor/{ifo_snapshot}"),
                ("meddelanden", "/meddelanden"),
            ]
            if demo_draw is not None:
                ifo_pages.append(("stickprovet", f"/enheter/IFO-FS/stickprov/{demo_draw.id}"))
            for reviewer, drawn_case in zip(reviewers, draw.cases, strict=True):
                sampling.assign_reviewer(session, chef, drawn_case, reviewer)
                sim.append(SimUser(reviewer.username, "reviewer", list(ifo_pages), "IFO-FS", drawn_case.id))

            # units with two drawers each, racing for the month's draw
            units = []
            for k in range((n_drawers + 1) // 2):
                unit = user_svc.create_unit(session, "lasttest", code=f"LAST-{k + 1}", name=f"Lasttest {k + 1}")
                units.append(unit)
            for i in range(n_drawers):
                unit = units[i % len(units)]
                drawer = new_user(f"last.chef{i + 1:02d}", f"Sektionschef {i + 1}", [(Role.SEKTIONSCHEF, unit)])
                if i < len(units):
                    cases.import_file(session, drawer, unit, demo_case_list_csv("IFO-FS", 0), "start.csv",
                                      source="cli", now=now - dt.timedelta(days=2))
                token, _row = cases.create_api_token(session, drawer, unit, f"lasttest {drawer.username}")
                code = unit.code
                pages = [
                    ("start", "/"), ("enhet", f"/enheter/{code}"), ("stickprov", f"/enheter/{code}/stickprov"),
                    ("ärendelistor", f"/enheter/{code}/arendelistor"),
                    ("enhetens granskningar", f"/enheter/{code}/granskningar"),
                    ("sammanfattning enhet", f"/sammanfattning/{code}"), ("meddelanden", "/meddelanden"),
                ]
                sim.append(SimUser(drawer.username, "drawer", pages, code, api_token=token))

            # readers: enhetschef, nämnd, revisor in turn
            int_unit = user_svc.get_unit_by_code(session, "INT")
            reader_roles = [
                ("enhetschef", [(Role.ENHETSCHEF, ifo), (Role.ENHETSCHEF, int_unit)], [
                    ("start", "/"), ("enhet", "/enheter/IFO-FS"), ("enhet INT", "/enheter/INT"),
                    ("enhetens granskningar", "/enheter/IFO-FS/granskningar"), ("åtgärder", "/enheter/IFO-FS/atgarder"),
                    ("genomgångar", "/enheter/IFO-FS/genomgangar"), ("sammanfattning", "/sammanfattning"),
                    ("sammanfattning enhet", "/sammanfattning/IFO-FS"),
                ]),
                ("namnd", [(Role.NAMND, None)], [
                    ("start", "/"), ("sammanfattning", "/sammanfattning"),
                    ("sammanfattning enhet", "/sammanfattning/IFO-FS"), ("sammanfattning INT", "/sammanfattning/INT"),
                ]),
                ("revisor", [(Role.REVISOR, None)], [
                    ("start", "/"), ("revisionslogg", "/revision/logg"), ("sammanfattning", "/sammanfattning"),
                    ("stickprov", "/enheter/IFO-FS/stickprov"), ("enhetens granskningar", "/enheter/IFO-FS/granskningar"),
                    ("ärendelistor", "/enheter/IFO-FS/arendelistor"),
                    ("ärendelista", f"/enheter/IFO-FS/arendelistor/{ifo_snapshot}"),
                ]),
            ]
            for i in range(n_readers):
                label, roles, pages = reader_roles[i % len(reader_roles)]
                reader = new_user(f"last.{label}{i + 1:02d}", f"Läsare {i + 1}", roles)
                sim.append(SimUser(reader.username, "reader", list(pages)))
            started = utcnow()
    finally:
        database.engine.dispose()
    return Plan(users=sim, drawer_units=[u.code for u in units], period=period, started=started)


# --- recording ---------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str  # page, login, start_review, save, import, draw, api_import, …
    label: str
    status: int  # 0: no answer (connection error or timeout)
    ms: float
    at: float  # seconds since the load started


@dataclass
class Ledger:
    """What the driver saw succeed (or refused as expected); checked against the database."""

    logins: int = 0
    last_login_at: float = 0.0  # seconds into the load when the last login completed
    reviews_started: set[int] = field(default_factory=set)
    review_saves: Counter[int] = field(default_factory=Counter)
    last_answers: dict[int, dict[str, tuple[str, str]]] = field(default_factory=dict)
    imports: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    imports_refused: int = 0
    draws: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    draws_refused: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)  # unexpected answers, with the reason


class Recorder:
    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.ledger = Ledger()
        self.lock = threading.Lock()
        self.t0 = time.perf_counter()
        self.elapsed = 0.0  # seconds the load ran, set by run_load

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)

    def problem(self, text_: str) -> None:
        with self.lock:
            if len(self.ledger.problems) < 200:
                self.ledger.problems.append(text_)


class Unexpected(Exception):
    """An answer the simulated user cannot go on from (recorded as a problem)."""


class Browser:
    """One simulated person: a cookie, the proxy's headers, every request timed and recorded.
    Redirects are followed one request at a time so that each is measured on its own."""

    def __init__(self, base: str, recorder: Recorder, client_ip: str, timeout: float = 60) -> None:
        self.base = base
        self.rec = recorder
        self.http = requests.Session()
        self.http.trust_env = False
        self.cookie: str | None = None
        self.headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": client_ip}
        self.timeout = timeout

    def request(self, method: str, path: str, kind: str, label: str, *, expect: tuple[int, ...] = (200,),
                headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        h = dict(self.headers)
        if self.cookie:
            h["Cookie"] = f"{SESSION_COOKIE}={self.cookie}"
        h.update(headers or {})
        start = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, headers=h, allow_redirects=False,
                                         timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            self.rec.add(Sample(kind, label, 0, (time.perf_counter() - start) * 1000, start - self.rec.t0))
            raise Unexpected(f"{method} {path}: {type(exc).__name__}") from exc
        self.rec.add(Sample(kind, label, response.status_code, (time.perf_counter() - start) * 1000,
                            start - self.rec.t0))
        self.http.cookies.clear()  # the cookie is ours to keep (it is Secure; we are the proxy's client)
        for value in response.raw.headers.getlist("Set-Cookie"):
            name, _, rest = value.partition("=")
            if name.strip() == SESSION_COOKIE:
                token = rest.split(";", 1)[0].strip()
                self.cookie = token if token and "max-age=0" not in value.lower() else None
        if response.status_code not in expect:
            raise Unexpected(f"{method} {path}: {response.status_code} (expected {expect})")
        return response

    def page(self, path: str, label: str) -> str:
        return self.request("GET", path, "page", label).text

    def follow(self, response: requests.Response, label: str) -> tuple[str, str]:
        """GET the redirect target of ``response``; returns (path, html)."""
        location = response.headers.get("Location", "")
        path = re.sub(r"^https?://[^/]+", "", location)
        if not path.startswith("/"):
            raise Unexpected(f"redirect to {location!r}")
        return path, self.page(path, label)


def _csrf(html: str) -> str:
    match = CSRF_RE.search(html)
    if match is None:
        raise Unexpected("no CSRF token in the page")
    return match.group(1)


# --- what each kind of user does ---------------------------------------------------------


def _login(b: Browser, user: SimUser) -> None:
    token = _csrf(b.page("/logga-in", "inloggning"))
    response = b.request("POST", "/logga-in", "login", "logga in", expect=(302,),
                         data={"username": user.username, "password": PASSWORD, "csrf_token": token})
    path, _html = b.follow(response, "start")
    if path.startswith("/logga-in"):
        raise Unexpected(f"{user.username}: login did not hold")
    with b.rec.lock:
        b.rec.ledger.logins += 1
        b.rec.ledger.last_login_at = max(b.rec.ledger.last_login_at, time.perf_counter() - b.rec.t0)


def _browse(b: Browser, user: SimUser, rng: random.Random) -> None:
    label, path = rng.choice(user.pages)
    b.page(path, label)


def _start_review(b: Browser, user: SimUser) -> int:
    b.page("/granskningar", "granskningar")
    path = f"/granskningar/arende/{user.drawn_case_id}"
    token = _csrf(b.page(path, "börja granska"))
    response = b.request("POST", path, "start_review", "börja granska", expect=(302,), data={"csrf_token": token})
    target, _html = b.follow(response, "granskning")
    match = re.fullmatch(r"/granskningar/(\d+)", target)
    if match is None:
        raise Unexpected(f"{user.username}: starting the review led to {target}")
    review_id = int(match.group(1))
    with b.rec.lock:
        b.rec.ledger.reviews_started.add(review_id)
    return review_id


def _answer(b: Browser, user: SimUser, review_id: int, step: int) -> None:
    """Answer one more question than last time (all of them, then change the comments)."""
    html = b.page(f"/granskningar/{review_id}", "granskning")
    items: dict[str, list[str]] = {}
    for key, value in RADIO_RE.findall(html):
        items.setdefault(key, []).append(value)
    if not items:
        raise Unexpected(f"{user.username}: the review form has no questions")
    answered = list(items)[: min(step, len(items))]
    answers = {key: ("ja" if "ja" in items[key] else items[key][0], f"lasttest {user.username} steg {step}")
               for key in answered}
    data: dict[str, str] = {"csrf_token": _csrf(html), "action": "spara"}
    for key in items:
        answer, comment = answers.get(key, ("", ""))
        data[f"svar-{key}"] = answer
        data[f"kommentar-{key}"] = comment
    response = b.request("POST", f"/granskningar/{review_id}", "save", "spara svar", expect=(302,), data=data)
    with b.rec.lock:
        b.rec.ledger.review_saves[review_id] += 1
        b.rec.ledger.last_answers[review_id] = answers
    b.follow(response, "granskning")


def _draw(b: Browser, user: SimUser) -> None:
    code = user.unit
    token = _csrf(b.page(f"/enheter/{code}/stickprov", "stickprov"))
    # as a person does: the button asks first (200, the confirmation page) unless the month is
    # already drawn (302 back with the refusal); the confirmation acts
    asked = b.request("POST", f"/enheter/{code}/stickprov", "draw_ask", "dra stickprov", expect=(200, 302),
                      data={"csrf_token": token})
    if asked.status_code == 200:
        response = b.request("POST", f"/enheter/{code}/stickprov", "draw", "ja, dra stickprovet", expect=(302,),
                             data={"csrf_token": _csrf(asked.text), "bekraftat": "ja"})
    else:
        response = asked
    target, html = b.follow(response, "stickprovet")
    match = re.fullmatch(rf"/enheter/{re.escape(code or '')}/stickprov/(\d+)", target)
    with b.rec.lock:
        if match is not None:
            b.rec.ledger.draws[code or ""].append(int(match.group(1)))
        elif "redan draget" in html or "drogs nyss" in html:
            b.rec.ledger.draws_refused[code or ""] += 1
        else:
            raise Unexpected(f"{user.username}: the draw led to {target} without saying why")


def _csv(step: int) -> bytes:
    from kontroll.demo import demo_case_list_csv

    return demo_case_list_csv("IFO-FS", step % 2)


def _import_form(b: Browser, user: SimUser, step: int) -> None:
    code = user.unit
    token = _csrf(b.page(f"/enheter/{code}/arendelistor/ny", "ladda upp ärendelista"))
    preview = b.request("POST", f"/enheter/{code}/arendelistor/ny", "import", "förhandsgranska",
                        data={"csrf_token": token}, files={"fil": (f"lista-{step}.csv", _csv(step), "text/csv")})
    match = re.search(r'action="(/enheter/[^"]+/bekrafta)"', preview.text)
    if match is None:
        raise Unexpected(f"{user.username}: no confirm form in the preview")
    response = b.request("POST", match.group(1), "import", "spara ärendelista", expect=(302,),
                         data={"csrf_token": _csrf(preview.text)})
    target, html = b.follow(response, "ärendelista")
    found = re.fullmatch(rf"/enheter/{re.escape(code or '')}/arendelistor/(\d+)", target)
    with b.rec.lock:
        if found is not None:
            b.rec.ledger.imports[code or ""].append(int(found.group(1)))
        elif "En annan ärendelista har importerats" in html:
            b.rec.ledger.imports_refused += 1  # the other drawer's list landed in between: nothing stored
        else:
            raise Unexpected(f"{user.username}: confirming the import led to {target}")


def _import_api(b: Browser, user: SimUser, step: int) -> None:
    code = user.unit
    response = b.request("POST", f"/api/v1/enheter/{code}/arendelista?filnamn=api-{step}.csv", "api_import",
                         "API-import", expect=(201,), data=_csv(step),
                         headers={"Authorization": f"Bearer {user.api_token}", "Content-Type": "text/csv"})
    with b.rec.lock:
        b.rec.ledger.imports[code or ""].append(int(response.json()["id"]))


def simulate(base: str, user: SimUser, index: int, recorder: Recorder, deadline: float, think: float,
             seed: int, min_steps: int = 0, hard_deadline: float | None = None) -> None:
    """One simulated person until ``deadline`` (time.monotonic()), but at least ``min_steps``
    steps (never past ``hard_deadline``); think time is uniform in [0.5, 1.5] × ``think``
    seconds between steps.

    Steps: a reviewer starts the review, then answers on three steps in five and browses on
    the others; a drawer draws, then imports on every third step (API and upload form in
    turn) and browses on the others; a reader browses."""
    rng = random.Random(seed)
    b = Browser(base, recorder, f"{CLIENT_NET}{index % 250 + 1}")

    hard = hard_deadline if hard_deadline is not None else deadline

    def more(step: int) -> bool:
        now = time.monotonic()
        return now < deadline or (step < min_steps and now < hard)

    try:
        _login(b, user)
        review_id = None
        step = 0
        while more(step):
            time.sleep(think * rng.uniform(0.5, 1.5))
            if not more(step):
                break
            step += 1
            if user.kind == "reviewer":
                if review_id is None:
                    review_id = _start_review(b, user)
                elif step % 5 in (2, 3, 0):
                    _answer(b, user, review_id, step)
                else:
                    _browse(b, user, rng)
            elif user.kind == "drawer":
                if step == 1:  # racing the unit's other drawer
                    _draw(b, user)
                elif step % 3 == 2:
                    (_import_form if step % 2 else _import_api)(b, user, step)
                else:
                    _browse(b, user, rng)
            else:
                _browse(b, user, rng)
    except Unexpected as exc:
        recorder.problem(f"{user.username}: {exc}")
    except Exception as exc:  # noqa: BLE001 - a driver bug must show, not hang the run
        recorder.problem(f"{user.username}: driver error {type(exc).__name__}: {exc}")


def run_load(base: str, plan: Plan, seconds: float, think: float = 1.0, ramp: float | None = None,
             seed: int = 1, min_steps: int = 0, max_seconds: float | None = None) -> Recorder:
    """Every user of ``plan`` in its own thread for ``seconds`` (starts spread over ``ramp``
    seconds), each doing at least ``min_steps`` steps unless ``max_seconds`` (default:
    ``seconds`` + 60) have passed; returns the recorder with every request and the ledger."""
    recorder = Recorder()
    ramp = min(5.0, seconds / 4) if ramp is None else ramp
    start = time.monotonic()
    deadline = start + seconds
    hard_deadline = start + (max_seconds if max_seconds is not None else seconds + 60)
    threads = []
    order = list(range(len(plan.users)))
    random.Random(seed).shuffle(order)  # the kinds of users arrive mixed
    for i, user in enumerate(plan.users):
        delay = ramp * order[i] / max(1, len(plan.users))

        def body(user: SimUser = user, i: int = i, delay: float = delay) -> None:
            time.sleep(delay)
            simulate(base, user, i, recorder, deadline, think, seed * 1000 + i, min_steps, hard_deadline)

        threads.append(threading.Thread(target=body, name=f"sim-{user.username}", daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, hard_deadline - time.monotonic()) + 120)
    recorder.elapsed = time.monotonic() - start
    if any(t.is_alive() for t in threads):
        recorder.problem("some simulated users did not finish within two minutes after the deadline")
    return recorder


# --- checking and reporting ---------------------------------------------------------------


def verify_writes(database_url: str, plan: Plan, ledger: Ledger) -> list[str]:
    """Every write the driver saw succeed is in the database, and nothing else the load wrote
    is: logins, reviews and every saved answer, imports, draws. Returns the discrepancies."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from kontroll.cases.models import CaseListSnapshot
    from kontroll.core.models import AuditEntry, Unit
    from kontroll.reviews.models import Review, ReviewAnswer
    from kontroll.sampling.models import Draw

    problems: list[str] = []
    engine = create_engine(database_url)
    try:
        with Session(engine) as db:
            logins = db.scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.action == "login.success", AuditEntry.occurred_dt >= plan.started)) or 0
            if logins != ledger.logins:
                problems.append(f"logins: the driver saw {ledger.logins}, the audit log has {logins}")
            for review_id in sorted(ledger.reviews_started):
                if db.get(Review, review_id) is None:
                    problems.append(f"review {review_id}: started but not in the database")
            for review_id, saves in sorted(ledger.review_saves.items()):
                logged = db.scalar(select(func.count()).select_from(AuditEntry).where(
                    AuditEntry.action == "review.save", AuditEntry.object_id == str(review_id))) or 0
                if logged != saves:
                    problems.append(f"review {review_id}: {saves} saves seen, {logged} in the audit log")
                stored = {a.item_key: (a.answer or "", a.comment or "")
                          for a in db.scalars(select(ReviewAnswer).where(ReviewAnswer.review_id == review_id))}
                stored = {k: v for k, v in stored.items() if v != ("", "")}
                if stored != ledger.last_answers[review_id]:
                    problems.append(f"review {review_id}: the stored answers are not the last ones saved")
            for code in plan.drawer_units:
                unit = db.scalar(select(Unit).where(Unit.code == code))
                assert unit is not None
                snapshots = set(db.scalars(select(CaseListSnapshot.id).where(
                    CaseListSnapshot.unit_id == unit.id, CaseListSnapshot.imported_dt >= plan.started)))
                seen = ledger.imports.get(code, [])
                if len(seen) != len(set(seen)) or snapshots != set(seen):
                    problems.append(f"{code}: imports seen {sorted(seen)}, stored {sorted(snapshots)}")
                draws = set(db.scalars(select(Draw.id).where(Draw.unit_id == unit.id, Draw.period == plan.period)))
                won = ledger.draws.get(code, [])
                if len(won) > 1:
                    problems.append(f"{code}: {len(won)} draws accepted for one month")
                if draws != set(won):
                    problems.append(f"{code}: draws seen {won}, stored {sorted(draws)}")
                if ledger.draws_refused.get(code) and not draws:
                    problems.append(f"{code}: a draw was refused as already made, but there is none")
    finally:
        engine.dispose()
    return problems


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def summarize(recorder: Recorder) -> dict[str, Any]:
    """Figures per request kind and in total: count, p50/p95/p99/max (ms), statuses."""
    samples = recorder.samples
    elapsed = recorder.elapsed or 1.0
    kinds: dict[str, Any] = {}
    after = recorder.ledger.last_login_at
    groups = {kind: [s for s in samples if s.kind == kind] for kind in sorted({s.kind for s in samples})}
    # page views once everybody has logged in (argon2 logins are the costliest requests)
    groups["page, after logins"] = [s for s in samples if s.kind == "page" and s.at >= after]
    for kind, group in groups.items():
        if not group:
            continue
        ms = [s.ms for s in group]
        kinds[kind] = {
            "count": len(ms),
            "p50": round(percentile(ms, 50), 1), "p95": round(percentile(ms, 95), 1),
            "p99": round(percentile(ms, 99), 1), "max": round(max(ms), 1),
            "statuses": dict(sorted(Counter(str(s.status) for s in group).items())),
        }
    pages: dict[str, Any] = {}
    for label in sorted({s.label for s in samples if s.kind == "page"}):
        ms = [s.ms for s in samples if s.kind == "page" and s.label == label]
        pages[label] = {"count": len(ms), "p50": round(percentile(ms, 50), 1), "p95": round(percentile(ms, 95), 1)}
    ledger = recorder.ledger
    return {
        "seconds": round(elapsed, 1),
        "last_login_at": round(after, 1),
        "requests": len(samples),
        "requests_per_second": round(len(samples) / elapsed, 1),
        "server_errors": sum(1 for s in samples if s.status >= 500),
        "no_answer": sum(1 for s in samples if s.status == 0),
        "kinds": kinds,
        "pages": pages,
        "writes": {
            "logins": ledger.logins,
            "reviews_started": len(ledger.reviews_started),
            "answer_saves": sum(ledger.review_saves.values()),
            "answers_in_last_saves": sum(len(a) for a in ledger.last_answers.values()),
            "imports": sum(len(v) for v in ledger.imports.values()),
            "imports_refused_as_stale": ledger.imports_refused,
            "draws": sum(len(v) for v in ledger.draws.values()),
            "draws_refused_as_already_made": sum(ledger.draws_refused.values()),
        },
        "problems": list(ledger.problems),
    }


def format_summary(summary: dict[str, Any]) -> str:
    lines = [f"{summary['requests']} requests in {summary['seconds']} s = {summary['requests_per_second']} req/s; "
             f"5xx: {summary['server_errors']}, no answer: {summary['no_answer']}; "
             f"last login done at {summary['last_login_at']} s", ""]
    header = f"{'kind':<20}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}  statuses"
    lines += [header, "-" * len(header)]
    for kind, k in summary["kinds"].items():
        lines.append(f"{kind:<20}{k['count']:>7}{k['p50']:>9}{k['p95']:>9}{k['p99']:>9}{k['max']:>9}  "
                     + " ".join(f"{s}×{n}" for s, n in k["statuses"].items()))
    lines += ["", "pages (GET):"]
    for label, p in summary["pages"].items():
        lines.append(f"  {label:<26}{p['count']:>6}  p50 {p['p50']:>7} ms  p95 {p['p95']:>7} ms")
    lines += ["", "writes: " + ", ".join(f"{k} {v}" for k, v in summary["writes"].items())]
    if summary["problems"]:
        lines += ["", "problems:"] + [f"  {p}" for p in summary["problems"]]
    return "\n".join(lines)


def to_json(summary: dict[str, Any]) -> str:
    return json.dumps(summary, ensure_ascii=False, indent=2)
