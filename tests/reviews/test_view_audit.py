"""Views of case-level pages are in the audit log: who looked at which case, draw, list or review."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from kontroll.checklists import services as checklists_svc
from kontroll.cases.models import CaseListSnapshot
from kontroll.core import users as user_svc
from kontroll.core.models import AuditEntry, User
from kontroll.db import get_database
from kontroll.reviews import services as svc
from kontroll.reviews.models import Brist, Review
from kontroll.sampling.models import Draw
from tests.support.reviews import full_form, open_review
from tests.support.web import login


def _views(db, action):
    db.expire_all()
    return [(e.actor_label, e.object_type, e.object_id)
            for e in db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))]


def test_case_level_page_views_are_audited(app, db, client, drawn, checklists):
    snapshot_id = db.scalar(select(CaseListSnapshot.id))
    review_id = open_review(app, "enhetschef", drawn["cases"][0], checklists)
    login(client, "enhetschef")
    assert client.get(f"/enheter/IFO-FS/stickprov/{drawn['draw_id']}").status_code == 200
    assert client.get(f"/enheter/IFO-FS/arendelistor/{snapshot_id}").status_code == 200
    assert client.get(f"/enheter/IFO-FS/arende?ref={drawn['refs'][1]}").status_code == 200
    assert client.get(f"/granskningar/arende/{drawn['cases'][1]}").status_code == 200
    assert client.get(f"/granskningar/{review_id}").status_code == 200
    assert _views(db, "draw.view") == [("enhetschef", "draw", str(drawn["draw_id"]))]
    assert _views(db, "caselist.view") == [("enhetschef", "case_list_snapshot", str(snapshot_id))]
    assert _views(db, "case.view") == [("enhetschef", "case", drawn["refs"][1])] * 2
    assert _views(db, "review.view") == [("enhetschef", "review", str(review_id))]


def test_a_refused_view_is_not_logged_as_a_view(app, db, client, drawn, checklists):
    login(client, "handlaggare")
    assert client.get(f"/enheter/IFO-FS/stickprov/{drawn['draw_id']}").status_code == 403
    assert _views(db, "draw.view") == []


def test_every_page_that_lists_case_references_is_audited(app, db, client, drawn, checklists):
    """The month overview, Mina granskningar, brister and an åtgärd name cases: each view is
    in the audit log (the probe found them unlogged)."""
    review_id = open_review(app, "enhetschef", drawn["cases"][0], checklists)
    first_key = next(iter(f for f in full_form(checklists) if f.startswith("svar-")))[5:]
    form = full_form(checklists, deviation_on=first_key)
    with get_database(app).session_scope() as session:
        review = session.get(Review, review_id)
        answers = svc.answers_from_form(checklists_svc.template_of(review.template_version), form)
        svc.sign(session, user_svc.get_user_by_username(session, "enhetschef"), review, answers)
    with get_database(app).session_scope() as session:
        brist = session.scalar(select(Brist))
        unit = user_svc.get_unit_by_code(session, "IFO-FS")
        atgard_id = svc.open_atgard(session, user_svc.get_user_by_username(session, "sektionschef"), unit,
                                    [brist.id], "Gå igenom rutinen.", user_svc.get_user_by_username(session, "enhetschef"),
                                    dt.date.today() + dt.timedelta(days=30)).id
    login(client, "enhetschef")
    assert client.get("/granskningar").status_code == 200
    period = db.get(Draw, drawn["draw_id"]).period
    assert client.get(f"/enheter/IFO-FS/granskningar?period={period}").status_code == 200
    assert client.get("/enheter/IFO-FS/brister").status_code == 200
    assert client.get(f"/enheter/IFO-FS/atgarder/{atgard_id}").status_code == 200
    enhetschef = str(db.scalar(select(User.id).where(User.username == "enhetschef")))
    assert _views(db, "review.list_view") == [("enhetschef", "user", enhetschef)]
    assert _views(db, "review.overview_view") == [("enhetschef", "period", period)]
    assert [v[0] for v in _views(db, "brist.list_view")] == ["enhetschef"]
    assert _views(db, "atgard.view") == [("enhetschef", "atgard", str(atgard_id))]
