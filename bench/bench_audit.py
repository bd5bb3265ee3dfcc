"""The audit log's hash chain: the cost of an append (one committed transaction with one
entry, the usual case for a page view) and of `kontroll audit verify` over a long log.

A municipality with 50 people in the routine writes of the order of 100,000 entries a year
(page views included). Targets (set with the issue «Trust»): an append, including its commit,
takes < 20 ms at the median (a bare one-row commit takes about 4 ms on the reference machine), and
verifying 100,000 entries takes < 30 s, so a nightly check is cheap.
Usage: python bench/bench_audit.py [--rows N] [--db sqlite|postgresql]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fresh_database, measure_in_child, median, rows_main  # noqa: E402

APPEND_TARGET_MS = 20
VERIFY_TARGET_S = 30
APPENDS = 200


def measure(kind: str, rows: int) -> dict[str, float]:
    from kontroll import create_app
    from kontroll.core import audit
    from kontroll.db import get_database

    with fresh_database(kind) as url:
        app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench",
                          "AUDIT_KEY": "bench-audit-key-0123456789abcdef0123456789"})
        database = get_database(app)
        key = app.config["AUDIT_KEY_BYTES"]
        batch = 1000
        for start in range(0, rows, batch):  # the bulk of the log, 1,000 entries a transaction
            with database.session_scope() as session:
                for i in range(start, min(rows, start + batch)):
                    audit.record(session, "bench", "case.view", object_type="case", object_id=f"EB-{i}",
                                 unit=None, details={"i": i})
        appends = []
        for i in range(APPENDS):
            t0 = time.perf_counter()
            with database.session_scope() as session:
                audit.record(session, "bench", "case.view", object_type="case", object_id=f"X-{i}")
            appends.append((time.perf_counter() - t0) * 1000)
        session = database.sessionmaker()
        t0 = time.perf_counter()
        report = audit.verify_chain(session, key)
        verify_s = time.perf_counter() - t0
        session.close()
        assert report.ok and report.count == rows + APPENDS, report
        database.engine.dispose()
    return {"append_ms": median(appends), "verify_s": verify_s}


def run(kinds: list[str], rows: int = 100_000) -> list[dict[str, object]]:
    table = []
    for kind in kinds:
        m = measure_in_child(__file__, kind, rows)
        table.append({"benchmark": f"audit append (one entry, one commit), {kind}",
                      "result": f"{m['append_ms']:.1f} ms (median of {APPENDS})",
                      "target": f"< {APPEND_TARGET_MS} ms", "ok": m["append_ms"] < APPEND_TARGET_MS})
        table.append({"benchmark": f"kontroll audit verify, {rows:,} entries, {kind}",
                      "result": f"{m['verify_s']:.1f} s", "target": f"< {VERIFY_TARGET_S} s",
                      "ok": m["verify_s"] < VERIFY_TARGET_S})
    return table


def main() -> None:
    rows_main(measure, run, 100_000)


if __name__ == "__main__":
    main()
