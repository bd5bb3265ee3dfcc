"""Helpers for tests of the monthly draw: a case list for IFO-FS and a draw made through the
service. The ``unit_setup`` fixture (tests/conftest.py) imports :func:`case_list` into IFO-FS."""

from __future__ import annotations

from kontroll.core import users as user_svc
from kontroll.db import get_database
from kontroll.sampling import services as svc

PERIOD = "2026-12"


def case_list(n: int = 12) -> bytes:
    """n cases: even ones handled by Anna (ANAN, Grupp 1), odd ones by Bo (BOBO, Grupp 2)."""
    lines = ["Ärendenummer;Handläggare;Sign;Grupp"]
    for i in range(1, n + 1):
        who = "Anna A;ANAN;Grupp 1" if i % 2 == 0 else "Bo B;BOBO;Grupp 2"
        lines.append(f"EB-{i:03d};{who}")
    return ("\r\n".join(lines) + "\r\n").encode()


def draw_as(app, username: str, period: str = PERIOD, **kw) -> int:
    with get_database(app).session_scope() as session:
        actor = user_svc.get_user_by_username(session, username)
        unit = user_svc.get_unit_by_code(session, kw.pop("unit", "IFO-FS"))
        return svc.run_draw(session, actor, unit, period, **kw).id
