"""Run every benchmark and print one table. `make bench` calls this.

Each benchmark module exposes ``run(kinds) -> list[dict]`` with the keys benchmark, result,
target, ok and optionally floor/ratio. The load test (bench_load: gunicorn, 50 users, 60 s)
runs on PostgreSQL only. Figures depend on the machine: report them with its
description (``nproc``, ``free -h``) in the issue note.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import (  # noqa: E402
    bench_audit,
    bench_draw,
    bench_genomgang,
    bench_import,
    bench_import_bounds,
    bench_load,
    bench_start,
    bench_summary,
)
from bench.common import postgres_available  # noqa: E402

BENCHMARKS = [bench_import, bench_import_bounds, bench_draw, bench_genomgang, bench_summary, bench_start, bench_audit, bench_load]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgresql"], help="only this database")
    args = parser.parse_args()
    kinds = [args.db] if args.db else ["sqlite"] + (["postgresql"] if postgres_available() else [])
    rows: list[dict[str, object]] = []
    for module in BENCHMARKS:
        rows.extend(module.run(kinds))
    print(f"kontroll benchmarks on {platform.node()} ({platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()})\n")
    header = ("benchmark", "result", "target", "floor", "ratio", "ok")
    table = [header] + [tuple(str(r.get(k, "")) for k in header) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for n, line in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    return 0 if all(r.get("ok") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
