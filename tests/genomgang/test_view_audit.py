"""The genomgång's case list and case pages are case-level pages: their views are audited."""

from __future__ import annotations

from sqlalchemy import select

from kontroll.core.models import AuditEntry
from kontroll.genomgang.models import Genomgang
from kontroll.cases.models import SnapshotCase
from tests.support.genomgang import started
from tests.support.web import login

URL = "/enheter/IFO-FS/genomgangar"


def test_genomgang_case_views_are_audited(app, client, db, setup, checklists):
    gid = started(app, checklists)
    g = db.get(Genomgang, gid)
    case = db.scalars(select(SnapshotCase).where(SnapshotCase.snapshot_id == g.snapshot_id)
                      .order_by(SnapshotCase.case_ref)).first()
    login(client, "forste")
    assert client.get(f"{URL}/{gid}/arenden").status_code == 200
    assert client.get(f"{URL}/{gid}/arenden/{case.id}").status_code == 200
    db.expire_all()
    got = [(e.action, e.object_type, e.object_id)
           for e in db.scalars(select(AuditEntry).where(AuditEntry.action.like("genomgang.%view")).order_by(AuditEntry.id))]
    assert got == [("genomgang.cases_view", "genomgang", str(gid)), ("genomgang.case_view", "case", case.case_ref)]
