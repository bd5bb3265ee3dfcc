"""Fixtures: IFO-FS with a drawn stickprov whose two cases are assigned to the enhetschef,
and the checklist templates copied into a temporary CHECKLISTS_DIR."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from kontroll.sampling.models import DrawnCase
from tests.support.app import ROOT
from tests.support.draws import draw_as
from tests.support.reviews import assign


@pytest.fixture
def checklists(app, tmp_path) -> Path:
    directory = tmp_path / "checklists"
    shutil.copytree(ROOT / "checklists", directory)
    app.config["CHECKLISTS_DIR"] = str(directory)
    return directory


@pytest.fixture
def drawn(app, db, world, unit_setup, checklists):
    """The draw id and its two drawn case ids, both reviewed by the enhetschef."""
    draw_id = draw_as(app, "sektionschef")
    cases = list(db.scalars(select(DrawnCase).where(DrawnCase.draw_id == draw_id).order_by(DrawnCase.position)))
    for dc in cases:
        assign(app, draw_id, dc.case_ref, "enhetschef")
    return {"draw_id": draw_id, "cases": [dc.id for dc in cases], "refs": [dc.case_ref for dc in cases]}
