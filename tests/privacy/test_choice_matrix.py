"""People are chosen only among those allowed (docs/architecture.md, invariant 10): by crafted POST, every
user of the test municipality is tried as reviewer (with and without an override
justification), åtgärd owner, åtgärd verifier and genomgång participant. Only the job's roles in
the unit itself are accepted; org-wide roles (nämnd, revisor, systemadministratör) never count."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from kontroll.checklists import services as checklists_svc
from kontroll.cases import services as cases
from kontroll.cases.models import SnapshotCase
from kontroll.core import users as user_svc
from kontroll.core.models import Role, User
from kontroll.core.permissions import JOB_ROLES, Job, may_hold
from kontroll.db import get_database
from kontroll.genomgang import services as genomgang
from kontroll.genomgang.models import Genomgang
from kontroll.reviews.models import Atgard, Brist
from kontroll.sampling import services as sampling
from kontroll.sampling.models import Assignment
from tests.support.web import csrf_from, login

LIST = ("Ärendenummer;Handläggare;Grupp\r\n" + "".join(f"EB-{i};Extern Person;Grupp 1\r\n" for i in range(1, 7))).encode()
JUSTIFICATION = "Ingen annan i enheten kan granska denna månad enligt reglerna."


@pytest.fixture
def town(app, world, tmp_path):
    """IFO-FS with Grupp 1 led by 'forste', a second förste, a list, a draw (one case), a
    brist from a genomgång and a second genomgång planned; the INT förste and the org-wide
    roles exist too. Returns {username: user id}."""
    import shutil
    from pathlib import Path

    directory = tmp_path / "checklists"
    shutil.copytree(Path(__file__).resolve().parents[2] / "checklists", directory)
    app.config["CHECKLISTS_DIR"] = str(directory)
    with get_database(app).session_scope() as session:
        unit = user_svc.get_unit_by_code(session, "IFO-FS")
        unit.sample_size = 1
        forste = user_svc.get_user_by_username(session, "forste")
        f2 = user_svc.create_user(session, "t", username="forste2", full_name="Forste Två", password=None)
        user_svc.add_role(session, "t", f2, Role.FORSTE_SOCIALSEKRETERARE, unit)
        user_svc.create_team(session, "t", unit, "Grupp 1", forste)
        cases.import_file(session, forste, unit, LIST, "l.csv", source="cli")
        sampling.run_draw(session, user_svc.get_user_by_username(session, "sektionschef"), unit, "2026-05")
        done = genomgang.plan(session, forste, unit, dt.date(2026, 3, 1))
        genomgang.plan(session, forste, unit, dt.date(2026, 6, 1))
        template = checklists_svc.genomgang_template(directory)
        genomgang.start(session, forste, done, [forste, f2], template)
        case_id = session.scalar(select(SnapshotCase.id).where(SnapshotCase.snapshot_id == done.snapshot_id).limit(1))
        area = template.areas[0].key
        genomgang.record_result(session, forste, done, case_id, "brist", {area: "Beräkningen saknas."})
    with get_database(app).session_scope() as session:
        return {u.username: u.id for u in session.scalars(select(User))}


def _expected(app, username: str, job: Job) -> bool:
    with get_database(app).session_scope() as session:
        user = user_svc.get_user_by_username(session, username)
        return may_hold(user, job, user_svc.get_unit_by_code(session, "IFO-FS"))


def _holders(app, job):
    with get_database(app).session_scope() as session:
        unit = user_svc.get_unit_by_code(session, "IFO-FS")
        return {u.username for u in session.scalars(select(User)) if may_hold(u, job, unit)}


def test_the_matrix_is_what_the_roles_say(app, town):
    assert _holders(app, Job.REVIEWER) == {"forste", "forste2", "enhetschef"}
    assert _holders(app, Job.ATGARD_OWNER) == {"sektionschef", "forste", "forste2", "enhetschef"}
    assert _holders(app, Job.ATGARD_VERIFIER) == {"sektionschef", "enhetschef"}
    assert _holders(app, Job.GENOMGANG_PARTICIPANT) == {"forste", "forste2"}
    # org-wide roles never count as a role in a unit, whatever the job
    for job in Job:
        assert not JOB_ROLES[job] & {Role.NAMND, Role.REVISOR, Role.SYSTEMADMINISTRATOR}


@pytest.mark.parametrize("username", ["sektionschef", "administrator", "forste", "forste2", "enhetschef",
                                      "handlaggare", "namnd", "revisor", "sysadmin", "forste.int"])
@pytest.mark.parametrize("with_reason", [False, True])
def test_reviewer_by_crafted_post(app, client, db, town, username, with_reason):
    draw = db.scalars(select(sampling.Draw)).one()
    dc = draw.cases[0]
    login(client, "sektionschef")
    token = csrf_from(client.get(f"/enheter/IFO-FS/stickprov/{draw.id}").get_data(as_text=True))
    data = {"csrf_token": token, "reviewer": str(town[username])}
    if with_reason:
        data["override_reason"] = JUSTIFICATION
    response = client.post(f"/enheter/IFO-FS/stickprov/{draw.id}/arenden/{dc.id}/granskare", data=data)
    # the drawer never reviews; forste leads Grupp 1 (hemmablindhet: others are eligible, so no
    # override even with a justification); an override never makes anyone else a reviewer
    allowed = username in ("enhetschef", "forste2")
    assert (response.status_code == 302) == allowed, (username, response.status_code)
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Assignment)) == (1 if allowed else 0)
    if not allowed and username not in ("sektionschef", "forste", "enhetschef"):
        assert "1:e socialsekreterare eller enhetschef i enheten" in response.get_data(as_text=True)


@pytest.mark.parametrize("username", ["sektionschef", "administrator", "forste", "enhetschef", "handlaggare",
                                      "namnd", "revisor", "sysadmin", "forste.int"])
def test_atgard_owner_by_crafted_post(app, client, db, town, username):
    brist_id = db.scalar(select(Brist.id))
    login(client, "sektionschef")
    token = csrf_from(client.get("/enheter/IFO-FS/brister").get_data(as_text=True))
    response = client.post("/enheter/IFO-FS/atgarder", data={
        "csrf_token": token, "brister": str(brist_id), "description": "Gå igenom rutinen.",
        "owner": str(town[username]), "due_date": (dt.date.today() + dt.timedelta(days=20)).isoformat()})
    allowed = _expected(app, username, Job.ATGARD_OWNER)
    assert (response.status_code == 302) == allowed, (username, response.status_code)
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Atgard)) == (1 if allowed else 0)
    if not allowed:
        assert "Välj en ansvarig som är" in response.get_data(as_text=True)


@pytest.mark.parametrize("username", ["sektionschef", "administrator", "forste", "enhetschef", "handlaggare",
                                      "namnd", "revisor", "sysadmin", "forste.int"])
def test_atgard_verifier(app, db, town, username):
    from kontroll.core.permissions import PermissionDenied
    from kontroll.reviews import services as reviews

    with get_database(app).session_scope() as session:
        unit = user_svc.get_unit_by_code(session, "IFO-FS")
        atgard = reviews.open_atgard(session, user_svc.get_user_by_username(session, "sektionschef"), unit,
                                     [session.scalar(select(Brist.id))], "Gå igenom rutinen.",
                                     user_svc.get_user_by_username(session, "forste"),
                                     dt.date.today() + dt.timedelta(days=20))
        reviews.complete_atgard(session, user_svc.get_user_by_username(session, "forste"), atgard, "Gjort på mötet.")
        atgard_id = atgard.id
    allowed = _expected(app, username, Job.ATGARD_VERIFIER)
    with get_database(app).session_scope() as session:
        actor = user_svc.get_user_by_username(session, username)
        if allowed:
            reviews.verify_atgard(session, actor, session.get(Atgard, atgard_id), "Ser bra ut.")
        else:
            with pytest.raises(PermissionDenied):
                reviews.verify_atgard(session, actor, session.get(Atgard, atgard_id), "Ser bra ut.")
    db.expire_all()
    assert (db.get(Atgard, atgard_id).state == "verifierad") == allowed


@pytest.mark.parametrize("username", ["sektionschef", "administrator", "enhetschef", "handlaggare", "namnd", "revisor",
                                      "sysadmin", "forste.int"])
def test_genomgang_participant_by_crafted_post(app, client, db, town, username):
    gid = db.scalar(select(Genomgang.id).where(Genomgang.state == "planerad"))
    login(client, "forste")
    token = csrf_from(client.get(f"/enheter/IFO-FS/genomgangar/{gid}").get_data(as_text=True))
    response = client.post(f"/enheter/IFO-FS/genomgangar/{gid}/starta",
                           data={"csrf_token": token, "participants": [str(town["forste"]), str(town[username])]})
    assert response.status_code == 422, username
    assert "förste socialsekreterare i enheten" in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(Genomgang, gid).state == "planerad"
    response = client.post(f"/enheter/IFO-FS/genomgangar/{gid}/starta",
                           data={"csrf_token": token, "participants": [str(town["forste"]), str(town["forste2"])]})
    assert response.status_code == 302
