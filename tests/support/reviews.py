"""Helpers for tests of reviews: the stickprov template, a form answering every item, opening a
review and assigning a drawn case to a reviewer. The fixtures (the drawn stickprov, the
templates) are in tests/reviews/conftest.py."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from kontroll.checklists.validation import load_templates
from kontroll.core import users as user_svc
from kontroll.db import get_database
from kontroll.reviews import services as svc
from kontroll.sampling import services as sampling
from kontroll.sampling.models import DrawnCase

TEMPLATE_ID = "stickprov-forsorjningsstod"


def assign(app, draw_id: int, case_ref: str, reviewer: str, actor: str = "sektionschef") -> None:
    with get_database(app).session_scope() as session:
        dc = session.scalar(select(DrawnCase).where(DrawnCase.draw_id == draw_id, DrawnCase.case_ref == case_ref))
        sampling.assign_reviewer(session, user_svc.get_user_by_username(session, actor), dc,
                                 user_svc.get_user_by_username(session, reviewer))


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
