"""Reviews: template versions frozen on use, only the assigned reviewer answers, validation
on signing keeps the input and changes nothing, a signed review never changes, brister,
återkoppling, åtgärder and who sees what — through the services and crafted HTTP requests."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from kontroll.core import users as user_svc
from kontroll.core.errors import ValidationError
from kontroll.core.models import AuditEntry
from kontroll.core.permissions import PermissionDenied
from kontroll.db import get_database
from kontroll.reviews import services as svc
from kontroll.checklists.models import TemplateVersion
from kontroll.reviews.models import Atgard, Brist, Review, ReviewAnswer, ReviewImmutableError
from kontroll.sampling.models import DrawnCase
from tests.support.reviews import TEMPLATE_ID, full_form, open_review, template
from tests.support.web import csrf_from, login, post_form


def _logout(client):
    page = client.get("/")
    if page.status_code == 200:
        client.post("/logga-ut", data={"csrf_token": csrf_from(page.get_data(as_text=True))})


def _post(client, url, data, page="/granskningar"):
    return post_form(client, url, data, page=page)


def _count(db, model, *where):
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model).where(*where))


def _actions(db):
    db.expire_all()
    return [e.action for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def _signed_review(app, client, db, drawn, checklists, deviation_on="ansokan-undertecknad", case=0):
    login(client, "enhetschef")
    assert client.get(f"/granskningar/arende/{drawn['cases'][case]}").status_code == 200  # a page, no change
    assert _count(db, Review) == 0
    resp = _post(client, f"/granskningar/arende/{drawn['cases'][case]}", {})
    assert resp.status_code == 302
    review_id = int(resp.headers["Location"].rstrip("/").split("/")[-1])
    resp = _post(client, f"/granskningar/{review_id}", {**full_form(checklists, deviation_on), "action": "klarmarkera"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return review_id


# --- template versions --------------------------------------------------------------------


def test_template_version_is_frozen_on_first_use(app, db, drawn, checklists):
    assert _count(db, TemplateVersion) == 0
    first = open_review(app, "enhetschef", drawn["cases"][0], checklists)
    open_review(app, "enhetschef", drawn["cases"][1], checklists)
    versions = list(db.scalars(select(TemplateVersion)))
    assert len(versions) == 1  # the second review uses the stored version
    tv = versions[0]
    t = template(checklists)
    assert (tv.template_id, tv.version, tv.content_hash, tv.content) == (TEMPLATE_ID, 1, t.content_hash, t.canonical_json)
    assert db.get(Review, first).template_version_id == tv.id
    assert "template.freeze" in _actions(db) and "review.create" in _actions(db)


def test_a_changed_file_with_the_same_version_is_refused_everywhere(app, db, client, runner, drawn, checklists):
    first = open_review(app, "enhetschef", drawn["cases"][0], checklists)
    path = checklists / f"{TEMPLATE_ID}.toml"
    original = path.read_text(encoding="utf-8")
    old_question = template(checklists).areas[0].items[0].question
    path.write_text(original.replace(old_question, "En ändrad fråga utan ny version?"), encoding="utf-8")

    # the service
    with pytest.raises(ValidationError, match="har ändrats utan att versionen höjts"):
        open_review(app, "enhetschef", drawn["cases"][1], checklists)
    # the web: opening the second case is refused with the message, nothing is stored
    login(client, "enhetschef")
    resp = _post(client, f"/granskningar/arende/{drawn['cases'][1]}", {})
    resp = client.get(resp.headers["Location"])
    assert "har ändrats utan att versionen höjts" in resp.get_data(as_text=True)
    assert _count(db, Review) == 1 and _count(db, TemplateVersion) == 1
    # the CLI
    result = runner.invoke(args=["checklists", "validate"])
    assert result.exit_code == 1 and "har ändrats utan att versionen höjts" in result.output
    # the existing review still shows the questions it was opened with
    page = client.get(f"/granskningar/{first}").get_data(as_text=True)
    assert old_question.split("?")[0][:40] in page and "En ändrad fråga" not in page

    # raising the version makes the file usable again, as a new stored version
    path.write_text(original.replace(old_question, "En ändrad fråga utan ny version?").replace(
        "version = 1", "version = 2", 1), encoding="utf-8")
    open_review(app, "enhetschef", drawn["cases"][1], checklists)
    assert _count(db, TemplateVersion) == 2
    result = runner.invoke(args=["checklists", "validate"])
    assert result.exit_code == 0 and "Alla mallar är giltiga" in result.output


def test_validate_reports_invalid_and_overdue_templates(app, db, runner, checklists):
    result = runner.invoke(args=["checklists", "validate"])
    assert result.exit_code == 0, result.output
    path = checklists / f"{TEMPLATE_ID}.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("revideras_senast = 2027-01-15", "revideras_senast = 2026-01-20"), encoding="utf-8")
    result = runner.invoke(args=["checklists", "validate"])
    assert result.exit_code == 0 and "VARNING" in result.output and "reviderats senast 2026-01-20" in result.output
    path.write_text("\n".join(l for l in text.splitlines() if not l.startswith("ansvarig_funktion")), encoding="utf-8")
    result = runner.invoke(args=["checklists", "validate"])
    assert result.exit_code == 1 and "ansvarig_funktion" in result.output


# --- who answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("username,status", [("forste", 403), ("sektionschef", 403), ("handlaggare", 404),
                                             ("forste.int", 404), ("sysadmin", 404)])
def test_only_the_assigned_reviewer_opens_a_review(app, db, client, drawn, checklists, username, status):
    login(client, username)
    assert client.get(f"/granskningar/arende/{drawn['cases'][0]}").status_code == status
    assert _post(client, f"/granskningar/arende/{drawn['cases'][0]}", {}, page="/").status_code == status
    assert _count(db, Review) == 0


def test_only_the_assigned_reviewer_answers(app, db, client, drawn, checklists):
    review_id = open_review(app, "enhetschef", drawn["cases"][0], checklists)
    form = {**full_form(checklists), "action": "spara"}
    for username in ("forste", "sektionschef"):  # may see the unit's reviews, may not answer
        _logout(client)
        login(client, username)
        assert _post(client, f"/granskningar/{review_id}", form).status_code == 403
    with get_database(app).session_scope() as session, pytest.raises(PermissionDenied):
        review = session.get(Review, review_id)
        svc.save_draft(session, user_svc.get_user_by_username(session, "sektionschef"), review,
                       svc.answers_from_form(template(checklists), form))
    assert _count(db, ReviewAnswer) == 0


# --- drafts, validation and signing -------------------------------------------------------


def test_draft_then_validation_on_sign_keeps_input_and_changes_nothing(app, db, client, drawn, checklists):
    login(client, "enhetschef")
    review_id = int(_post(client, f"/granskningar/arende/{drawn['cases'][0]}", {}).headers["Location"].split("/")[-1])
    items = [i for _, i in template(checklists).items()]
    first, second = items[0], items[1]
    resp = _post(client, f"/granskningar/{review_id}",
                 {f"svar-{first.key}": "ja", f"kommentar-{second.key}": "Halvfärdig tanke", "action": "spara"})
    assert resp.status_code == 302
    db.expire_all()
    review = db.get(Review, review_id)
    assert review.state == "pågående" and review.started_dt is not None
    assert svc.answers_of(review) == {first.key: ("ja", ""), second.key: ("", "Halvfärdig tanke")}

    # sign with a missing answer and a "nej" without its required comment
    form = full_form(checklists, deviation_on=second.key, comment_all=False)
    form.pop(f"kommentar-{second.key}", None)
    form.pop(f"svar-{items[-1].key}")
    form[f"kommentar-{items[2].key}"] = "Min viktiga kommentar som inte får försvinna"
    resp = _post(client, f"/granskningar/{review_id}", {**form, "action": "klarmarkera"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "kan inte klarmarkeras: 2 frågor" in html
    assert f'href="#fraga-{second.key}"' in html and f'href="#fraga-{items[-1].key}"' in html
    assert "kräver en kommentar" in html and "Svar saknas" in html
    assert "Min viktiga kommentar som inte får försvinna" in html  # the input is kept
    assert html.count("checked") >= len(items) - 1
    db.expire_all()
    review = db.get(Review, review_id)
    assert review.state == "pågående" and review.signed_dt is None
    assert svc.answers_of(review) == {first.key: ("ja", ""), second.key: ("", "Halvfärdig tanke")}
    assert _count(db, Brist) == 0

    # a made-up answer value is refused too
    resp = _post(client, f"/granskningar/{review_id}", {f"svar-{first.key}": "kanske", "action": "spara"})
    assert resp.status_code == 422 and "Välj ett av svarsalternativen" in resp.get_data(as_text=True)


def test_signing_creates_brister_and_the_signed_review_never_changes(app, db, client, drawn, checklists):
    review_id = _signed_review(app, client, db, drawn, checklists, deviation_on="ansokan-undertecknad")
    db.expire_all()
    review = db.get(Review, review_id)
    assert review.state == "klar" and review.signed_dt is not None
    brister = list(db.scalars(select(Brist)))
    assert [(b.item_key, b.area_key, b.answer) for b in brister] == [("ansokan-undertecknad", "ansokan", "nej")]
    assert brister[0].comment == "Anteckning om ansokan-undertecknad." and brister[0].area_title == "Ansökan"
    before = svc.answers_of(review)
    page = client.get(f"/granskningar/{review_id}").get_data(as_text=True)
    assert "kan inte ändras" in page and 'type="radio"' not in page.split("aterkoppling")[0]

    # crafted POSTs by the reviewer: save and sign again
    changed = {**full_form(checklists), "action": "spara"}
    for action in ("spara", "klarmarkera"):
        resp = _post(client, f"/granskningar/{review_id}", {**changed, "action": action})
        assert resp.status_code == 422 and "klarmarkerad" in resp.get_data(as_text=True)
    # other roles
    for username, status in (("sektionschef", 403), ("forste", 403), ("handlaggare", 404), ("forste.int", 404)):
        _logout(client)
        login(client, username)
        assert _post(client, f"/granskningar/{review_id}", changed, page="/").status_code in (status, 403, 404)
    # the service, for anyone
    with get_database(app).session_scope() as session:
        for username in ("enhetschef", "sektionschef"):
            r = session.get(Review, review_id)
            with pytest.raises((ValidationError, PermissionDenied)):
                svc.sign(session, user_svc.get_user_by_username(session, username), r,
                         svc.answers_from_form(template(checklists), changed))
    # the ORM guard, whatever the code does
    with get_database(app).session_scope() as session:
        answer = session.scalar(select(ReviewAnswer).where(ReviewAnswer.review_id == review_id))
        answer.answer = "nej"
        with pytest.raises(ReviewImmutableError):
            session.flush()
        session.rollback()
        r = session.get(Review, review_id)
        r.state = "pågående"
        with pytest.raises(ReviewImmutableError):
            session.flush()
        session.rollback()
    db.expire_all()
    assert svc.answers_of(db.get(Review, review_id)) == before and _count(db, Brist) == 1
    assert {"review.create", "review.sign"} <= set(_actions(db))


# --- återkoppling and the handläggare -----------------------------------------------------


def test_feedback_is_seen_by_the_handlaggare_of_the_case_only(app, db, client, drawn, checklists, unit_setup):
    review_id = _signed_review(app, client, db, drawn, checklists)
    resp = _post(client, f"/granskningar/{review_id}/aterkoppling",
                 {"given_on": "2030-01-01", "method": "muntligt", "note": "x"})
    assert resp.status_code == 422 and "framtiden" in resp.get_data(as_text=True)
    resp = _post(client, f"/granskningar/{review_id}/aterkoppling",
                 {"given_on": dt.date.today().isoformat(), "method": "vid_mote", "note": "Gick igenom underskriften."})
    assert resp.status_code == 302
    assert "review.feedback" in _actions(db)

    dc = db.get(DrawnCase, drawn["cases"][0])
    owner = dc.snapshot_case.handlaggare_user.username
    other = "bo" if owner == "anna" else "anna"
    for username, sees in ((owner, True), (other, False)):
        _logout(client)
        with get_database(app).session_scope() as session:
            user_svc.set_password(session, "t", user_svc.get_user_by_username(session, username), "ett-bra-losenord")
        login(client, username)
        page = client.get("/aterkoppling")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert (dc.case_ref in html) is sees
        assert ("Gick igenom underskriften." in html) is sees
        assert client.get(f"/granskningar/{review_id}").status_code == (200 if sees else 404)
        assert client.get("/enheter/IFO-FS/brister").status_code == 403
        assert client.get("/enheter/IFO-FS/atgarder").status_code == 403


def test_only_the_reviewer_records_feedback(app, db, client, drawn, checklists):
    review_id = _signed_review(app, client, db, drawn, checklists)
    _logout(client)
    login(client, "sektionschef")
    resp = _post(client, f"/granskningar/{review_id}/aterkoppling",
                 {"given_on": dt.date.today().isoformat(), "method": "muntligt"}, page="/")
    assert resp.status_code == 403


@pytest.mark.parametrize("username,status", [
    ("sektionschef", 200), ("forste", 200), ("enhetschef", 200), ("revisor", 200),
    ("handlaggare", 403), ("administrator", 403), ("forste.int", 403), ("namnd", 403), ("sysadmin", 403),
])
def test_unit_pages_permission_matrix(app, db, client, drawn, checklists, username, status):
    review_id = open_review(app, "enhetschef", drawn["cases"][0], checklists)
    login(client, username)
    for url in ("/enheter/IFO-FS/granskningar", "/enheter/IFO-FS/brister", "/enheter/IFO-FS/atgarder"):
        assert client.get(url).status_code == status, url
    review_status = client.get(f"/granskningar/{review_id}").status_code
    assert review_status == (200 if status == 200 else 404)


# --- åtgärder -----------------------------------------------------------------------------


def test_atgard_state_machine(app, db, client, drawn, checklists):
    _signed_review(app, client, db, drawn, checklists)
    brist_id = db.scalar(select(Brist.id))
    due = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    form = {"brister": [str(brist_id)], "description": "Påminn gruppen om underskrift.", "due_date": due,
            "owner": str(user_svc.get_user_by_username(db, "enhetschef").id)}
    # only the sektionschef opens åtgärder
    assert _post(client, "/enheter/IFO-FS/atgarder", form).status_code == 403
    _logout(client)
    login(client, "sektionschef")
    resp = _post(client, "/enheter/IFO-FS/atgarder", {**form, "description": "x"}, page="/")
    assert resp.status_code == 422 and "Beskriv åtgärden" in resp.get_data(as_text=True)
    assert _count(db, Atgard) == 0
    resp = _post(client, "/enheter/IFO-FS/atgarder", form, page="/")
    assert resp.status_code == 302
    atgard = db.scalar(select(Atgard))
    assert atgard.state == "öppen" and [b.id for b in atgard.brister] == [brist_id]
    url = f"/enheter/IFO-FS/atgarder/{atgard.id}"

    # verifying an open åtgärd is refused
    resp = _post(client, f"{url}/verifiera", {"verified_note": "ok"}, page="/")
    assert resp.status_code == 422 and "genomförd innan" in resp.get_data(as_text=True)
    # the owner (enhetschef) marks it genomförd, with a note
    _logout(client)
    login(client, "enhetschef")
    assert _post(client, f"{url}/genomford", {"done_note": ""}, page="/").status_code == 422
    assert _post(client, f"{url}/genomford", {"done_note": "Tog upp det på gruppmötet."}, page="/").status_code == 302
    # …but cannot verify it
    resp = _post(client, f"{url}/verifiera", {"verified_note": "ok"}, page="/")
    assert resp.status_code == 422 and "kan inte själv verifiera" in resp.get_data(as_text=True)
    db.expire_all()
    assert db.get(Atgard, atgard.id).state == "genomförd"
    # a 1:e socialsekreterare may not verify; the sektionschef may
    _logout(client)
    login(client, "forste")
    assert _post(client, f"{url}/verifiera", {}, page="/").status_code == 403
    _logout(client)
    login(client, "sektionschef")
    assert _post(client, f"{url}/verifiera", {"verified_note": "Syns i nästa stickprov."}, page="/").status_code == 302
    db.expire_all()
    a = db.get(Atgard, atgard.id)
    assert a.state == "verifierad" and a.verified_by.username == "sektionschef"
    assert {"atgard.create", "atgard.done", "atgard.verify"} <= set(_actions(db))
    # another unit sees nothing
    _logout(client)
    login(client, "forste.int")
    assert client.get(url).status_code == 404
    assert client.get(f"/enheter/INT/atgarder/{atgard.id}").status_code == 404
    assert client.get("/enheter/IFO-FS/atgarder").status_code == 403


def test_verifier_is_never_the_owner_in_the_service(app, db, client, drawn, checklists):
    _signed_review(app, client, db, drawn, checklists)
    with get_database(app).session_scope() as session:
        chef = user_svc.get_user_by_username(session, "sektionschef")
        unit = user_svc.get_unit_by_code(session, "IFO-FS")
        brist = session.scalar(select(Brist))
        atgard = svc.open_atgard(session, chef, unit, [brist.id], "Ny rutin för underskrifter.", chef,
                                 dt.date.today() + dt.timedelta(days=7))
        svc.complete_atgard(session, chef, atgard, "Rutinen är skriven.")
        with pytest.raises(ValidationError, match="kan inte själv verifiera"):
            svc.verify_atgard(session, chef, atgard, "")
        with pytest.raises(ValidationError, match="redan"):
            svc.complete_atgard(session, chef, atgard, "igen")
        enhetschef = user_svc.get_user_by_username(session, "enhetschef")
        with pytest.raises(ValidationError, match="senare, klarmarkerad"):
            svc.verify_atgard(session, enhetschef, atgard, "", confirming_review=brist.review)
        # a later signed review confirms that the action worked
        later = svc.open_review(session, enhetschef, session.get(DrawnCase, drawn["cases"][1]), template(checklists))
        answers = svc.answers_from_form(template(checklists), full_form(checklists))
        svc.sign(session, enhetschef, later, answers)
        svc.verify_atgard(session, enhetschef, atgard, "", confirming_review=later)
        assert atgard.state == "verifierad" and atgard.confirming_review_id == later.id


def test_overdue_atgarder_and_late_reviews_are_flagged(app, db, client, drawn, checklists):
    _signed_review(app, client, db, drawn, checklists)
    with get_database(app).session_scope() as session:
        chef = user_svc.get_user_by_username(session, "sektionschef")
        unit = user_svc.get_unit_by_code(session, "IFO-FS")
        brist = session.scalar(select(Brist))
        svc.open_atgard(session, chef, unit, [brist.id], "Utbildning i SSBTEK.", chef, dt.date(2020, 1, 1),
                        today=dt.date(2019, 12, 1))
    _logout(client)
    login(client, "sektionschef")
    html = client.get("/enheter/IFO-FS").get_data(as_text=True)
    assert "har passerat sitt sista datum" in html
    html = client.get("/enheter/IFO-FS/atgarder?forsenade=1").get_data(as_text=True)
    assert "Utbildning i SSBTEK." in html and "Försenad" in html
    assert "Utbildning i SSBTEK." not in client.get("/enheter/IFO-FS/atgarder?status=verifierad").get_data(as_text=True)

    unit = user_svc.get_unit_by_code(db, "IFO-FS")
    ov = svc.month_overview(db, unit, "2026-12", dt.date(2026, 12, 20), 1)
    assert sorted(r.state for r in ov.rows) == ["klar", "tilldelad"]
    ov = svc.month_overview(db, unit, "2026-12", dt.date(2027, 2, 1), 1)
    assert sorted(r.state for r in ov.rows) == ["försenad", "klar"]
    ov = svc.month_overview(db, unit, "2026-12", dt.date(2027, 2, 1), late_months=2)  # REVIEW_LATE_AFTER_MONTHS=2
    assert sorted(r.state for r in ov.rows) == ["klar", "tilldelad"] and ov.deadline == dt.date(2027, 2, 28)
    html = client.get("/enheter/IFO-FS/granskningar?period=2026-12").get_data(as_text=True)
    assert "Klar" in html and drawn["refs"][0] in html


def test_mina_granskningar_lists_the_reviewers_cases(app, db, client, drawn, checklists):
    login(client, "enhetschef")
    html = client.get("/granskningar").get_data(as_text=True)
    assert all(ref in html for ref in drawn["refs"])
    assert "att göra" in client.get("/").get_data(as_text=True)
    _logout(client)
    login(client, "forste")
    html = client.get("/granskningar").get_data(as_text=True)
    assert not any(ref in html for ref in drawn["refs"])


def test_no_new_reviewer_once_the_review_is_signed(app, db, client, drawn, checklists):
    from kontroll.reviews.models import Review as ReviewModel
    from kontroll.sampling import services as sampling

    _signed_review(app, client, db, drawn, checklists)
    with get_database(app).session_scope() as session:
        dc = session.get(DrawnCase, drawn["cases"][0])
        with pytest.raises(ValidationError, match="redan granskat"):
            sampling.assign_reviewer(session, user_svc.get_user_by_username(session, "sektionschef"), dc,
                                     user_svc.get_user_by_username(session, "forste2"))
    assert _count(db, ReviewModel) == 1
