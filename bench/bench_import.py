"""Case-list import of 180,000 rows through the CLI's code path, against a floor.

Targets (issue «Ärendelista»): under 5 s on SQLite and under 8 s on PostgreSQL, peak memory
under 300 MB; aim for at most 2x the floor (csv module + one executemany of the same rows).

Each measurement runs in its own process so that the peak RSS is its own.
Usage: python bench/bench_import.py [--rows N] [--db sqlite|postgresql] [--json]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import case_list_csv, fresh_database, postgres_available  # noqa: E402

TARGET_SECONDS = {"sqlite": 5.0, "postgresql": 8.0}
TARGET_MB = 300


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_kontroll(kind: str, rows: int) -> dict[str, float]:
    from kontroll import create_app
    from kontroll.cases import services as svc
    from kontroll.core import users as user_svc
    from kontroll.core.models import Role
    from kontroll.db import get_database

    data = case_list_csv(rows)
    with fresh_database(kind) as url:
        app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench", "PASSWORD_HASH_PROFILE": "fast"})
        database = get_database(app)
        with app.app_context(), database.session_scope() as session:
            unit = user_svc.create_unit(session, "bench", code="BENCH", name="Bench")
            user = user_svc.create_user(session, "bench", username="bench", full_name="Bench", password=None)
            user_svc.add_role(session, "bench", user, Role.FORSTE_SOCIALSEKRETERARE, unit)
        rss_before = peak_mb()
        start = time.perf_counter()
        with app.app_context(), database.session_scope() as session:
            actor = user_svc.get_user_by_username(session, "bench")
            unit = user_svc.get_unit_by_code(session, "BENCH")
            snapshot = svc.import_file(session, actor, unit, data, "bench.csv", source="cli")
            assert snapshot.row_count == rows
        seconds = time.perf_counter() - start
        database.engine.dispose()
    return {"seconds": seconds, "peak_mb": peak_mb(), "baseline_mb": rss_before}


def measure_floor(kind: str, rows: int) -> dict[str, float]:
    """Read the same file with the csv module and insert the same mapped columns with one
    executemany into a plain table: what any import must at least cost."""
    from sqlalchemy import text

    from kontroll.db import make_engine

    data = case_list_csv(rows)
    with fresh_database(kind) as url:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE floor (case_ref VARCHAR(200), namn VARCHAR(200), sig VARCHAR(200), "
                              "team VARCHAR(200), akt VARCHAR(10), beslut VARCHAR(10), hushall VARCHAR(200), belopp VARCHAR(20))"))
        start = time.perf_counter()
        reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";")
        next(reader)
        params = [
            {"r": r[0], "n": r[3], "s": r[4], "t": r[5], "a": r[6], "b": r[7], "h": r[8], "m": r[10]}
            for r in reader
        ]
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO floor VALUES (:r, :n, :s, :t, :a, :b, :h, :m)"), params)
        seconds = time.perf_counter() - start
        engine.dispose()
    return {"seconds": seconds, "peak_mb": peak_mb()}


def run_child(what: str, kind: str, rows: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", what, "--db", kind, "--rows", str(rows)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(kinds: list[str], rows: int = 180_000) -> list[dict[str, object]]:
    table = []
    for kind in kinds:
        k = run_child("kontroll", kind, rows)
        f = run_child("floor", kind, rows)
        table.append({
            "benchmark": f"case-list import, {rows:,} rows, {kind}",
            "result": f"{k['seconds']:.2f} s, peak {k['peak_mb']:.0f} MB",
            "target": f"< {TARGET_SECONDS[kind]:.0f} s, < {TARGET_MB} MB, <= 2x floor",
            "floor": f"{f['seconds']:.2f} s (csv + executemany)",
            "ratio": f"{k['seconds'] / f['seconds']:.2f}x",
            "ok": k["seconds"] < TARGET_SECONDS[kind] and k["peak_mb"] < TARGET_MB,
        })
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=180_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"])
    parser.add_argument("--child", choices=["kontroll", "floor"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.child:
        fn = measure_kontroll if args.child == "kontroll" else measure_floor
        print(json.dumps(fn(args.db, args.rows)))
        return
    kinds = [args.db] if args.db else ["sqlite"] + (["postgresql"] if postgres_available() else [])
    table = run(kinds, args.rows)
    if args.json:
        print(json.dumps(table))
    else:
        for row in table:
            print(row)


if __name__ == "__main__":
    main()
