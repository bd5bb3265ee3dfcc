"""Notifications at the moment of the event: the people concerned are told at once (in the app,
and by e-mail when SMTP is set): a draw made, a review assigned or taken away, återkoppling
given, an åtgärd given, marked genomförd and verified. Never the one who acted."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from kontroll.core import users as user_svc
from kontroll.core.models import Notification, Role, User
from kontroll.db import get_database
from kontroll.reviews import services as svc
from kontroll.reviews.models import Atgard, Brist, Review
from kontroll.sampling.models import DrawnCase
from tests.support.draws import draw_as
from tests.support.reviews import assign, full_form, open_review, template

DEC = dt.date(2026, 12, 7)


def _notes(db, kind: str) -> list[tuple[str, str, str | None]]:
    db.expire_all()
    rows = db.execute(select(Notification.user_id, Notification.title, Notification.link)
                      .where(Notification.kind == kind).order_by(Notification.id)).all()
    return [(db.get(User, uid).username, title, link) for uid, title, link in rows]


def test_a_draw_and_its_reviewers_are_told(app, db, world, unit_setup, checklists):
    with get_database(app).session_scope() as session:
        second = user_svc.create_user(session, "t", username="sektionschef2", full_name="Sektionschef Två",
                                      password=None)
        user_svc.add_role(session, "t", second, Role.SEKTIONSCHEF, user_svc.get_unit_by_code(session, "IFO-FS"))
    draw_id = draw_as(app, "sektionschef", "2026-12")
    made = _notes(db, "draw_made")
    assert [(who, title) for who, title, _ in made] == [
        ("sektionschef2", "Stickprovet för december 2026 är draget i IFO-FS: utse granskare")]  # not the drawer
    assert made[0][2] == f"/enheter/IFO-FS/stickprov/{draw_id}"
    refs = list(db.scalars(select(DrawnCase.case_ref).where(DrawnCase.draw_id == draw_id)))
    assign(app, draw_id, refs[0], "enhetschef")
    (who, title, link), = _notes(db, "review_assigned")
    case_id = db.scalar(select(DrawnCase.id).where(DrawnCase.draw_id == draw_id, DrawnCase.case_ref == refs[0]))
    assert (who, title, link) == ("enhetschef", f"Du ska granska {refs[0]} (IFO-FS, december 2026)",
                                  f"/granskningar/arende/{case_id}")
    body = db.scalar(select(Notification.body).where(Notification.kind == "review_assigned"))
    assert "senast 2027-01-31" in body
    # another reviewer, one who does not lead the case's team (hemmablindhet): the first is told
    other = "forste2" if int(refs[0].split("-")[1]) % 2 == 0 else "forste"  # even cases are Grupp 1's (forste)
    assign(app, draw_id, refs[0], other)
    assert [w for w, _t, _l in _notes(db, "review_unassigned")] == ["enhetschef"]
    assert [w for w, _t, _l in _notes(db, "review_assigned")] == ["enhetschef", other]


def test_aterkoppling_and_an_atgard_through_its_states(app, db, world, drawn, checklists):
    review_id = open_review(app, "enhetschef", drawn["cases"][0], checklists)
    with get_database(app).session_scope() as session:
        get = lambda name: user_svc.get_user_by_username(session, name)  # noqa: E731
        review = session.get(Review, review_id)
        svc.sign(session, get("enhetschef"), review,
                 svc.answers_from_form(template(checklists), full_form(checklists, "ansokan-undertecknad")))
        svc.record_feedback(session, get("enhetschef"), review, DEC, "muntligt", "", today=DEC)
        handlaggare = review.drawn_case.snapshot_case.handlaggare_user_id
    (who, title, link), = _notes(db, "feedback_given")
    assert db.get(User, handlaggare).username == who
    assert title == f"Återkoppling på ditt ärende {drawn['refs'][0]}" and link == "/aterkoppling"

    with get_database(app).session_scope() as session:
        get = lambda name: user_svc.get_user_by_username(session, name)  # noqa: E731
        unit = user_svc.get_unit_by_code(session, "IFO-FS")
        atgard_id = svc.open_atgard(session, get("sektionschef"), unit, [session.scalar(select(Brist.id))],
                                    "Påminn om underskrift av ansökan.", get("forste"), dt.date(2026, 12, 20),
                                    today=DEC).id
    (who, title, link), = _notes(db, "atgard_assigned")
    assert who == "forste" and title == "Du är ansvarig för en åtgärd i IFO-FS: Påminn om underskrift av ansökan."
    assert link == f"/enheter/IFO-FS/atgarder/{atgard_id}"
    with get_database(app).session_scope() as session:
        svc.complete_atgard(session, user_svc.get_user_by_username(session, "forste"), session.get(Atgard, atgard_id),
                            "Alla påminda på APT.")
    assert sorted(w for w, _t, _l in _notes(db, "atgard_done")) == ["enhetschef", "sektionschef"]  # not the owner
    with get_database(app).session_scope() as session:
        svc.verify_atgard(session, user_svc.get_user_by_username(session, "enhetschef"), session.get(Atgard, atgard_id),
                          "Stämmer.")
    assert [w for w, _t, _l in _notes(db, "atgard_verified")] == ["forste"]
