"""Shared helpers for the benchmarks: fresh databases, generated case lists, timing."""

from __future__ import annotations

import os
import random
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_URL = os.environ.get(
    "KONTROLL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    """A migrated, empty database URL of the given kind (sqlite or postgresql), removed after."""
    from kontroll.migrate import upgrade

    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.sqlite"
            upgrade(url)
            yield url
        return
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"kontroll_bench_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgres_available() -> bool:
    from bench.loadclient import postgres_answers

    return postgres_answers(POSTGRES_ADMIN_URL) is None


HEADER = ("Ärendenummer;Personnummer;Namn;Handläggare;Handläggarsignatur;Grupp;Aktualiseringsdatum;"
          "Senaste beslut;Hushållstyp;Antal barn;Beviljat belopp (kr)")
HOUSEHOLDS = ("Ensamstående utan barn", "Ensamstående med barn", "Sammanboende utan barn",
              "Sammanboende med barn", "Övriga")


def case_list_csv(rows: int, seed: int = 1) -> bytes:
    """A Swedish-Excel-style export (UTF-8 with BOM, `;`, CRLF, decimal comma) of ``rows``
    cases spread over 600 handläggare in 60 groups, with the personnummer and name columns
    that kontroll must drop unread."""
    rng = random.Random(seed)
    staff = [(f"Handläggare {i:03d}", f"H{i:03d}", f"Grupp {i % 60 + 1}") for i in range(600)]
    lines = [HEADER]
    for i in range(rows):
        name, sig, team = staff[rng.randrange(600)]
        year = 2015 + i % 11
        lines.append(
            f"EB-{year}-{i:06d};19121212-{i % 10000:04d};Klient {i};{name};{sig};{team};"
            f"{year}-{i % 12 + 1:02d}-{i % 28 + 1:02d};2025-{i % 12 + 1:02d}-{i % 28 + 1:02d};"
            f"{HOUSEHOLDS[i % 5]};{i % 4};{rng.randint(1000, 40000):,}".replace(",", "\u00a0")
            + f",{i % 100:02d}"
        )
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def median(values: list[float]) -> float:
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def measure_in_child(script: str, kind: str, rows: int) -> dict[str, float]:
    """Run ``script --child --db kind --rows rows`` in a fresh process (so that its memory
    and caches are its own) and return the JSON it prints last."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, script, "--child", "--db", kind, "--rows", str(rows)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def rows_main(measure, run, default_rows: int) -> None:  # type: ignore[no-untyped-def]
    """The command line of a benchmark sized by a row count: ``--child`` measures once in
    this process; otherwise it runs on the given or available databases and prints rows."""
    import argparse
    import json

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=default_rows)
    parser.add_argument("--db", choices=["sqlite", "postgresql"])
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.db, args.rows)))
        return
    kinds = [args.db] if args.db else ["sqlite"] + (["postgresql"] if postgres_available() else [])
    for row in run(kinds, args.rows):
        print(row)


def log_in(client, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    """Log ``client`` (a Flask test client) in through the login form."""
    import re

    page = client.get("/logga-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post("/logga-in", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, f"cannot log in as {username}"


def units_years_main(measure, run) -> None:  # type: ignore[no-untyped-def]
    """The command line of a benchmark sized by units and years (as :func:`rows_main`)."""
    import argparse
    import json

    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=10)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--db", choices=["sqlite", "postgresql"])
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.db, args.units, args.years)))
        return
    kinds = [args.db] if args.db else ["sqlite"] + (["postgresql"] if postgres_available() else [])
    for row in run(kinds, args.units, args.years):
        print(row)
