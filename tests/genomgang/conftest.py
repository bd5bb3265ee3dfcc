"""Fixtures: IFO-FS with two förste socialsekreterare (forste, forste2), handläggare Anna and
Bo, a 12-case list and the checklist templates copied into a temporary CHECKLISTS_DIR."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kontroll.core import users as user_svc
from kontroll.core.models import Role
from tests.support.app import ROOT
from tests.support.draws import case_list
from tests.support.genomgang import import_list


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
