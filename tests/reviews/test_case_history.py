"""The audit log follows a case: the revisor who filters by a case reference finds its whole
history — drawn, given a reviewer, the review opened, saved, klarmarkerad, återkoppling, the
åtgärd for its brist opened, carried out and verified, its genomgång result, and every view of
it — and reads it in Swedish, objects by name ("Granskning av EB-002"), never "True" or "None"."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from kontroll.core import users as user_svc
from kontroll.db import get_database
from kontroll.genomgang import services as genomgang_svc
from kontroll.genomgang.models import Genomgang
from kontroll.reviews import services as svc
from kontroll.reviews.models import Brist, Review
from kontroll.cases.models import SnapshotCase
from kontroll.sampling.models import DrawnCase
from tests.support.genomgang import started
from tests.support.reviews import open_review, template
from tests.support.web import login


def test_the_log_filtered_by_a_case_shows_its_whole_history_in_swedish(app, client, db, drawn, checklists):
    dc = db.get(DrawnCase, drawn["cases"][0])
    ref, other_ref = dc.case_ref, drawn["refs"][1]
    review_id = open_review(app, "enhetschef", dc.id, checklists)
    t = template(checklists)
    first_item = next(item for _, item in t.items())
    today = dt.date.today()
    with get_database(app).session_scope() as session:
        get = lambda name: user_svc.get_user_by_username(session, name)  # noqa: E731
        review = session.get(Review, review_id)
        answers = {item.key: ((item.deviation if item.key == first_item.key else
                               ("ja" if "ja" in item.answers else item.answers[0])), "Anteckning.")
                   for _, item in t.items()}
        svc.save_draft(session, get("enhetschef"), review, answers)
        svc.sign(session, get("enhetschef"), review, answers)
        svc.record_feedback(session, get("enhetschef"), review, today, "vid_mote", "Vi gick igenom det.")
        brist = session.scalars(select(Brist).where(Brist.review_id == review_id)).one()
        atgard = svc.open_atgard(session, get("sektionschef"), review.unit, [brist.id], "Rutin för underskrifter.",
                                 get("enhetschef"), today + dt.timedelta(days=30), today=today)
        svc.complete_atgard(session, get("enhetschef"), atgard, "Tog upp det på gruppmötet.")
        svc.verify_atgard(session, get("sektionschef"), atgard, "Fungerar i nästa stickprov.", None)
    gid = started(app, checklists, day=today.isoformat())
    with get_database(app).session_scope() as session:
        g = session.get(Genomgang, gid)
        case_id = session.scalar(select(SnapshotCase.id).where(SnapshotCase.snapshot_id == g.snapshot_id,
                                                               SnapshotCase.case_ref == ref))
        genomgang_svc.record_result(session, user_svc.get_user_by_username(session, "forste"), g, case_id,
                                    "utan_anmarkning", {})
    login(client, "enhetschef")
    client.get(f"/granskningar/{review_id}")
    client.get(f"/enheter/IFO-FS/atgarder/{atgard.id}")

    revisor = app.test_client()
    login(revisor, "revisor")
    html = revisor.get("/revision/logg", query_string={"objekt": ref}).get_data(as_text=True)
    rows = re.findall(r"<tr><td>\d+</td>.*?</tr>", html, re.S)
    events = [re.sub(r"<[^>]+>", "", re.findall(r"<td>(.*?)</td>", row, re.S)[3]) for row in rows]
    from kontroll.core.audit import ACTION_LABELS as L

    for action in ("draw.create", "draw.assign", "review.create", "review.save", "review.sign", "review.feedback",
                   "atgard.create", "atgard.done", "atgard.verify", "genomgang.result", "review.view", "atgard.view"):
        assert L[action] in events, f"{action} missing from the case's history: {events}"
    assert f"Granskning av {ref}" in html
    assert "Sätt: Vid möte" in html
    assert "True" not in html and "None" not in html and "ok:" not in html
    # the other drawn case is not part of this history (the draw names both, nothing else does)
    other = revisor.get("/revision/logg", query_string={"objekt": other_ref}).get_data(as_text=True)
    assert f"Granskning av {ref}" not in other


def test_a_revisor_for_one_unit_reads_that_units_log(app, client, db, world, drawn):
    """The menu offers Händelselogg to a revisor for one unit, and the page answers with that
    unit's entries only (the whole organisation's revisor sees every unit)."""
    from kontroll.core.models import AuditEntry, Role

    with get_database(app).session_scope() as session:
        user = user_svc.create_user(session, "t", username="revisor.ifo", full_name="Revisor IFO",
                                    password="ett-bra-losenord")
        user_svc.add_role(session, "t", user, Role.REVISOR, user_svc.get_unit_by_code(session, "IFO-FS"))
    login(client, "revisor.ifo", "ett-bra-losenord")
    assert 'href="/revision/logg"' in client.get("/").get_data(as_text=True)
    response = client.get("/revision/logg")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    units = set(re.findall(r"<tr><td>\d+</td><td>[^<]*</td><td>[^<]*</td>\s*<td>[^<]*</td><td>([^<]*)</td>", html))
    assert units == {"IFO-FS"}
    assert 'value="INT"' not in html, "the unit filter offers only the revisor's units"
    int_entries = db.scalar(select(AuditEntry.id).where(AuditEntry.unit_id == world.int.id).limit(1))
    assert int_entries is not None, "the test needs an entry of the other unit"
