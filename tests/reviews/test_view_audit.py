"""Views of case-level pages are in the audit log: who looked at which case, draw, list or review."""

from __future__ import annotations

from sqlalchemy import select

from kontroll.cases.models import CaseListSnapshot
from kontroll.core.models import AuditEntry
from tests.conftest import login
from tests.reviews.conftest import open_review


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
    assert client.get(f"/enheter/IFO-FS/arenden/{drawn['refs'][1]}").status_code == 200
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
