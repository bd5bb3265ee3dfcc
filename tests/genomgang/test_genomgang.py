"""Performing a genomgång: start from the latest snapshot with participants, record results,
brister in the unit's brist list, återkoppling, closing only when complete, read-only after —
through the services and crafted HTTP requests — and who may do what."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from kontroll.checklists import services as checklists_svc
from kontroll.core import users as user_svc
from kontroll.core.errors import ValidationError
from kontroll.core.models import AuditEntry
from kontroll.core.permissions import PermissionDenied
from kontroll.db import get_database
from kontroll.genomgang import services as svc
from kontroll.genomgang.models import Genomgang, GenomgangClosedError, GenomgangFeedback, GenomgangResult
from kontroll.checklists.models import TemplateVersion
from kontroll.reviews.models import Brist
from kontroll.cases.models import SnapshotCase
from tests.support.draws import case_list
from tests.support.genomgang import import_list, planned, started
from tests.support.web import csrf_from, login, post_form


def _post(client, url, data, page="/"):
    return post_form(client, url, data, page=page)


def _count(db, model, *where):
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model).where(*where))


def _case_ids(db, gid):
    g = db.get(Genomgang, gid)
    return list(db.scalars(select(SnapshotCase.id).where(SnapshotCase.snapshot_id == g.snapshot_id)
                           .order_by(SnapshotCase.case_ref)))


def _record_all(app, gid, ids, who="forste"):
    with get_database(app).session_scope() as session:
        actor = user_svc.get_user_by_username(session, who)
        g = session.get(Genomgang, gid)
        for cid in ids:
            svc.record_result(session, actor, g, cid, "utan_anmarkning", {})


URL = "/enheter/IFO-FS/genomgangar"


# --- starting -----------------------------------------------------------------------------


def test_start_freezes_the_template_and_the_latest_snapshot(app, db, setup, checklists):
    gid = started(app, checklists)
    g = db.get(Genomgang, gid)
    assert g.state == "pågående" and g.case_count == 12
    tv = db.get(TemplateVersion, g.template_version_id)
    assert tv.template_id == "genomgang-forsorjningsstod" and tv.kind == "genomgång"
    assert sorted(u.username for u in g.participants) == ["forste", "forste2"]
    assert "genomgang.start" in [e.action for e in db.scalars(select(AuditEntry))]


def test_start_needs_two_forste_of_the_unit(app, db, world, setup, checklists):
    gid = planned(app)
    with get_database(app).session_scope() as session:
        g = session.get(Genomgang, gid)
        me = user_svc.get_user_by_username(session, "forste")
        template = checklists_svc.genomgang_template(checklists)
        with pytest.raises(ValidationError, match="minst 2 förste socialsekreterare"):
            svc.start(session, me, g, [me], template)
        other = user_svc.get_user_by_username(session, "forste.int")
        with pytest.raises(ValidationError, match="förste socialsekreterare i enheten"):
            svc.start(session, me, g, [me, other], template)
        svc.start(session, me, g, [me], template, min_participants=1)  # configurable per call
    assert db.get(Genomgang, gid).state == "pågående"


def test_start_over_http_keeps_the_choice_and_honours_the_config(app, client, db, setup, checklists):
    gid = planned(app)
    login(client, "forste")
    page = client.get(f"{URL}/{gid}").get_data(as_text=True)
    assert "Starta genomgången" in page and "Förste Två" in page
    ids = [str(setup["forste2"].id)]
    resp = _post(client, f"{URL}/{gid}/starta", {"participants": ids})
    assert resp.status_code == 422 and "minst 2 förste" in resp.get_data(as_text=True)
    assert _count(db, TemplateVersion) == 0 and db.get(Genomgang, gid).state == "planerad"
    app.config["GENOMGANG_MIN_PARTICIPANTS"] = 1
    resp = _post(client, f"{URL}/{gid}/starta", {"participants": ids})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/genomgangar/{gid}/arenden")


# --- recording and brister ---------------------------------------------------------------


def test_recording_results_and_brister_in_the_unit_brist_list(app, client, db, setup, checklists):
    gid = started(app, checklists)
    ids = _case_ids(db, gid)
    login(client, "forste")
    work = client.get(f"{URL}/{gid}/arenden").get_data(as_text=True)
    assert "0 av 12 ärenden har resultat" in work and "EB-001" in work
    # a brist without a comment is refused and nothing is stored
    resp = _post(client, f"{URL}/{gid}/arenden/{ids[0]}", {"result": "brist", "brist-beslut": "1"})
    assert resp.status_code == 422 and "Beskriv bristen i ”Beslut”" in resp.get_data(as_text=True)
    assert _count(db, GenomgangResult) == 0 and _count(db, Brist) == 0
    resp = _post(client, f"{URL}/{gid}/arenden/{ids[0]}", {"result": "brist"})
    assert resp.status_code == 422 and "Markera minst ett område" in resp.get_data(as_text=True)
    resp = _post(client, f"{URL}/{gid}/arenden/{ids[0]}", {"result": "utan_anmarkning", "brist-beslut": "1",
                                                           "kommentar-beslut": "x"})
    assert resp.status_code == 422
    # a brist in two areas
    resp = _post(client, f"{URL}/{gid}/arenden/{ids[0]}", {
        "result": "brist", "brist-beslut": "1", "kommentar-beslut": "Fel delegat.",
        "brist-aktanteckningar": "1", "kommentar-aktanteckningar": "Anteckning saknas.",
        "kommentar-process": "ignoreras utan markering"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/arenden/{ids[1]}")  # the next case
    resp = _post(client, f"{URL}/{gid}/arenden/{ids[1]}", {"result": "utan_anmarkning"})
    assert resp.status_code == 302
    brister = list(db.scalars(select(Brist).order_by(Brist.area_key)))
    assert [(b.area_key, b.comment, b.review_id) for b in brister] == [
        ("aktanteckningar", "Anteckning saknas.", None), ("beslut", "Fel delegat.", None)]
    assert all(b.genomgang_result_id is not None and b.answer == "nej" for b in brister)
    # the unit's brist list shows them, and the sektionschef can open an åtgärd for them
    client.post("/logga-ut", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    login(client, "sektionschef")
    page = client.get("/enheter/IFO-FS/brister").get_data(as_text=True)
    assert "Fel delegat." in page and "Anteckning saknas." in page and "EB-001" in page and "Genomgång" in page
    resp = _post(client, "/enheter/IFO-FS/atgarder", {
        "brister": [str(b.id) for b in brister], "description": "Genomgång av delegationsordningen.",
        "owner": str(user_svc.get_user_by_username(db, "sektionschef").id),
        "due_date": (dt.date.today() + dt.timedelta(days=30)).isoformat()}, page="/enheter/IFO-FS/brister")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    detail = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "EB-001" in detail
    # progress per handläggare, by SQL
    g = db.get(Genomgang, gid)
    prog = svc.progress(db, g)
    assert (prog.done, prog.total, prog.brist) == (2, 12, 1)
    assert {p[0]: p[2:] for p in prog.per_handlaggare} == {"ANAN": (1, 6, 0), "BOBO": (1, 6, 1)}
    # once an åtgärd exists, the result cannot be changed
    with get_database(app).session_scope() as session:
        with pytest.raises(ValidationError, match="åtgärd är redan öppnad"):
            svc.record_result(session, user_svc.get_user_by_username(session, "forste"), session.get(Genomgang, gid),
                              ids[0], "utan_anmarkning", {})


def test_changing_a_result_replaces_its_brister(app, db, setup, checklists):
    gid = started(app, checklists)
    cid = _case_ids(db, gid)[0]
    with get_database(app).session_scope() as session:
        me = user_svc.get_user_by_username(session, "forste2")
        g = session.get(Genomgang, gid)
        svc.record_result(session, me, g, cid, "brist", {"beslut": "Fel."})
        svc.record_result(session, me, g, cid, "utan_anmarkning", {})
    assert _count(db, Brist) == 0 and _count(db, GenomgangResult) == 1


def test_only_participants_record(app, db, world, setup, checklists):
    gid = planned(app)
    with get_database(app).session_scope() as session:
        g = session.get(Genomgang, gid)
        me = user_svc.get_user_by_username(session, "forste")
        svc.start(session, me, g, [me], checklists_svc.genomgang_template(checklists), min_participants=1)
    cid = _case_ids(db, gid)[0]
    with get_database(app).session_scope() as session:
        with pytest.raises(PermissionDenied, match="deltagare"):
            svc.record_result(session, user_svc.get_user_by_username(session, "forste2"), session.get(Genomgang, gid),
                              cid, "utan_anmarkning", {})


def test_work_list_filters_and_pages(app, db, setup, checklists):
    gid = started(app, checklists)
    g = db.get(Genomgang, gid)
    assert svc.work_count(db, g) == 12 and svc.work_count(db, g, handlaggare="ANAN") == 6
    assert svc.work_count(db, g, team="Grupp 2") == 6
    rows = svc.work_list(db, g, handlaggare="BOBO", page=2, page_size=4)
    assert [r.case_ref for r in rows] == ["EB-009", "EB-011"] and rows[0].handlaggare == "Bo B (BOBO)"
    assert svc.teams_in(db, g) == ["Grupp 1", "Grupp 2"]


# --- återkoppling ----------------------------------------------------------------------------


def test_feedback_per_handlaggare(app, client, db, setup, checklists):
    gid = started(app, checklists)
    login(client, "forste")
    resp = _post(client, f"{URL}/{gid}/aterkoppling", {"handlaggare": "ANAN", "given_on": "2026-03-12",
                                                       "note": "Genomgång på gruppmöte."})
    assert resp.status_code == 302
    resp = _post(client, f"{URL}/{gid}/aterkoppling", {"handlaggare": "NOBODY", "given_on": "2026-03-12"})
    assert resp.status_code == 422
    resp = _post(client, f"{URL}/{gid}/aterkoppling", {"handlaggare": "ANAN", "given_on": "2999-01-01"})
    assert resp.status_code == 422 and "framtiden" in resp.get_data(as_text=True)
    assert _count(db, GenomgangFeedback) == 1
    page = client.get(f"{URL}/{gid}").get_data(as_text=True)
    assert "2026-03-12 (Genomgång på gruppmöte.)" in page


# --- closing ---------------------------------------------------------------------------------


def test_cannot_close_with_cases_left(app, client, db, setup, checklists):
    gid = started(app, checklists)
    ids = _case_ids(db, gid)
    _record_all(app, gid, ids[:-1])
    with get_database(app).session_scope() as session:
        with pytest.raises(ValidationError, match="1 ärende saknar resultat \\(11 av 12 klara\\)"):
            svc.close(session, user_svc.get_user_by_username(session, "forste"), session.get(Genomgang, gid))
    login(client, "forste")
    resp = _post(client, f"{URL}/{gid}/stang", {})
    assert resp.status_code == 422 and "1 ärende saknar resultat" in resp.get_data(as_text=True)
    db.expire_all()
    assert db.get(Genomgang, gid).state == "pågående"


def test_closed_is_read_only_for_services_and_crafted_requests(app, client, db, setup, checklists):
    gid = started(app, checklists)
    ids = _case_ids(db, gid)
    _record_all(app, gid, ids)
    login(client, "forste")
    resp = _post(client, f"{URL}/{gid}/stang", {})
    assert resp.status_code == 302
    db.expire_all()
    assert db.get(Genomgang, gid).state == "stängd"
    before = (_count(db, GenomgangResult), _count(db, Brist), _count(db, GenomgangFeedback))
    # crafted requests
    resp = _post(client, f"{URL}/{gid}/arenden/{ids[0]}", {"result": "brist", "brist-beslut": "1",
                                                           "kommentar-beslut": "Sent."})
    assert resp.status_code == 422 and "stängd" in resp.get_data(as_text=True)
    resp = _post(client, f"{URL}/{gid}/aterkoppling", {"handlaggare": "ANAN", "given_on": "2026-03-12"})
    assert resp.status_code == 422
    resp = _post(client, f"{URL}/{gid}/stang", {})
    assert resp.status_code == 422
    resp = _post(client, f"{URL}/{gid}/ta-bort", {})
    assert resp.status_code == 302
    assert (_count(db, GenomgangResult), _count(db, Brist), _count(db, GenomgangFeedback)) == before
    assert _count(db, Genomgang) == 1
    page = client.get(f"{URL}/{gid}/arenden/{ids[0]}").get_data(as_text=True)
    assert "stängd och kan inte ändras" in page and 'name="result"' not in page
    # the services refuse, and the flush guard refuses a direct change
    with get_database(app).session_scope() as session:
        me = user_svc.get_user_by_username(session, "forste")
        g = session.get(Genomgang, gid)
        with pytest.raises(ValidationError, match="stängd"):
            svc.record_result(session, me, g, ids[0], "utan_anmarkning", {})
    with pytest.raises(GenomgangClosedError):
        with get_database(app).session_scope() as session:
            row = session.scalar(select(GenomgangResult).where(GenomgangResult.genomgang_id == gid))
            row.result = "brist"
            session.flush()
    with pytest.raises(GenomgangClosedError):
        with get_database(app).session_scope() as session:
            session.get(Genomgang, gid).state = "pågående"
            session.flush()


def test_cases_added_later_are_not_included_and_the_difference_is_shown(app, client, db, setup, checklists):
    gid = started(app, checklists)
    import_list(app, case_list(14))
    g = db.get(Genomgang, gid)
    assert svc.work_count(db, g) == 12
    latest, diff = svc.live_diff(db, g)
    assert diff.added == ["EB-013", "EB-014"] and diff.removed == []
    login(client, "forste")
    page = client.get(f"{URL}/{gid}").get_data(as_text=True)
    assert "En nyare ärendelista importerades" in page and "2 nya, 0 borttagna" in page and "EB-013, EB-014" in page


# --- the year plan ---------------------------------------------------------------------------


def test_year_page_plans_and_warns(app, client, db, setup, checklists):
    login(client, "sektionschef")
    resp = _post(client, URL, {"planned_on": "2026-10-06"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("?ar=2026")
    page = client.get(f"{URL}?ar=2026").get_data(as_text=True)
    assert "0 av minst 4 genomförda, 1 planerad – målet nås inte" in page
    assert "Ingen genomgång under första halvåret." in page
    assert "Stickprov per månad" in page and "december 2026" in page
    resp = _post(client, URL, {"planned_on": "2026-10-06"})
    assert resp.status_code == 422 and "Det finns redan en genomgång den 2026-10-06" in resp.get_data(as_text=True)
    resp = _post(client, URL, {"planned_on": "inte ett datum"})
    assert resp.status_code == 422
    assert _count(db, Genomgang) == 1
    gid = db.scalar(select(Genomgang.id))
    assert _post(client, f"{URL}/{gid}/ta-bort", {}).status_code == 302
    assert _count(db, Genomgang) == 0
    # the unit page has the year section
    overview = client.get("/enheter/IFO-FS").get_data(as_text=True)
    assert "genomgångar och stickprov" in overview


def test_a_started_genomgang_cannot_be_unplanned(app, db, setup, checklists):
    gid = started(app, checklists)
    with get_database(app).session_scope() as session:
        with pytest.raises(ValidationError, match="påbörjad"):
            svc.unplan(session, user_svc.get_user_by_username(session, "forste"), session.get(Genomgang, gid))


# --- the permission matrix -------------------------------------------------------------------

VIEW = {"sektionschef": 200, "forste": 200, "enhetschef": 200, "revisor": 200, "administrator": 403,
        "handlaggare": 403, "namnd": 403, "forste.int": 403, "sysadmin": 403}


@pytest.mark.parametrize(("username", "status"), sorted(VIEW.items()))
def test_who_sees_the_year_plan_the_genomgang_and_the_work_list(app, client, db, setup, checklists, username, status):
    gid = started(app, checklists)
    cid = _case_ids(db, gid)[0]
    login(client, username)
    for url in (f"{URL}?ar=2026", f"{URL}/{gid}", f"{URL}/{gid}/arenden", f"{URL}/{gid}/arenden/{cid}"):
        assert client.get(url).status_code == status, url


PLAN = {"sektionschef": 302, "forste": 302, "enhetschef": 403, "revisor": 403, "handlaggare": 403, "namnd": 403,
        "forste.int": 403, "administrator": 403}


@pytest.mark.parametrize(("username", "status"), sorted(PLAN.items()))
def test_who_plans(app, client, db, setup, username, status):
    login(client, username)
    assert _post(client, URL, {"planned_on": "2026-05-05"}).status_code == status
    assert _count(db, Genomgang) == (1 if status == 302 else 0)


@pytest.mark.parametrize("username", ["sektionschef", "enhetschef", "revisor", "handlaggare", "namnd", "forste.int"])
def test_only_forste_of_the_unit_perform(app, client, db, setup, checklists, username):
    gid = planned(app)
    login(client, username)
    ids = [str(u.id) for u in db.scalars(select(user_svc.User).where(user_svc.User.username.in_(["forste", "forste2"])))]
    assert _post(client, f"{URL}/{gid}/starta", {"participants": ids}).status_code == 403
    assert db.get(Genomgang, gid).state == "planerad"
    with get_database(app).session_scope() as session:
        me = user_svc.get_user_by_username(session, "forste")
        g = session.get(Genomgang, gid)
        svc.start(session, me, g, [me, user_svc.get_user_by_username(session, "forste2")],
                  checklists_svc.genomgang_template(checklists))
    cid = _case_ids(db, gid)[0]
    assert _post(client, f"{URL}/{gid}/arenden/{cid}", {"result": "utan_anmarkning"}).status_code == 403
    assert _post(client, f"{URL}/{gid}/stang", {}).status_code == 403
    assert _post(client, f"{URL}/{gid}/aterkoppling", {"handlaggare": "ANAN", "given_on": "2026-03-12"}).status_code == 403
    assert _count(db, GenomgangResult) == 0 and _count(db, GenomgangFeedback) == 0


def test_a_genomgang_of_another_unit_is_404(app, client, db, setup, checklists):
    gid = started(app, checklists)
    login(client, "forste.int")
    assert client.get(f"/enheter/INT/genomgangar/{gid}").status_code == 404
    assert client.get(f"/enheter/INT/genomgangar/{gid}/arenden").status_code == 404
    assert client.get("/enheter/FINNS-INTE/genomgangar").status_code == 404
