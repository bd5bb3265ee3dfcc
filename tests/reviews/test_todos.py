"""Each person's to-do list: every kind appears for the people who have it and disappears when it
is done; the reminders are exactly to-dos whose day has come (the page and the e-mails never
disagree); the start page's texts follow the unit's settings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from kontroll.core import users as user_svc
from kontroll.core.models import Notification
from kontroll.core.todos import todos_for
from kontroll.db import get_database
from kontroll.jobs import JOBS, run_job
from kontroll.reviews import services as svc
from kontroll.reviews.models import Atgard, Brist, Review
from kontroll.sampling.models import DrawnCase
from tests.support.draws import draw_as
from tests.support.reviews import assign, full_form, open_review, template
from tests.support.web import login

DEC = dt.date(2026, 12, 7)


def _todos(app, username: str, today: dt.date) -> list:
    with app.app_context(), get_database(app).session_scope() as session:
        user = user_svc.get_user_by_username(session, username)
        return todos_for(session, user, today, app.config)


#: the to-dos of the year (the bedömning, the genomgång plan) are left out where a test is about the month
MONTH = {"caselist", "draw", "assign", "review", "review_late", "feedback", "atgard", "atgard_late", "verify", "brist"}


def _titles(app, username: str, today: dt.date = DEC, kinds: set[str] = MONTH) -> list[str]:
    return [t.title for t in _todos(app, username, today) if t.kind in kinds]


def _sign(app, review_id, checklists, deviation_on=None):
    with get_database(app).session_scope() as session:
        review = session.get(Review, review_id)
        svc.sign(session, user_svc.get_user_by_username(session, "enhetschef"), review,
                 svc.answers_from_form(template(checklists), full_form(checklists, deviation_on)))


def test_the_month_from_the_drawers_and_assigners_lists(app, db, world, unit_setup, checklists):
    # the list was imported this month: only the draw is to do
    assert _titles(app, "sektionschef") == ["Dra stickprovet för december 2026 (IFO-FS)"]
    assert _titles(app, "forste") == []
    # a new month with December's list: the list and the draw are to do, each for its people
    january = dt.date(2027, 1, 5)
    assert "Importera ärendelistan för januari 2027 (IFO-FS)" in _titles(app, "forste", january)
    assert "Dra stickprovet för januari 2027 (IFO-FS)" in _titles(app, "sektionschef", january)
    # INT is drawn by its administratör, never by IFO-FS's sektionschef
    assert _titles(app, "administrator") == ["Importera ärendelistan för december 2026 (INT)",
                                             "Dra stickprovet för december 2026 (INT)"]

    draw_id = draw_as(app, "sektionschef", "2026-12")
    assert _titles(app, "sektionschef") == ["Utse granskare för 2 ärenden i stickprovet för december 2026 (IFO-FS)"]
    refs = list(db.scalars(select(DrawnCase.case_ref).where(DrawnCase.draw_id == draw_id)))
    assign(app, draw_id, refs[0], "enhetschef")
    assert _titles(app, "sektionschef") == ["Utse granskare för 1 ärende i stickprovet för december 2026 (IFO-FS)"]
    assign(app, draw_id, refs[1], "enhetschef")
    assert _titles(app, "sektionschef") == []


def test_the_reviewers_list_from_assignment_to_aterkoppling(app, db, world, drawn, checklists):
    first, second = drawn["refs"]
    assert sorted(_titles(app, "enhetschef")) == sorted([f"Granska {first} (IFO-FS, december 2026)",
                                                         f"Granska {second} (IFO-FS, december 2026)"])
    assert {t.due for t in _todos(app, "enhetschef", DEC)} == {dt.date(2027, 1, 31)}
    review_id = open_review(app, "enhetschef", drawn["cases"][0], checklists)
    with get_database(app).session_scope() as session:
        svc.save_draft(session, user_svc.get_user_by_username(session, "enhetschef"), session.get(Review, review_id),
                       svc.answers_from_form(template(checklists), {}))
    assert f"Slutför granskningen av {first} (IFO-FS, december 2026)" in _titles(app, "enhetschef")
    _sign(app, review_id, checklists)
    feedback = [t for t in _todos(app, "enhetschef", DEC) if t.kind == "feedback"]
    assert [t.title for t in feedback] == [f"Ge återkoppling till Anna A (ANAN) om {first}"] or \
        [t.title for t in feedback] == [f"Ge återkoppling till Bo B (BOBO) om {first}"]
    with get_database(app).session_scope() as session:
        svc.record_feedback(session, user_svc.get_user_by_username(session, "enhetschef"),
                            session.get(Review, review_id), DEC, "muntligt", "", today=DEC)
    assert _titles(app, "enhetschef") == [f"Granska {second} (IFO-FS, december 2026)"]
    # late from February: the reviewer's item turns late and the sektionschef gets one too
    february = dt.date(2027, 2, 1)
    late = [t for t in _todos(app, "enhetschef", february) if t.kind in MONTH]
    assert [t.is_late(february) for t in late] == [True]
    assert [t for t in _titles(app, "sektionschef", february) if "granskning" in t] == [
        f"Försenad granskning av {second} (IFO-FS, december 2026; Enhetschef)"]


def test_brist_atgard_and_its_verification(app, db, world, drawn, checklists):
    review_id = open_review(app, "enhetschef", drawn["cases"][0], checklists)
    _sign(app, review_id, checklists, deviation_on="ansokan-undertecknad")
    assert "Besluta om åtgärder för 1 brist utan åtgärd (IFO-FS)" in _titles(app, "sektionschef")
    with get_database(app).session_scope() as session:
        get = lambda name: user_svc.get_user_by_username(session, name)  # noqa: E731
        atgard = svc.open_atgard(session, get("sektionschef"), get("sektionschef").role_assignments[0].unit,
                                 [session.scalar(select(Brist.id))], "Påminn om underskrift av ansökan.", get("forste"),
                                 dt.date(2026, 12, 20), today=DEC)
        atgard_id = atgard.id
    assert not [t for t in _titles(app, "sektionschef") if t.startswith("Besluta om åtgärder")]
    assert "Genomför åtgärden: Påminn om underskrift av ansökan." in _titles(app, "forste")
    todo = next(t for t in _todos(app, "forste", DEC) if t.kind == "atgard")
    assert "skulle ha varit" not in todo.detail, "not late yet: the page does not say it is"
    assert todo.reminder_detail == ("Åtgärden ”Påminn om underskrift av ansökan.” skulle ha varit genomförd "
                                    "2026-12-20."), "the reminder, sent the day after, does"
    with get_database(app).session_scope() as session:
        svc.complete_atgard(session, user_svc.get_user_by_username(session, "forste"),
                            session.get(Atgard, atgard_id),
                            "Alla handläggare påminda på APT.")
    check = "Kontrollera att åtgärden fungerade: Påminn om underskrift av ansökan."
    assert check in _titles(app, "sektionschef") and check in _titles(app, "enhetschef")
    assert check not in _titles(app, "forste")  # never one's own
    assert not [t for t in _titles(app, "forste") if t.startswith("Genomför åtgärden")]


def test_every_reminder_is_a_todo_of_its_person_that_day(app, db, world, drawn, checklists):
    """Run every reminder job over three months and check each new notification against the
    person's to-do list that day: same link, same title."""
    review_id = open_review(app, "enhetschef", drawn["cases"][0], checklists)
    _sign(app, review_id, checklists, deviation_on="ansokan-undertecknad")
    with get_database(app).session_scope() as session:
        get = lambda name: user_svc.get_user_by_username(session, name)  # noqa: E731
        svc.open_atgard(session, get("sektionschef"), get("sektionschef").role_assignments[0].unit,
                        [session.scalar(select(Brist.id))], "Påminn om underskrift.", get("forste"),
                        dt.date(2026, 12, 20), today=DEC)
    database = get_database(app)
    reminders = [name for name, spec in JOBS.items() if name not in ("send_email", "purge_sessions", "purge_previews")]
    day, checked = dt.date(2026, 12, 1), 0
    db.expire_all()
    seen = set(db.scalars(select(Notification.id)))  # the events' own notifications, at once
    while day <= dt.date(2027, 3, 1):
        for name in reminders:
            run_job(database, name, day, app.config)
        db.expire_all()
        for note in db.scalars(select(Notification).where(Notification.id.notin_(seen or {0}))):
            seen.add(note.id)
            username = db.get(type(world["sektionschef"]), note.user_id).username
            matching = [t for t in _todos(app, username, day)
                        if t.link == note.link and (t.reminder_title or t.title) == note.title]
            assert matching, (day, username, note.title)
            checked += 1
        day += dt.timedelta(days=3)
    assert checked >= 6  # draw, late reviews, the late åtgärd, genomgång plan


def test_start_page_texts_follow_the_units_settings(app, db, world, client):
    """INT is drawn by its administratör: the administratör is told to draw, the sektionschef of
    IFO-FS to draw and choose reviewers; nobody is told what the unit's settings give to another."""
    login(client, "administrator")
    page = client.get("/").get_data(as_text=True)
    assert "Du drar månadens stickprov för din enhet." in page and "utser granskare" not in page
    client = app.test_client()
    login(client, "sektionschef")
    page = client.get("/").get_data(as_text=True)
    assert "Du drar månadens stickprov för din enhet, utser granskare och följer upp brister med åtgärder." in page
    client = app.test_client()
    login(client, "revisor")
    assert "Händelseloggen" in client.get("/").get_data(as_text=True)
