"""Fixtures: IFO-FS with two förste socialsekreterare (forste, forste2), handläggare Anna and
Bo, a 12-case list and the checklist templates copied into a temporary CHECKLISTS_DIR."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from kontroll.checklists import services as checklists_svc
from kontroll.cases import services as cases
from kontroll.core import users as user_svc
from kontroll.core.models import Role
from kontroll.db import get_database
from kontroll.genomgang import services as svc
from kontroll.genomgang.models import Genomgang
from tests.sampling.test_draws import case_list

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def checklists(app, tmp_path) -> Path:
    directory = tmp_path / "checklists"
    shutil.copytree(ROOT / "checklists", directory)
    app.config["CHECKLISTS_DIR"] = str(directory)
    return directory


@pytest.fixture
def setup(app, db, world, checklists):
    forste2 = user_svc.create_user(db, "t", username="forste2", full_name="Förste Två", password="ett-bra-losenord")
    user_svc.add_role(db, "t", forste2, Role.FORSTE_SOCIALSEKRETERARE, world.ifo)
    for username, sig in (("anna", "ANAN"), ("bo", "BOBO")):
        u = user_svc.create_user(db, "t", username=username, full_name=username.title(), password=None,
                                 case_system_id=sig)
        user_svc.add_role(db, "t", u, Role.SOCIALSEKRETERARE, world.ifo)
    db.commit()
    import_list(app, case_list())
    return {"forste2": forste2}


def import_list(app, data: bytes, who: str = "forste") -> None:
    with get_database(app).session_scope() as session:
        cases.import_file(session, user_svc.get_user_by_username(session, who),
                          user_svc.get_unit_by_code(session, "IFO-FS"), data, "lista.csv", source="cli")


def planned(app, day: str = "2026-03-10", who: str = "forste") -> int:
    with get_database(app).session_scope() as session:
        return svc.plan(session, user_svc.get_user_by_username(session, who),
                        user_svc.get_unit_by_code(session, "IFO-FS"), dt.date.fromisoformat(day)).id


def started(app, checklists, day: str = "2026-03-10") -> int:
    gid = planned(app, day)
    with get_database(app).session_scope() as session:
        g = session.get(Genomgang, gid)
        people = [user_svc.get_user_by_username(session, u) for u in ("forste", "forste2")]
        svc.start(session, people[0], g, people, checklists_svc.genomgang_template(checklists))
    return gid
