"""Fixtures: IFO-FS with a drawn stickprov whose two cases are assigned to the enhetschef,
and the checklist templates copied into a temporary CHECKLISTS_DIR."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from kontroll.checklists.validation import load_templates
from kontroll.core import users as user_svc
from kontroll.db import get_database
from kontroll.reviews import services as svc
from kontroll.sampling import services as sampling
from kontroll.sampling.models import DrawnCase
from tests.sampling.test_draws import draw_as, unit_setup  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_ID = "stickprov-forsorjningsstod"


@pytest.fixture
def checklists(app, tmp_path) -> Path:
    directory = tmp_path / "checklists"
    shutil.copytree(ROOT / "checklists", directory)
    app.config["CHECKLISTS_DIR"] = str(directory)
    return directory


def assign(app, draw_id: int, case_ref: str, reviewer: str, actor: str = "sektionschef") -> None:
    with get_database(app).session_scope() as session:
        dc = session.scalar(select(DrawnCase).where(DrawnCase.draw_id == draw_id, DrawnCase.case_ref == case_ref))
        sampling.assign_reviewer(session, user_svc.get_user_by_username(session, actor), dc,
                                 user_svc.get_user_by_username(session, reviewer))


@pytest.fixture
def drawn(app, db, world, unit_setup, checklists):  # noqa: F811
    """The draw id and its two drawn case ids, both reviewed by the enhetschef."""
    draw_id = draw_as(app, "sektionschef")
    cases = list(db.scalars(select(DrawnCase).where(DrawnCase.draw_id == draw_id).order_by(DrawnCase.position)))
    for dc in cases:
        assign(app, draw_id, dc.case_ref, "enhetschef")
    return {"draw_id": draw_id, "cases": [dc.id for dc in cases], "refs": [dc.case_ref for dc in cases]}


def template(checklists: Path):
    return load_templates(checklists)[TEMPLATE_ID]


def full_form(checklists: Path, deviation_on: str | None = None, comment_all: bool = True) -> dict[str, str]:
    """Every item answered "ja" (comment where required); ``deviation_on`` gets its deviating answer."""
    data: dict[str, str] = {}
    for _, item in template(checklists).items():
        answer = item.deviation if item.key == deviation_on else ("ja" if "ja" in item.answers else item.answers[0])
        data[f"svar-{item.key}"] = answer
        if comment_all or item.requires_comment(answer):
            data[f"kommentar-{item.key}"] = f"Anteckning om {item.key}."
    return data


def open_review(app, username: str, drawn_case_id: int, checklists: Path) -> int:
    with get_database(app).session_scope() as session:
        actor = user_svc.get_user_by_username(session, username)
        dc = session.get(DrawnCase, drawn_case_id)
        return svc.open_review(session, actor, dc, template(checklists)).id
