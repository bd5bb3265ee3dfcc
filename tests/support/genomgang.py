"""Helpers for tests of genomgångar in IFO-FS: import a case list, plan a genomgång, plan and
start one. The fixtures that set up the unit and the templates are in tests/genomgang/conftest.py."""

from __future__ import annotations

import datetime as dt

from kontroll.cases import services as cases
from kontroll.checklists import services as checklists_svc
from kontroll.core import users as user_svc
from kontroll.db import get_database
from kontroll.genomgang import services as svc
from kontroll.genomgang.models import Genomgang


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
