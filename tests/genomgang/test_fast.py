"""A genomgång done at the pace of a meeting: the rest of a team (or a handläggare, or the whole
list) recorded ”Utan anmärkning” at once after a confirmation naming how many; progress per
team; and the handläggare who sees the genomgång's brister and återkoppling on their own cases.
Concurrent recording on both databases: the bulk and a single result never collide."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, select

from kontroll.cases.models import SnapshotCase
from kontroll.core import users as user_svc
from kontroll.core.errors import ValidationError
from kontroll.core.models import AuditEntry, Notification, User
from kontroll.core.permissions import PermissionDenied
from kontroll.db import get_database
from kontroll.genomgang import services as svc
from kontroll.genomgang.models import Genomgang, GenomgangResult
from tests.support.genomgang import started
from tests.support.web import csrf_from, login, post_form

URL = "/enheter/IFO-FS/genomgangar"


def _results(db, gid) -> dict[str, str]:
    db.expire_all()
    return dict(db.execute(select(SnapshotCase.case_ref, GenomgangResult.result)
                           .join(SnapshotCase, SnapshotCase.id == GenomgangResult.snapshot_case_id)
                           .where(GenomgangResult.genomgang_id == gid)).all())


def _first_case(db, gid, team: str) -> int:
    g = db.get(Genomgang, gid)
    return db.scalar(select(SnapshotCase.id).where(SnapshotCase.snapshot_id == g.snapshot_id, SnapshotCase.team == team)
                     .order_by(SnapshotCase.case_ref).limit(1))


def test_the_rest_of_a_team_at_once(app, db, setup, checklists):
    gid = started(app, checklists)
    with get_database(app).session_scope() as session:
        actor = user_svc.get_user_by_username(session, "forste")
        g = session.get(Genomgang, gid)
        svc.record_result(session, actor, g, _first_case(session, gid, "Grupp 1"), "brist",
                          {"beslut": "Beslutet saknar motivering."})
        assert svc.record_remaining(session, actor, g, team="Grupp 1", expected=5) == 5
    results = _results(db, gid)
    group1 = [f"EB-{i:03d}" for i in range(2, 13, 2)]
    assert {ref: results.get(ref) for ref in group1} == {"EB-002": "brist", **{r: "utan_anmarkning" for r in group1[1:]}}
    assert not any(f"EB-{i:03d}" in results for i in range(1, 13, 2)), "Grupp 2 is untouched"
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "genomgang.results")).one()
    assert json.loads(entry.details) == {"cases": group1[1:], "count": 5, "result": "utan_anmarkning",
                                         "team": "Grupp 1"}

    prog = svc.progress(db, db.get(Genomgang, gid))
    assert [(t, done, total, brist) for t, _, done, total, brist in prog.per_team] == [
        ("Grupp 1", 6, 6, 1), ("Grupp 2", 0, 6, 0)]


def test_a_changed_count_nothing_left_or_a_stranger_changes_nothing(app, db, world, setup, checklists):
    gid = started(app, checklists)
    with get_database(app).session_scope() as session:
        g = session.get(Genomgang, gid)
        forste = user_svc.get_user_by_username(session, "forste")
        with pytest.raises(ValidationError, match="har ändrats sedan du valde"):
            svc.record_remaining(session, forste, g, handlaggare="BOBO", expected=7)
        with pytest.raises(PermissionDenied):
            svc.record_remaining(session, user_svc.get_user_by_username(session, "sektionschef"), g, expected=12)
        svc.record_remaining(session, forste, g, handlaggare="BOBO", expected=6)
        with pytest.raises(ValidationError, match="redan ett resultat"):
            svc.record_remaining(session, forste, g, handlaggare="BOBO", expected=0)
    assert len(_results(db, gid)) == 6


def test_over_http_the_work_list_offers_it_and_the_confirmation_names_the_count(app, client, db, setup, checklists):
    gid = started(app, checklists)
    login(client, "forste")
    page = client.get(f"{URL}/{gid}/arenden?grupp=Grupp+2").get_data(as_text=True)
    assert "6 ärenden i Grupp 2 saknar resultat" in page
    assert "Hur långt varje grupp har kommit" in page
    form = {"handlaggare": "", "grupp": "Grupp 2", "antal": "6"}
    first = post_form(client, f"{URL}/{gid}/arenden/utan-anmarkning", form, confirmed=False)
    html = first.get_data(as_text=True)
    assert first.status_code == 200 and "Registrera ”Utan anmärkning” för 6 ärenden?" in html
    assert "6 ärenden utan resultat i Grupp 2" in html
    assert _results(db, gid) == {}
    done = post_form(client, f"{URL}/{gid}/arenden/utan-anmarkning", form)
    assert done.status_code == 302 and "grupp=Grupp" in done.headers["Location"]
    assert "6 ärenden i Grupp 2 har fått resultatet" in client.get(done.headers["Location"]).get_data(as_text=True)
    assert len(_results(db, gid)) == 6
    # a form without the number it was shown is refused, not guessed
    refused = post_form(client, f"{URL}/{gid}/arenden/utan-anmarkning", {"grupp": "Grupp 1"})
    assert refused.status_code == 302
    assert "Antalet ärenden saknas" in client.get(refused.headers["Location"]).get_data(as_text=True)
    assert len(_results(db, gid)) == 6
    # a handläggare's selection is named as the work list names them
    asked = post_form(client, f"{URL}/{gid}/arenden/utan-anmarkning", {"handlaggare": "ANAN", "antal": "6"},
                      confirmed=False).get_data(as_text=True)
    assert "6 ärenden utan resultat i Anna A (ANAN) får resultatet" in asked
    # no form once nothing is left in the selection
    assert "saknar resultat. När ni" not in client.get(f"{URL}/{gid}/arenden?grupp=Grupp+2").get_data(as_text=True)


def test_who_is_not_a_participant_is_not_offered_it(app, client, db, world, setup, checklists):
    gid = started(app, checklists)
    login(client, "sektionschef")
    assert "Resten utan anmärkning" not in client.get(f"{URL}/{gid}/arenden").get_data(as_text=True)
    assert post_form(client, f"{URL}/{gid}/arenden/utan-anmarkning", {"antal": "12"}).status_code == 403
    assert _results(db, gid) == {}


@pytest.mark.concurrency
def test_the_bulk_and_a_single_result_at_the_same_time(app, db, setup, checklists):
    """Two participants at once: one records the rest of Grupp 1, the other a brist on a case of
    it. Whichever comes first, no result is lost or doubled and nothing fails: either the brist
    is recorded and the bulk is refused (its count changed), or the bulk is recorded and the
    brist replaces the one case's ”Utan anmärkning”."""
    gid = started(app, checklists)
    case_id = _first_case(db, gid, "Grupp 1")
    barrier = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def bulk() -> None:
        barrier.wait(10)  # before the session: on SQLite its first statement takes the write lock
        with get_database(app).session_scope() as session:
            g = session.get(Genomgang, gid)
            actor = user_svc.get_user_by_username(session, "forste")
            try:
                outcome["bulk"] = svc.record_remaining(session, actor, g, team="Grupp 1", expected=6)
            except ValidationError as err:
                outcome["bulk"] = err.message
                session.rollback()

    def single() -> None:
        barrier.wait(10)
        with get_database(app).session_scope() as session:
            g = session.get(Genomgang, gid)
            actor = user_svc.get_user_by_username(session, "forste2")
            svc.record_result(session, actor, g, case_id, "brist", {"beslut": "Motivering saknas."})
            outcome["single"] = "ok"

    threads = [threading.Thread(target=bulk), threading.Thread(target=single)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcome.get("single") == "ok"
    results = _results(db, gid)
    assert results["EB-002"] == "brist"
    if outcome["bulk"] == 6:
        assert sum(1 for v in results.values() if v == "utan_anmarkning") == 5
    else:
        assert "har ändrats" in str(outcome["bulk"]) and len(results) == 1
    assert db.scalar(select(func.count()).select_from(GenomgangResult).where(GenomgangResult.genomgang_id == gid)) == len(results)


def test_the_handlaggare_sees_brister_and_aterkoppling_on_their_own_cases(app, client, db, setup, checklists):
    gid = started(app, checklists)
    with get_database(app).session_scope() as session:
        actor = user_svc.get_user_by_username(session, "forste")
        g = session.get(Genomgang, gid)
        anna_case = _first_case(session, gid, "Grupp 1")  # EB-002, Anna's
        bo_case = _first_case(session, gid, "Grupp 2")  # EB-001, Bo's
        svc.record_result(session, actor, g, anna_case, "brist", {"beslut": "Beslutet saknar motivering."})
        svc.record_result(session, actor, g, bo_case, "brist", {"beslut": "Överklagandehänvisning saknas."})
        svc.record_feedback(session, actor, g, "ANAN", "2026-03-12", "Genomgång på gruppmöte.")
        for username in ("anna", "bo"):
            user_svc.set_password(session, "t", user_svc.get_user_by_username(session, username), "ett-bra-losenord")
    told = db.execute(select(User.username, Notification.title, Notification.link)
                      .join(User, User.id == Notification.user_id).where(Notification.kind == "feedback_given")).all()
    assert told == [("anna", "Återkoppling från genomgången 2026-03-10", "/aterkoppling")]
    login(client, "anna")
    assert "Återkoppling på mina ärenden" in client.get("/").get_data(as_text=True)
    html = client.get("/aterkoppling").get_data(as_text=True)
    assert "Genomgång 2026-03-10 – IFO-FS (pågår)" in html
    assert "6 ärenden" in html and "EB-002, beslut" in html and "Beslutet saknar motivering." in html
    assert "2026-03-12: Genomgång på gruppmöte." in html
    assert "EB-001" not in html and "Överklagandehänvisning saknas." not in html
    client.post("/logga-ut", data={"csrf_token": csrf_from(html)})
    login(client, "bo")
    html = client.get("/aterkoppling").get_data(as_text=True)
    assert "Överklagandehänvisning saknas." in html and "Beslutet saknar motivering." not in html
    assert "Ingen återkoppling är registrerad ännu." in html
