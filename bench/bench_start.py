"""The start page (the to-do list) for a person with roles in many units and years of history.

Data: bench_summary's generator (per unit and year 5 snapshots of 3,000 cases, 12 draws, 24
signed reviews, brister and åtgärder, 5 closed genomgångar), up to this year, plus one person who
is sektionschef and 1:e socialsekreterare in every unit. Measured through the test client.

Targets (issue «Lead each person through their month»): the start page under 150 ms at the
median on SQLite and PostgreSQL, and the to-do computation a bounded number of queries: the
same with 2 units as with 10 (compared on one year of data).
Usage: python bench/bench_start.py [--units 10] [--years 10] [--db sqlite|postgresql]
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_summary import PASSWORD, generate  # noqa: E402
from bench.common import fresh_database, log_in, median, units_years_main  # noqa: E402

TARGET_MS = 150
RUNS = 15


def measure(kind: str, units: int, years: int) -> dict[str, float]:
    from sqlalchemy import event, select

    from kontroll import create_app
    from kontroll.checklists.services import checklists_directory
    from kontroll.core import users as user_svc
    from kontroll.core.models import Role, Unit
    from kontroll.db import get_database

    with fresh_database(kind) as url:
        app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench", "PASSWORD_HASH_PROFILE": "fast"})
        database = get_database(app)
        with app.app_context(), database.session_scope() as session:
            generate(session, units, years, dt.date.today().year, checklists_directory(app.config))
            person = user_svc.create_user(session, "bench", username="alla", full_name="Alla Enheter", password=PASSWORD)
            for unit in session.scalars(select(Unit)).all():
                user_svc.add_role(session, "bench", person, Role.SEKTIONSCHEF, unit)
                user_svc.add_role(session, "bench", person, Role.FORSTE_SOCIALSEKRETERARE, unit)
        if kind == "postgresql":
            from sqlalchemy import text

            with database.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        client = app.test_client()
        log_in(client, "alla", PASSWORD)
        queries = [0]
        event.listen(database.engine, "before_cursor_execute", lambda *a: queries.__setitem__(0, queries[0] + 1))

        def timed() -> float:
            start = time.perf_counter()
            resp = client.get("/")
            ms = (time.perf_counter() - start) * 1000
            assert resp.status_code == 200 and "Att göra" in resp.get_data(as_text=True)
            return ms

        timed()  # warm-up
        queries[0] = 0
        timed()
        per_page = queries[0]
        times = [timed() for _ in range(RUNS)]
        todos = len(re.findall(r'class="todo-item', client.get("/").get_data(as_text=True)))
        database.engine.dispose()
    return {"page_ms": median(times), "queries": per_page, "todos": todos}


def run(kinds: list[str], units: int = 10, years: int = 10) -> list[dict[str, object]]:
    table = []
    for kind in kinds:
        def child(n: int, y: int) -> dict[str, float]:
            out = subprocess.run([sys.executable, __file__, "--child", "--db", kind, "--units", str(n),
                                  "--years", str(y)], check=True, capture_output=True, text=True)
            return json.loads(out.stdout.strip().splitlines()[-1])

        m = child(units, years)
        # the query count is compared on one year of data: it must not grow with the units
        results = {2: child(2, 1), units: child(units, 1)}
        table.append({"benchmark": f"start page, roles in {units} units × {years} years, {kind}",
                      "result": f"{m['page_ms']:.0f} ms (median of {RUNS}), {m['todos']} to-dos",
                      "target": f"< {TARGET_MS} ms", "ok": m["page_ms"] < TARGET_MS})
        table.append({"benchmark": f"start page queries, 2 units vs {units} units, {kind}",
                      "result": f"{results[2]['queries']} vs {m['queries']}", "target": "the same",
                      "ok": results[2]["queries"] == m["queries"]})
    return table


def main() -> None:
    units_years_main(measure, run)


if __name__ == "__main__":
    main()
