"""The monthly draw as a service: one per unit and month, redraw, verification, separation
rules for reviewers — through the service, the CLI and crafted HTTP requests, on the
database under test."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import func, select, text

from kontroll.cases import services as cases
from kontroll.core import users as user_svc
from kontroll.core.actions import CONFIRMED_FIELD
from kontroll.core.errors import ValidationError
from kontroll.core.models import AuditEntry
from kontroll.core.permissions import PermissionDenied
from kontroll.db import get_database
from kontroll.sampling import services as svc
from kontroll.sampling.models import Assignment, Draw, DrawImmutableError, DrawnCase
from tests.support.app import TEST_DB
from tests.support.draws import PERIOD, case_list, draw_as
from tests.support.web import csrf_from, login, post_form


def test_draw_records_everything_needed_to_verify(app, db, world, unit_setup):
    draw_id = draw_as(app, "sektionschef")
    draw = db.get(Draw, draw_id)
    assert re.fullmatch(r"[0-9a-f]{32}", draw.seed)
    assert draw.method_name == "pcg64-minkey" and draw.method_version == 1
    assert draw.sample_size == 2 and len(draw.cases) == 2
    assert draw.snapshot_sha256 == draw.snapshot.sha256 and draw.population_size == 12
    assert draw.drawn_by_id == world["sektionschef"].id and draw.drawn_dt.tzinfo is not None
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "draw.create"))
    assert draw.seed in entry.details
    assert svc.verify_draw(db, draw).ok


def test_only_the_units_drawer_role_draws(app, world, unit_setup):
    with pytest.raises(PermissionDenied):
        draw_as(app, "forste")
    with pytest.raises(PermissionDenied):
        draw_as(app, "sektionschef", unit="INT")  # INT is drawn by its administratör
    # the administratör may draw in INT (which has no case list yet: a clear refusal, not a permission error)
    with pytest.raises(ValidationError, match="ingen importerad ärendelista"):
        draw_as(app, "administrator", unit="INT")


def test_one_draw_per_unit_and_month_and_redraw_needs_a_reason(app, db, world, unit_setup):
    first = draw_as(app, "sektionschef")
    with pytest.raises(ValidationError, match="redan draget"):
        draw_as(app, "sektionschef")
    with pytest.raises(ValidationError, match="varför"):
        draw_as(app, "sektionschef", redraw_reason="kort")
    second = draw_as(app, "sektionschef", redraw_reason="Ärendelistan saknade grupp 3.")
    db.expire_all()
    old, new = db.get(Draw, first), db.get(Draw, second)
    assert old.is_voided and old.void_reason == "Ärendelistan saknade grupp 3." and not new.is_voided
    assert new.replaces_id == old.id
    assert db.scalar(select(func.count()).select_from(Draw).where(Draw.voided_dt.is_(None))) == 1
    # another month is its own draw
    draw_as(app, "sektionschef", period="2027-01")


def test_the_database_refuses_a_second_valid_draw(app, db, world, unit_setup):
    """The unique partial index is the final guard, whatever the code does."""
    draw_id = draw_as(app, "sektionschef")
    cols = ("unit_id, period, snapshot_id, snapshot_sha256, population_sha256, seed, method_name, method_version, sample_size, "
            "stratify_by_team, exclude_months, excluded_refs, population_size, eligible_size, drawn_by_id, drawn_dt")
    with pytest.raises(Exception, match="(?i)unique"):
        with get_database(app).engine.begin() as conn:
            conn.execute(text(f"INSERT INTO draws ({cols}) SELECT {cols} FROM draws WHERE id = :id"), {"id": draw_id})


def test_draws_cannot_be_changed_or_deleted(app, world, unit_setup):
    draw_id = draw_as(app, "sektionschef")
    with get_database(app).session_scope() as session:
        draw = session.get(Draw, draw_id)
        draw.seed = "0" * 32
        with pytest.raises(DrawImmutableError):
            session.flush()
        session.rollback()
        draw = session.get(Draw, draw_id)
        session.delete(draw)
        with pytest.raises(DrawImmutableError):
            session.flush()
        session.rollback()


def _concurrent(app, fn, n=2):
    barrier = threading.Barrier(n)
    results: list[object] = []

    def worker():
        barrier.wait()
        try:
            results.append(fn())
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.mark.concurrency
def test_two_simultaneous_draws_give_exactly_one(app, db, world, unit_setup):
    results = _concurrent(app, lambda: draw_as(app, "sektionschef"), n=4)
    ids = [r for r in results if isinstance(r, int)]
    errors = [r for r in results if not isinstance(r, int)]
    assert len(ids) == 1, results
    assert len(errors) == 3
    for e in errors:
        assert isinstance(e, ValidationError), repr(e)
        assert "redan draget" in e.message or "drogs nyss" in e.message
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Draw)) == 1
    assert db.scalar(select(func.count()).select_from(DrawnCase)) == 2


@pytest.mark.concurrency
def test_simultaneous_draws_through_http_give_one_draw_and_one_clear_message(app, db, world, unit_setup):
    clients = []
    for _ in range(2):
        c = app.test_client()
        login(c, "sektionschef")
        clients.append((c, csrf_from(c.get("/enheter/IFO-FS/stickprov").get_data(as_text=True))))
    responses: list[object] = []
    barrier = threading.Barrier(2)

    def press(c, token):
        barrier.wait()
        responses.append(c.post("/enheter/IFO-FS/stickprov", data={"csrf_token": token, CONFIRMED_FIELD: "ja"}))

    threads = [threading.Thread(target=press, args=ct) for ct in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(r.status_code == 302 for r in responses)
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Draw)) == 1
    pages = [c.get(r.headers["Location"]).get_data(as_text=True) for (c, _), r in zip(clients, responses)]
    assert sum("är draget:" in p for p in pages) == 1
    assert sum("redan draget" in p or "drogs nyss" in p for p in pages) == 1


def test_the_draw_asks_first_naming_the_list_and_the_sample_size(app, db, world, unit_setup):
    """The first click on "Dra stickprov" draws nothing: it says how many cases will be drawn
    from which list, that the draw cannot be changed and that the drawer reviews none of them."""
    client = app.test_client()
    login(client, "sektionschef")
    first = post_form(client, "/enheter/IFO-FS/stickprov", {}, page="/enheter/IFO-FS/stickprov", confirmed=False)
    page = first.get_data(as_text=True)
    assert first.status_code == 200
    assert "Dra stickprovet för" in page and "Ja, dra stickprovet" in page
    assert "ur ärendelistan importerad" in page and "(12 ärenden)" in page
    assert "kan inte granska något av ärendena" in page
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Draw)) == 0
    assert post_form(client, "/enheter/IFO-FS/stickprov", {}, page="/enheter/IFO-FS/stickprov").status_code == 302
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Draw)) == 1


def test_verification_detects_a_tampered_snapshot_row_and_a_tampered_seed(app, db, world, unit_setup):
    draw_id = draw_as(app, "sektionschef")
    engine = get_database(app).engine
    # a DBA bypassing kontroll: drop the immutability trigger and edit a case row
    with engine.begin() as conn:
        if TEST_DB == "postgresql":
            conn.execute(text("ALTER TABLE snapshot_cases DISABLE TRIGGER snapshot_cases_immutable"))
        else:
            conn.execute(text("DROP TRIGGER snapshot_cases_no_update"))
        conn.execute(text("UPDATE snapshot_cases SET case_ref = 'EB-999' WHERE case_ref = 'EB-005'"))
        if TEST_DB == "postgresql":
            conn.execute(text("ALTER TABLE snapshot_cases ENABLE TRIGGER snapshot_cases_immutable"))
    db.expire_all()
    result = svc.verify_draw(db, db.get(Draw, draw_id))
    assert not result.ok and "kontrollsumma" in result.lines[0].lower()

    draw_id2 = draw_as(app, "sektionschef", period="2027-02")
    with engine.begin() as conn:
        conn.execute(text("UPDATE draws SET seed = :s WHERE id = :id"), {"s": "1" * 32, "id": draw_id2})
    db.expire_all()
    result = svc.verify_draw(db, db.get(Draw, draw_id2))
    assert not result.ok


def test_cli_draw_run_and_verify(runner, app, db, world, unit_setup):
    result = runner.invoke(args=["draw", "run", "--unit", "IFO-FS", "--period", PERIOD, "--user", "sektionschef"])
    assert result.exit_code == 0, result.output
    draw_id = db.scalar(select(Draw.id))
    db.rollback()  # hold no read transaction while the CLI and the raw UPDATE below work
    result = runner.invoke(args=["draw", "verify", str(draw_id)])
    assert result.exit_code == 0 and result.output.strip().endswith("Verifierad")
    result = runner.invoke(args=["draw", "run", "--unit", "IFO-FS", "--period", PERIOD, "--user", "sektionschef"])
    assert result.exit_code == 1 and "redan draget" in result.output
    result = runner.invoke(args=["draw", "run", "--unit", "IFO-FS", "--period", "2026-13", "--user", "sektionschef"])
    assert result.exit_code == 1 and "ÅÅÅÅ-MM" in result.output
    with get_database(app).engine.begin() as conn:
        conn.execute(text("UPDATE draws SET seed = :s"), {"s": "2" * 32})
    result = runner.invoke(args=["draw", "verify", str(draw_id)])
    assert result.exit_code == 1 and "Stämmer inte" in result.output
    assert runner.invoke(args=["draw", "verify", "999"]).exit_code == 1


def test_exclusion_of_recently_drawn_cases_is_recorded_and_verifiable(app, db, world, unit_setup):
    with get_database(app).session_scope() as session:
        unit = user_svc.get_unit_by_code(session, "IFO-FS")
        unit.exclude_reviewed_months = 3
        unit.sample_size = 4
    first = draw_as(app, "sektionschef", period="2026-11")
    second = draw_as(app, "sektionschef", period="2026-12")
    db.expire_all()
    before = {c.case_ref for c in db.get(Draw, first).cases}
    d2 = db.get(Draw, second)
    assert before.isdisjoint({c.case_ref for c in d2.cases})
    assert set(__import__("json").loads(d2.excluded_refs)) == before
    assert svc.verify_draw(db, d2).ok


# --- reviewers ----------------------------------------------------------------------------


def _assign(app, draw_id, case_ref, reviewer, actor="sektionschef", reason=None):
    with get_database(app).session_scope() as session:
        dc = session.scalar(select(DrawnCase).where(DrawnCase.draw_id == draw_id, DrawnCase.case_ref == case_ref))
        return svc.assign_reviewer(
            session, user_svc.get_user_by_username(session, actor), dc,
            user_svc.get_user_by_username(session, reviewer), override_reason=reason,
        ).id


def _a_case_of_group(db, draw_id, group):
    for dc in db.get(Draw, draw_id).cases:
        if dc.snapshot_case.team == group:
            return dc.case_ref
    return None


def _draw_with_both_groups(app, db):
    period_n = 0
    while True:
        period = f"{2030 + period_n // 12}-{period_n % 12 + 1:02d}"
        draw_id = draw_as(app, "sektionschef", period=period)
        if _a_case_of_group(db, draw_id, "Grupp 1") and _a_case_of_group(db, draw_id, "Grupp 2"):
            return draw_id
        period_n += 1


def test_separation_rules_through_the_service(app, db, world, unit_setup):
    draw_id = _draw_with_both_groups(app, db)
    g1 = _a_case_of_group(db, draw_id, "Grupp 1")  # handled by Anna, team led by 'forste'
    # the drawer never reviews
    with pytest.raises(ValidationError, match="drog stickprovet"):
        _assign(app, draw_id, g1, "sektionschef")
    # the handläggare never reviews (Anna is not a reviewer role either, but the hard rule speaks)
    with pytest.raises(ValidationError, match="handlägger ärendet"):
        _assign(app, draw_id, g1, "anna")
    # hemmablindhet: the lead of the case's team does not review, while someone else can
    with pytest.raises(ValidationError, match="hemmablindhet"):
        _assign(app, draw_id, g1, "forste")
    with pytest.raises(ValidationError, match="hemmablindhet"):
        _assign(app, draw_id, g1, "forste", reason="Vi är få i gruppen och ingen annan finns tillgänglig.")
    # only the sektionschef assigns
    with pytest.raises(PermissionDenied):
        _assign(app, draw_id, g1, "forste2", actor="forste")
    _assign(app, draw_id, g1, "forste2")
    _assign(app, draw_id, g1, "enhetschef")  # reassignment keeps history
    db.expire_all()
    dc = db.scalar(select(DrawnCase).where(DrawnCase.draw_id == draw_id, DrawnCase.case_ref == g1))
    assert [a.reviewer.username for a in dc.assignments] == ["forste2", "enhetschef"]
    assert dc.current_assignment.reviewer.username == "enhetschef"
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "draw.assign")) == 2


def test_unlinked_handlaggare_is_still_refused_by_signature(app, db, world, unit_setup):
    # forste2 turns out to have signature BOBO in the case system but the case was not linked to them
    with get_database(app).session_scope() as session:
        bo = user_svc.get_user_by_username(session, "bo")
        bo.case_system_id = None
        session.flush()
        f2 = user_svc.get_user_by_username(session, "forste2")
        f2.case_system_id = "BOBO"
    # a new list so that Bo's cases are linked to nobody
    with get_database(app).session_scope() as session:
        cases.import_file(session, user_svc.get_user_by_username(session, "forste"),
                          user_svc.get_unit_by_code(session, "IFO-FS"), case_list().replace(b"Bo B", b"Bo X"),
                          "lista2.csv", source="cli")
    draw_id = _draw_with_both_groups(app, db)
    g2 = _a_case_of_group(db, draw_id, "Grupp 2")
    with pytest.raises(ValidationError, match="handlägger ärendet"):
        _assign(app, draw_id, g2, "forste2")


def test_override_only_when_nobody_is_eligible_and_only_with_a_reason(app, db, world, unit_setup):
    # make the unit small: only 'forste' (lead of Grupp 1) can review
    with get_database(app).session_scope() as session:
        for username in ("forste2", "enhetschef"):
            user_svc.deactivate_user(session, "t", user_svc.get_user_by_username(session, username))
    draw_id = _draw_with_both_groups(app, db)
    g1 = _a_case_of_group(db, draw_id, "Grupp 1")
    with pytest.raises(ValidationError, match="skriftlig motivering"):
        _assign(app, draw_id, g1, "forste")
    _assign(app, draw_id, g1, "forste", reason="Enheten har bara en 1:e socialsekreterare denna månad.")
    db.expire_all()
    a = db.scalar(select(Assignment))
    assert a.override_rule == "hemmablindhet" and "bara en" in a.override_reason
    unit = db.get(type(world.ifo), world.ifo.id)
    year = int(a.drawn_case.draw.period[:4])
    assert [o.id for o in svc.overrides_for_year(db, unit, year)] == [a.id]


def test_crafted_http_assignments_are_refused_and_change_nothing(client, app, db, world, unit_setup):
    draw_id = _draw_with_both_groups(app, db)
    g1 = _a_case_of_group(db, draw_id, "Grupp 1")
    dc = db.scalar(select(DrawnCase).where(DrawnCase.draw_id == draw_id, DrawnCase.case_ref == g1))
    login(client, "sektionschef")
    token = csrf_from(client.get(f"/enheter/IFO-FS/stickprov/{draw_id}").get_data(as_text=True))
    url = f"/enheter/IFO-FS/stickprov/{draw_id}/arenden/{dc.id}/granskare"
    for username, message in (("sektionschef", "drog stickprovet"), ("anna", "handlägger ärendet"),
                              ("forste", "hemmablindhet")):
        uid = db.scalar(select(type(world["forste"]).id).where(type(world["forste"]).username == username))
        response = client.post(url, data={"csrf_token": token, "reviewer": str(uid)})
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Assignment)) == 0
    # another unit's sektionschef cannot assign here
    other = app.test_client()
    login(other, "forste.int")
    t2 = csrf_from(other.get("/").get_data(as_text=True))
    response = other.post(url, data={"csrf_token": t2, "reviewer": str(unit_setup["forste2"].id)})
    assert response.status_code == 403
    assert db.scalar(select(func.count()).select_from(Assignment)) == 0


PAGES = ["/enheter/IFO-FS/stickprov", "/enheter/IFO-FS/stickprov/{id}", "/enheter/IFO-FS/stickprov/{id}/verifiera",
         "/enheter/IFO-FS/arende?ref=EB-001"]


@pytest.mark.parametrize("username,expected", [
    ("sektionschef", [200, 200, 200, 200]),
    ("forste", [200, 200, 403, 200]),
    ("enhetschef", [200, 200, 403, 200]),
    ("revisor", [200, 200, 200, 200]),
    ("sysadmin", [403, 403, 200, 403]),
    ("handlaggare", [403, 403, 403, 403]),
    ("namnd", [403, 403, 403, 403]),
    ("administrator", [403, 403, 403, 403]),
    ("forste.int", [403, 403, 403, 403]),
])
def test_draw_permission_matrix(client, app, world, unit_setup, username, expected):
    draw_id = draw_as(app, "sektionschef")
    login(client, username)
    got = [client.get(p.format(id=draw_id)).status_code for p in PAGES]
    assert got == expected


def test_case_page_shows_history_and_is_audited(client, app, db, world, unit_setup):
    draw_id = draw_as(app, "sektionschef")
    ref = db.get(Draw, draw_id).cases[0].case_ref
    login(client, "revisor")
    html = client.get(f"/enheter/IFO-FS/arende?ref={ref}").get_data(as_text=True)
    assert "Dragen i stickprov" in html and "december 2026" in html
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "case.view")) == 1
    # an old address (a bookmark) leads to the new one
    old = client.get(f"/enheter/IFO-FS/arenden/{ref}")
    assert old.status_code == 302 and old.headers["Location"].endswith(f"/enheter/IFO-FS/arende?ref={ref}")


def test_a_case_reference_never_makes_a_link_that_leads_elsewhere(client, app, db, world, unit_setup):
    """A case reference such as ``../../admin`` travels percent-encoded in the query string."""
    from kontroll.cases.models import CaseListSnapshot

    with get_database(app).session_scope() as session:
        unit = user_svc.get_unit_by_code(session, "IFO-FS")
        cases.import_file(session, user_svc.get_user_by_username(session, "forste"), unit,
                          "Ärendenummer;Handläggare\r\n../../admin;Anna A\r\nEB-9/../../x;Bo B\r\n".encode(),
                          "konstig.csv", source="cli")
        session.flush()
        unit.sample_size = 2
    draw_id = draw_as(app, "sektionschef", period="2031-01")
    login(client, "sektionschef")
    html = client.get(f"/enheter/IFO-FS/stickprov/{draw_id}").get_data(as_text=True)
    from html import unescape
    from urllib.parse import parse_qs, urljoin, urlsplit

    links = [unescape(h) for h in re.findall(r'href="([^"]*arende\?[^"]*)"', html)]
    assert len(links) == 2
    # resolved as a browser resolves it (dot segments removed), each link stays on the case page
    # and carries the reference exactly
    here = f"https://kontroll.example/enheter/IFO-FS/stickprov/{draw_id}"
    assert sorted(parse_qs(urlsplit(urljoin(here, link)).query)["ref"][0] for link in links) == ["../../admin", "EB-9/../../x"]
    assert all(urlsplit(urljoin(here, link)).path == "/enheter/IFO-FS/arende" for link in links)
    for link in links:
        page = client.get(link.replace("&amp;", "&"))
        assert page.status_code == 200 and "Dragen i stickprov" in page.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(CaseListSnapshot)) >= 1


def test_stratified_draw_is_recorded_and_verifiable(app, db, world, unit_setup):
    with get_database(app).session_scope() as session:
        unit = user_svc.get_unit_by_code(session, "IFO-FS")
        unit.stratify_by_team = True
        unit.sample_size = 4
    draw_id = draw_as(app, "sektionschef")
    draw = db.get(Draw, draw_id)
    assert draw.stratify_by_team is True
    assert __import__("json").loads(draw.allocation) == {"Grupp 1": 2, "Grupp 2": 2}
    assert sorted(c.snapshot_case.team for c in draw.cases) == ["Grupp 1", "Grupp 1", "Grupp 2", "Grupp 2"]
    assert svc.verify_draw(db, draw).ok
