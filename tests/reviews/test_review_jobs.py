"""Scheduled reminders for late reviews, overdue åtgärder and templates past revision, and
the start page's flags for them (fixed dates, no dependence on today)."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select

from kontroll.core import users as user_svc
from kontroll.core.models import Notification
from kontroll.db import get_database
from kontroll.jobs import run_job
from kontroll.reviews import services as svc
from kontroll.reviews.models import Brist, Review
from tests.support.reviews import full_form, open_review, template
from tests.support.web import login


def _notes(db, kind):
    db.expire_all()
    return sorted((n.user_id, n.title) for n in db.scalars(select(Notification).where(Notification.kind == kind)))


def _sign_with_deviation(app, drawn, checklists, case=0):
    review_id = open_review(app, "enhetschef", drawn["cases"][case], checklists)
    form = full_form(checklists, "ansokan-undertecknad")
    with get_database(app).session_scope() as session:
        review = session.get(Review, review_id)
        svc.sign(session, user_svc.get_user_by_username(session, "enhetschef"), review,
                 svc.answers_from_form(template(checklists), form))
    return review_id


def test_late_reviews_reminds_reviewer_and_sektionschef_once(app, db, world, drawn, checklists):
    database = get_database(app)
    # December's draw is due by the end of January: nothing on 2027-01-31
    run_job(database, "late_reviews", dt.date(2027, 1, 31), app.config)
    assert _notes(db, "review_late") == []
    _sign_with_deviation(app, drawn, checklists, case=0)  # one of the two is signed in time
    run_job(database, "late_reviews", dt.date(2027, 2, 1), app.config)
    notes = _notes(db, "review_late")
    ids = {world["enhetschef"].id, world["sektionschef"].id}
    assert {u for u, _ in notes} == ids and len(notes) == 2
    assert all(drawn["refs"][1] in title for _, title in notes)
    run_job(database, "late_reviews", dt.date(2027, 2, 2), app.config)
    assert len(_notes(db, "review_late")) == 2  # no second reminder


def test_overdue_atgard_reminds_owner_and_sektionschef_and_shows_on_the_start_page(app, db, client, world, drawn,
                                                                                    checklists, monkeypatch):
    _sign_with_deviation(app, drawn, checklists)
    with get_database(app).session_scope() as session:
        unit = user_svc.get_unit_by_code(session, "IFO-FS")
        svc.open_atgard(session, user_svc.get_user_by_username(session, "sektionschef"), unit,
                        [session.scalar(select(Brist.id))], "Påminn om underskrift av ansökan.",
                        user_svc.get_user_by_username(session, "forste"), dt.date(2026, 12, 20),
                        today=dt.date(2026, 12, 1))
    database = get_database(app)
    run_job(database, "overdue_atgarder", dt.date(2026, 12, 20), app.config)
    assert _notes(db, "atgard_overdue") == []
    run_job(database, "overdue_atgarder", dt.date(2026, 12, 21), app.config)
    assert {u for u, _ in _notes(db, "atgard_overdue")} == {world["forste"].id, world["sektionschef"].id}
    run_job(database, "overdue_atgarder", dt.date(2026, 12, 22), app.config)
    assert len(_notes(db, "atgard_overdue")) == 2
    # the start page's to-dos: the owner's åtgärd is late from the day after its due date, and
    # only then is it on the sektionschef's list (the same people the reminder went to)
    from kontroll.core import views as core_views

    late_tag = 'tag-bad">Försenad</span> skulle vara klar 2026-12-20'
    for today, overdue in ((dt.date(2026, 12, 20), False), (dt.date(2026, 12, 21), True)):
        monkeypatch.setattr(core_views, "local_today", lambda today=today: today)
        pages = {}
        for username in ("sektionschef", "forste", "enhetschef"):
            c = app.test_client()
            login(c, username)
            pages[username] = c.get("/").get_data(as_text=True)
        assert "Genomför åtgärden: Påminn om underskrift av ansökan." in pages["forste"]
        assert (late_tag in pages["forste"]) is overdue, today
        assert ("Försenad åtgärd (" in pages["sektionschef"] and late_tag in pages["sektionschef"]) is overdue, today
        assert "Påminn om underskrift" not in pages["enhetschef"]


def _age_templates(checklists):
    for path in checklists.glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"(?m)^\"fastställd\" = .*$", "\"fastställd\" = 2024-01-15", text)
        text = re.sub(r"(?m)^revideras_senast = .*$", "revideras_senast = 2025-01-15", text)
        path.write_text(text, encoding="utf-8")


def test_template_past_revision_reminds_and_warns_sektionschef_and_sysadmin(app, db, client, world, checklists):
    database = get_database(app)
    run_job(database, "template_revision", dt.date(2026, 6, 1), app.config)
    assert _notes(db, "template_revision") == []  # revideras_senast 2027-01-15
    run_job(database, "template_revision", dt.date(2027, 1, 16), app.config)
    users = {u for u, _ in _notes(db, "template_revision")}
    assert users == {world["sektionschef"].id, world["sysadmin"].id}
    assert db.scalar(select(func.count()).select_from(Notification)) == 4  # two templates × two people
    _age_templates(checklists)
    for username, warned in (("sektionschef", True), ("sysadmin", True), ("forste", False), ("namnd", False)):
        c = app.test_client()
        login(c, username)
        page = c.get("/").get_data(as_text=True)
        assert ("Revidera mallen ”Stickprovsgranskning – försörjningsstöd”" in page) is warned, username
