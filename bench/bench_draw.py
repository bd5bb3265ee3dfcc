"""Draw and verify on a 180,000-case snapshot, each including loading the snapshot from the
database; the floor is the bare selection on an in-memory NumPy array.

Target (issue «Månadens stickprov»): each under 300 ms (median of 7).
Usage: python bench/bench_draw.py [--rows N] [--db sqlite|postgresql]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import measure_in_child, rows_main, case_list_csv, fresh_database, median  # noqa: E402

TARGET_MS = 300
RUNS = 7


def measure(kind: str, rows: int) -> dict[str, float]:
    from kontroll import create_app
    from kontroll.cases import services as cases
    from kontroll.core import users as user_svc
    from kontroll.core.models import Role
    from kontroll.db import get_database
    from kontroll.sampling import method
    from kontroll.sampling import services as svc

    with fresh_database(kind) as url:
        app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench", "PASSWORD_HASH_PROFILE": "fast"})
        database = get_database(app)
        with app.app_context(), database.session_scope() as session:
            unit = user_svc.create_unit(session, "bench", code="BENCH", name="Bench")
            chef = user_svc.create_user(session, "bench", username="chef", full_name="Chef", password=None)
            user_svc.add_role(session, "bench", chef, Role.SEKTIONSCHEF, unit)
            user_svc.add_role(session, "bench", chef, Role.FORSTE_SOCIALSEKRETERARE, unit)
            cases.import_file(session, chef, unit, case_list_csv(rows), "bench.csv", source="cli")
        draw_ms, verify_ms, full_ms, draw_ids = [], [], [], []
        for i in range(RUNS):
            with app.app_context(), database.session_scope() as session:
                chef = user_svc.get_user_by_username(session, "chef")
                unit = user_svc.get_unit_by_code(session, "BENCH")
                start = time.perf_counter()
                draw = svc.run_draw(session, chef, unit, f"{2030 + i}-01")
                draw_ms.append((time.perf_counter() - start) * 1000)
                draw_ids.append(draw.id)
        for draw_id in draw_ids:
            for full, out in ((False, verify_ms), (True, full_ms)):
                with app.app_context(), database.session_scope() as session:
                    start = time.perf_counter()
                    draw = svc.load_draw(session, draw_id)
                    result = svc.verify_draw(session, draw, full=full)
                    out.append((time.perf_counter() - start) * 1000)
                    assert result.ok, result.lines
        database.engine.dispose()

    # the floor: keys for an in-memory array of case references, n smallest
    refs = np.array([f"EB-{i:06d}" for i in range(rows)])
    floor = []
    for _ in range(RUNS):
        start = time.perf_counter()
        keys = method.case_keys(refs, method.new_seed())
        np.argpartition(keys, 2)[:2]
        floor.append((time.perf_counter() - start) * 1000)
    return {"draw_ms": median(draw_ms), "verify_ms": median(verify_ms), "verify_full_ms": median(full_ms),
            "floor_ms": median(floor)}


def run(kinds: list[str], rows: int = 180_000) -> list[dict[str, object]]:
    table = []
    for kind in kinds:
        m = measure_in_child(__file__, kind, rows)
        for what, label in (("draw", "draw"), ("verify", "verify (draw inputs)"),
                            ("verify_full", "verify + whole-snapshot re-hash")):
            ms = m[f"{what}_ms"]
            table.append({
                "benchmark": f"{label}, {rows:,}-case snapshot, {kind}",
                "result": f"{ms:.0f} ms (median of {RUNS})",
                "target": f"< {TARGET_MS} ms incl. loading",
                "floor": f"{m['floor_ms']:.1f} ms (NumPy selection only)",
                "ratio": f"{ms / m['floor_ms']:.0f}x",
                "ok": ms < TARGET_MS if what != "verify_full" else "(no target)",
            })
    return table


def main() -> None:
    rows_main(measure, run, 180_000)


if __name__ == "__main__":
    main()
