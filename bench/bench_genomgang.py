"""A genomgång over a 5,000-case snapshot, through the test client: the work list page (first
page, and a page filtered by handläggare) and recording one result (POST, including the
redirect to the next case). About 1,000 results are recorded first, so the page counts them.

Target (issue «Genomgångar»): each under 300 ms at the median.
Usage: python bench/bench_genomgang.py [--rows N] [--db sqlite|postgresql]
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import measure_in_child, rows_main, case_list_csv, fresh_database, median  # noqa: E402

TARGET_MS = 300
RUNS = 15
PASSWORD = "ett-bra-losenord"


def measure(kind: str, rows: int) -> dict[str, float]:
    import datetime as dt

    from sqlalchemy import select

    from kontroll import create_app
    from kontroll.cases import services as cases
    from kontroll.cases.models import SnapshotCase
    from kontroll.core import users as user_svc
    from kontroll.core.models import Role
    from kontroll.db import get_database
    from kontroll.genomgang import services as svc
    from kontroll.genomgang.models import Genomgang
    from kontroll.checklists.services import checklists_directory, genomgang_template

    with fresh_database(kind) as url:
        app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench", "PASSWORD_HASH_PROFILE": "fast"})
        database = get_database(app)
        with app.app_context(), database.session_scope() as session:
            unit = user_svc.create_unit(session, "bench", code="BENCH", name="Bench")
            people = []
            for name in ("forste1", "forste2"):
                user = user_svc.create_user(session, "bench", username=name, full_name=name, password=PASSWORD)
                user_svc.add_role(session, "bench", user, Role.FORSTE_SOCIALSEKRETERARE, unit)
                people.append(user)
            cases.import_file(session, people[0], unit, case_list_csv(rows), "bench.csv", source="cli")
            g = svc.plan(session, people[0], unit, dt.date(2030, 3, 10))
            svc.start(session, people[0], g, people, genomgang_template(checklists_directory(app.config)))
            gid = g.id
        with app.app_context(), database.session_scope() as session:
            g = session.get(Genomgang, gid)
            ids = list(session.scalars(select(SnapshotCase.id).where(SnapshotCase.snapshot_id == g.snapshot_id)
                                       .order_by(SnapshotCase.case_ref)))
            me = user_svc.get_user_by_username(session, "forste1")
            for cid in ids[: rows // 5]:
                svc.record_result(session, me, g, cid, "utan_anmarkning", {})
            handlaggare = session.scalar(select(SnapshotCase.handlaggare_signatur)
                                         .where(SnapshotCase.snapshot_id == g.snapshot_id).limit(1))

        client = app.test_client()
        page = client.get("/logga-in").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        assert client.post("/logga-in", data={"username": "forste1", "password": PASSWORD,
                                              "csrf_token": token}).status_code == 302
        base = f"/enheter/BENCH/genomgangar/{gid}"
        page = client.get(base).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

        def timed(fn) -> float:
            start = time.perf_counter()
            resp = fn()
            ms = (time.perf_counter() - start) * 1000
            assert resp.status_code in (200, 302), resp.status_code
            return ms

        work, filtered, record = [], [], []
        for i in range(RUNS):
            work.append(timed(lambda: client.get(f"{base}/arenden?sida={i % 5 + 1}")))
            filtered.append(timed(lambda: client.get(f"{base}/arenden?handlaggare={handlaggare}&status=kvar")))
            cid = ids[rows // 5 + i]
            data = {"csrf_token": token, "result": "brist" if i % 3 == 0 else "utan_anmarkning"}
            if i % 3 == 0:
                data.update({"brist-beslut": "1", "kommentar-beslut": "Beslut utan motivering."})
            record.append(timed(lambda: client.post(f"{base}/arenden/{cid}", data=data)))
        database.engine.dispose()
    return {"work_ms": median(work), "filtered_ms": median(filtered), "record_ms": median(record)}


def run(kinds: list[str], rows: int = 5_000) -> list[dict[str, object]]:
    table = []
    for kind in kinds:
        m = measure_in_child(__file__, kind, rows)
        for what, label in (("work", "genomgång work list page"), ("filtered", "work list, one handläggare, left"),
                            ("record", "genomgång: record one result")):
            ms = m[f"{what}_ms"]
            table.append({
                "benchmark": f"{label}, {rows:,} cases, {kind}",
                "result": f"{ms:.0f} ms (median of {RUNS})",
                "target": f"< {TARGET_MS} ms (test client)",
                "ok": ms < TARGET_MS,
            })
    return table


def main() -> None:
    rows_main(measure, run, 5_000)


if __name__ == "__main__":
    main()
