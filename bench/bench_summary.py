"""The committee's yearly summary over ten years of data for ten units, through the test client:
the förvaltning's page and its PDF.

Data (bulk inserts, no services): per unit and year 5 case-list snapshots of 3,000 cases
(15 handläggare in 3 groups), 12 monthly draws of 2 cases, 24 signed reviews with every item
answered (about 5 % deviations, brister and åtgärder for them), 5 closed genomgångar on those
snapshots with 20 recorded results each (2 brister). Results for the other cases of a genomgång
are not inserted: the summary does not read them.

Target (issue «Nämndens årssammanfattning»): page < 500 ms and PDF < 3 s at the median.
Usage: python bench/bench_summary.py [--units 10] [--years 10] [--db sqlite|postgresql]
"""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fresh_database, log_in, median, units_years_main  # noqa: E402

PAGE_TARGET_MS = 500
PDF_TARGET_MS = 3000
RUNS = 9
PASSWORD = "ett-bra-losenord"
CASES = 3_000
UTC = dt.timezone.utc


def generate(session, units: int, years: int, last_year: int, checklists: Path) -> None:
    from sqlalchemy import insert

    from kontroll.cases.models import CaseListSnapshot, SnapshotCase
    from kontroll.core import users as user_svc
    from kontroll.core.models import Role
    from kontroll.genomgang.models import Genomgang, GenomgangResult
    from kontroll.reviews.models import Atgard, Brist, Review, ReviewAnswer, atgard_brister
    from kontroll.checklists.services import freeze_version, genomgang_template, stickprov_template
    from kontroll.sampling.models import Assignment, Draw, DrawnCase

    rng = random.Random(7)
    st = stickprov_template(checklists)
    gt = genomgang_template(checklists)
    st_v, gt_v = freeze_version(session, st), freeze_version(session, gt)
    items = list(st.items())
    g_area, g_item = next(iter(gt.items()))
    namnd = user_svc.create_user(session, "bench", username="namnd", full_name="Nämnd", password=PASSWORD)
    user_svc.add_role(session, "bench", namnd, Role.NAMND, None)
    ids = {"snap": 0, "case": 0, "draw": 0, "dc": 0, "asg": 0, "rev": 0, "ans": 0, "brist": 0, "atg": 0,
           "gg": 0, "res": 0}

    def nid(kind: str) -> int:
        ids[kind] += 1
        return ids[kind]

    for u in range(units):
        unit = user_svc.create_unit(session, "bench", code=f"U{u:02d}", name=f"Enhet {u:02d}")
        chef = user_svc.create_user(session, "bench", username=f"chef{u}", full_name=f"Chef {u}", password=PASSWORD)
        user_svc.add_role(session, "bench", chef, Role.SEKTIONSCHEF, unit)
        forste = user_svc.create_user(session, "bench", username=f"forste{u}", full_name=f"Förste {u}", password=PASSWORD)
        user_svc.add_role(session, "bench", forste, Role.FORSTE_SOCIALSEKRETERARE, unit)
        staff = []
        for h in range(15):
            user = user_svc.create_user(session, "bench", username=f"hl{u}_{h}", full_name=f"HL {u} {h}",
                                        password=None, case_system_id=f"S{u:02d}{h:02d}")
            staff.append(user.id)
        session.flush()
        for year in range(last_year - years + 1, last_year + 1):
            snaps, cases, draws, dcs, asgs, revs, answers, brister, atgs, links, ggs, results = ([] for _ in range(12))
            snap_cases: list[list[int]] = []
            for s, month in enumerate((2, 4, 6, 9, 11)):
                sid = nid("snap")
                snaps.append(dict(id=sid, unit_id=unit.id, imported_by_id=chef.id, source="cli",
                                  imported_dt=dt.datetime(year, month, 1, 8, tzinfo=UTC), source_filename="b.csv",
                                  file_format="csv", row_count=CASES, sha256="0" * 64, canonical_version="1",
                                  mapping="{}", linked_by_signature=CASES, linked_by_name=0, unlinked=0))
                these = []
                for i in range(CASES):
                    cid = nid("case")
                    h = i % 15
                    cases.append(dict(id=cid, snapshot_id=sid, case_ref=f"EB-{u:02d}-{i:05d}", handlaggare_namn=f"HL {u} {h}",
                                      handlaggare_signatur=f"S{u:02d}{h:02d}", team=f"Grupp {h % 3 + 1}",
                                      handlaggare_user_id=staff[h], link_method="signatur", source_row=i + 2))
                    these.append(cid)
                snap_cases.append(these)
            for month in range(1, 13):
                did = nid("draw")
                snap_i = min((month - 1) // 2, 4)
                draws.append(dict(id=did, unit_id=unit.id, period=f"{year:04d}-{month:02d}", snapshot_id=snaps[snap_i]["id"],
                                  snapshot_sha256="0" * 64, population_sha256="0" * 64, seed="0" * 32,
                                  method_name="bench", method_version=1, sample_size=2, stratify_by_team=False,
                                  exclude_months=0, excluded_refs="[]", population_size=CASES, eligible_size=CASES,
                                  drawn_by_id=chef.id, drawn_dt=dt.datetime(year, month, 2, 8, tzinfo=UTC)))
                for pos, i in enumerate(rng.sample(range(CASES), 2), start=1):
                    dcid, aid, rid = nid("dc"), nid("asg"), nid("rev")
                    dcs.append(dict(id=dcid, draw_id=did, position=pos, snapshot_case_id=snap_cases[snap_i][i],
                                    case_ref=f"EB-{u:02d}-{i:05d}"))
                    asgs.append(dict(id=aid, drawn_case_id=dcid, reviewer_id=forste.id, assigned_by_id=chef.id,
                                     assigned_dt=dt.datetime(year, month, 3, tzinfo=UTC)))
                    signed = dt.datetime(year, month, 20, 12, tzinfo=UTC)
                    revs.append(dict(id=rid, unit_id=unit.id, drawn_case_id=dcid, assignment_id=aid, reviewer_id=forste.id,
                                     template_version_id=st_v.id, state="klar", started_dt=signed, signed_dt=signed))
                    for area, item in items:
                        deviate = item.deviation is not None and rng.random() < 0.05
                        answer = item.deviation if deviate else ("ja" if "ja" in item.answers else item.answers[0])
                        answers.append(dict(id=nid("ans"), review_id=rid, item_key=item.key, answer=answer))
                        if deviate:
                            bid = nid("brist")
                            brister.append(dict(id=bid, review_id=rid, genomgang_result_id=None, unit_id=unit.id, area_key=area.key,
                                                area_title=area.title, item_key=item.key, question=item.question,
                                                answer=answer, created_dt=signed))
                            aid2 = nid("atg")
                            state = rng.choice(["öppen", "genomförd", "verifierad"])
                            atgs.append(dict(id=aid2, unit_id=unit.id, description="Åtgärd", owner_id=chef.id,
                                             due_date=(signed + dt.timedelta(days=60)).date(), state=state,
                                             created_by_id=chef.id, created_dt=signed,
                                             verified_by_id=forste.id if state == "verifierad" else None))
                            links.append(dict(atgard_id=aid2, brist_id=bid))
            for s, month in enumerate((2, 4, 6, 9, 11)):
                gid = nid("gg")
                day = dt.date(year, month, 15)
                ggs.append(dict(id=gid, unit_id=unit.id, year=year, planned_on=day, state="stängd", created_by_id=forste.id,
                                snapshot_id=snaps[s]["id"], template_version_id=gt_v.id, case_count=CASES,
                                started_dt=dt.datetime(year, month, 15, tzinfo=UTC), started_by_id=forste.id,
                                closed_dt=dt.datetime(year, month, 16, tzinfo=UTC), closed_by_id=forste.id))
                for k in range(20):
                    rid = nid("res")
                    results.append(dict(id=rid, genomgang_id=gid, snapshot_case_id=snap_cases[s][k * 7],
                                        result="brist" if k < 2 else "utan_anmarkning", recorded_by_id=forste.id))
                    if k < 2:
                        brister.append(dict(id=nid("brist"), review_id=None, genomgang_result_id=rid, unit_id=unit.id, area_key=g_area.key,
                                            area_title=g_area.title, item_key=g_item.key, question=g_item.question,
                                            answer="brist", created_dt=dt.datetime(year, month, 15, tzinfo=UTC)))
            for table, rows in ((CaseListSnapshot, snaps), (SnapshotCase, cases), (Draw, draws), (DrawnCase, dcs),
                                (Assignment, asgs), (Review, revs), (ReviewAnswer, answers), (Genomgang, ggs),
                                (GenomgangResult, results), (Brist, brister), (Atgard, atgs)):
                if rows:
                    session.execute(insert(table.__table__), rows)
            if links:
                session.execute(insert(atgard_brister), links)
            session.commit()


def measure(kind: str, units: int, years: int) -> dict[str, float]:
    from kontroll import create_app
    from kontroll.db import get_database
    from kontroll.checklists.services import checklists_directory

    last_year = dt.date.today().year - 1
    with fresh_database(kind) as url:
        app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench", "PASSWORD_HASH_PROFILE": "fast"})
        database = get_database(app)
        started = time.perf_counter()
        with app.app_context(), database.session_scope() as session:
            generate(session, units, years, last_year, checklists_directory(app.config))
        generated_s = time.perf_counter() - started
        if kind == "postgresql":
            from sqlalchemy import text

            with database.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        client = app.test_client()
        log_in(client, "namnd", PASSWORD)

        def timed(url: str) -> float:
            start = time.perf_counter()
            resp = client.get(url)
            ms = (time.perf_counter() - start) * 1000
            assert resp.status_code == 200, (url, resp.status_code)
            return ms

        timed(f"/sammanfattning?ar={last_year}")  # warm-up
        pages = [timed(f"/sammanfattning?ar={last_year}") for _ in range(RUNS)]
        pdfs = [timed(f"/sammanfattning-export.pdf?ar={last_year}") for _ in range(RUNS)]
        database.engine.dispose()
    return {"page_ms": median(pages), "pdf_ms": median(pdfs), "generate_s": generated_s}


def run(kinds: list[str], units: int = 10, years: int = 10) -> list[dict[str, object]]:
    table = []
    for kind in kinds:
        out = subprocess.run([sys.executable, __file__, "--child", "--db", kind, "--units", str(units),
                              "--years", str(years)], check=True, capture_output=True, text=True)
        m = json.loads(out.stdout.strip().splitlines()[-1])
        scope = f"{units} units × {years} years"
        table.append({"benchmark": f"summary page, förvaltningen, {scope}, {kind}",
                      "result": f"{m['page_ms']:.0f} ms (median of {RUNS})", "target": f"< {PAGE_TARGET_MS} ms",
                      "ok": m["page_ms"] < PAGE_TARGET_MS})
        table.append({"benchmark": f"summary PDF, förvaltningen, {scope}, {kind}",
                      "result": f"{m['pdf_ms']:.0f} ms (median of {RUNS})", "target": f"< {PDF_TARGET_MS} ms",
                      "ok": m["pdf_ms"] < PDF_TARGET_MS})
    return table


def main() -> None:
    units_years_main(measure, run)


if __name__ == "__main__":
    main()
