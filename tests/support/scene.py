"""The fuzz tests' municipality (:class:`Scene`, built by :func:`build_scene` on top of
:class:`tests.support.app.World`) and a snapshot of every table (:func:`table_rows`,
:func:`diff`), to check that a refused request changed nothing. The fixtures that build it
per test are in tests/fuzz/conftest.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from kontroll.cases import services as cases
from kontroll.checklists import services as checklists_svc
from kontroll.core import notifications
from kontroll.core import users as user_svc
from kontroll.core.models import Role
from kontroll.core.periods import Period
from kontroll.db import Base, get_database, utcnow
from kontroll.genomgang import services as genomgang
from kontroll.reviews import services as reviews
from kontroll.reviews.models import Brist
from kontroll.sampling import services as sampling
from kontroll.sampling.models import DrawnCase
from tests.support.app import PASSWORD


def case_list(n: int = 12, prefix: str = "EB") -> bytes:
    lines = ["Ärendenummer;Handläggare;Sign;Grupp"]
    for i in range(1, n + 1):
        who = "Anna A;ANAN;Grupp 1" if i % 2 == 0 else "Bo B;BOBO;Grupp 2"
        lines.append(f"{prefix}-{i:03d};{who}")
    return ("\r\n".join(lines) + "\r\n").encode()


@dataclass
class Scene:
    """Ids of everything the forms can point at, in IFO-FS (and a little in INT)."""

    users: dict[str, int] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)
    teams: list[int] = field(default_factory=list)
    role_assignments: dict[str, list[int]] = field(default_factory=dict)
    snapshot_cases: list[int] = field(default_factory=list)
    draw_id: int = 0
    int_draw_id: int = 0
    drawn_cases: list[int] = field(default_factory=list)
    signed_review: int = 0
    draft_review: int = 0
    brister: list[int] = field(default_factory=list)
    atgard_open: int = 0
    atgard_done: int = 0
    genomgang_planned: int = 0
    genomgang_started: int = 0
    notifications: dict[str, list[int]] = field(default_factory=dict)
    api_token: str = ""
    int_api_token: str = ""
    revoked_api_token: str = ""
    token_ids: list[int] = field(default_factory=list)
    pending_id: str = ""
    totp_secrets: dict[str, str] = field(default_factory=dict)  # "tvasteg" (on), "halvvags" (enrolling)
    review_items: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    genomgang_areas: list[str] = field(default_factory=list)

    def all_ids(self) -> list[int]:
        """Every id in the scene, for "some other object's id" strategies."""
        ids = set(self.users.values()) | set(self.units.values()) | set(self.teams) | set(self.snapshot_cases)
        ids |= {self.draw_id, self.int_draw_id, self.signed_review, self.draft_review, self.atgard_open,
                self.atgard_done, self.genomgang_planned, self.genomgang_started}
        ids |= set(self.drawn_cases) | set(self.brister) | set(self.token_ids)
        for v in list(self.notifications.values()) + list(self.role_assignments.values()):
            ids |= set(v)
        return sorted(ids)


def build_scene(app: Flask, checklists: Path) -> Scene:
    """IFO-FS with a case list, this month's draw with two reviewed cases (one signed with a
    brist, one draft), an open and a genomförd åtgärd, a planned and a started genomgång,
    notifications, API tokens and a pending import; INT with a list, a draw and a token.
    Needs the conftest's World."""
    s = Scene()
    database = get_database(app)
    period = str(Period.of(utcnow()))
    today = dt.date.today()
    with database.session_scope() as db:
        get = lambda name: user_svc.get_user_by_username(db, name)  # noqa: E731
        ifo = user_svc.get_unit_by_code(db, "IFO-FS")
        intu = user_svc.get_unit_by_code(db, "INT")
        forste2 = user_svc.create_user(db, "t", username="forste2", full_name="Förste Två", password="ett-bra-losenord")
        user_svc.add_role(db, "t", forste2, Role.FORSTE_SOCIALSEKRETERARE, ifo)
        for username, sig in (("anna", "ANAN"), ("bo", "BOBO")):
            u = user_svc.create_user(db, "t", username=username, full_name=username.title(), password=None,
                                     case_system_id=sig)
            user_svc.add_role(db, "t", u, Role.SOCIALSEKRETERARE, ifo)
        user_svc.add_role(db, "t", get("sektionschef"), Role.FORSTE_SOCIALSEKRETERARE, ifo)
        user_svc.create_team(db, "t", ifo, "Grupp 1", get("forste"))
        user_svc.create_team(db, "t", ifo, "Grupp 2", forste2)
        user_svc.create_team(db, "t", intu, "INT-gruppen", get("forste.int"))
        cases.import_file(db, get("forste"), ifo, case_list(), "lista.csv", source="cli")
        cases.import_file(db, get("forste.int"), intu, case_list(6, "INT"), "int.csv", source="cli")
        db.flush()

        draw = sampling.run_draw(db, get("sektionschef"), ifo, period)
        s.int_draw_id = sampling.run_draw(db, get("administrator"), intu, period).id
        s.draw_id = draw.id
        drawn = sorted(draw.cases, key=lambda c: c.position)
        s.drawn_cases = [dc.id for dc in drawn]
        for dc in drawn:
            sampling.assign_reviewer(db, get("sektionschef"), dc, get("enhetschef"))
        template = checklists_svc.stickprov_template(checklists)
        s.review_items = [(item.key, tuple(item.answers)) for _, item in template.items()]
        signed = reviews.open_review(db, get("enhetschef"), drawn[0], template)
        answers: dict[str, tuple[str, str]] = {}
        for i, (_, item) in enumerate(template.items()):
            answer = item.deviation if i == 0 else ("ja" if "ja" in item.answers else item.answers[0])
            answers[item.key] = (answer, f"Anteckning om {item.key}.")
        reviews.sign(db, get("enhetschef"), signed, answers)
        s.signed_review = signed.id
        s.draft_review = reviews.open_review(db, get("enhetschef"), drawn[1], template).id
        db.flush()
        s.brister = list(db.scalars(select(Brist.id).where(Brist.review_id == signed.id)))
        due = today + dt.timedelta(days=30)
        s.atgard_open = reviews.open_atgard(db, get("sektionschef"), ifo, s.brister, "Gå igenom underskrifter.",
                                            get("enhetschef"), due, today=today).id
        done = reviews.open_atgard(db, get("sektionschef"), ifo, s.brister, "Påminn om underskrift.",
                                   get("enhetschef"), due, today=today)
        reviews.complete_atgard(db, get("enhetschef"), done, "Tog upp det på gruppmötet.")
        s.atgard_done = done.id

        s.genomgang_planned = genomgang.plan(db, get("forste"), ifo, dt.date(today.year, 12, 1)).id
        started = genomgang.plan(db, get("forste"), ifo, dt.date(today.year, 1, 2))
        gtemplate = checklists_svc.genomgang_template(checklists)
        s.genomgang_areas = [a.key for a in gtemplate.areas]
        genomgang.start(db, get("forste"), started, [get("forste"), forste2], gtemplate)
        s.genomgang_started = started.id

        for name in ("handlaggare", "sysadmin", "enhetschef"):
            s.notifications[name] = [
                notifications.notify(db, get(name), kind="review.late", title=f"Meddelande {i}",
                                     body="Text.", link="/granskningar", dedupe_key=f"fuzz:{name}:{i}").id
                for i in range(2)
            ]
        s.api_token, row = cases.create_api_token(db, get("sektionschef"), ifo, "Verksamhetssystemet")
        s.int_api_token, int_row = cases.create_api_token(db, get("administrator"), intu, "INT-systemet")
        s.revoked_api_token, revoked = cases.create_api_token(db, get("sektionschef"), ifo, "Gammal")
        db.flush()
        cases.revoke_api_token(db, get("sektionschef"), ifo, revoked.id)
        s.token_ids = [row.id, int_row.id, revoked.id]
        # two-step verification: on for "tvasteg", begun but not confirmed for "halvvags"; SSO for "bo"
        from kontroll.core import sso, totp

        key = app.config["SECRET_KEY"]
        for username, enabled in (("tvasteg", True), ("halvvags", False)):
            u = user_svc.create_user(db, "t", username=username, full_name=username.title(), password=PASSWORD)
            user_svc.add_role(db, "t", u, Role.SOCIALSEKRETERARE, ifo)
            s.totp_secrets[username] = totp.begin_enrolment(db, u, key)
            if enabled:
                u.totp_enabled_dt = utcnow()
        sso.link_user(db, "t", get("bo"), "72f988bf-86f1-41af-91ab-2d7cd011db47", "0b1c2d3e-0000-4000-8000-000000000001")
        preview = cases.prepare_import(db, ifo, case_list(14), "ny.csv", {})
        s.pending_id = cases.save_pending(db, get("forste"), preview).id
        db.flush()

        from kontroll.core.models import RoleAssignment, Team, Unit, User

        s.users = {u.username: u.id for u in db.scalars(select(User))}
        s.units = {u.code: u.id for u in db.scalars(select(Unit))}
        s.teams = list(db.scalars(select(Team.id)))
        for a in db.scalars(select(RoleAssignment)):
            s.role_assignments.setdefault(a.user.username, []).append(a.id)
        from kontroll.cases.models import SnapshotCase

        s.snapshot_cases = list(db.scalars(select(SnapshotCase.id).where(SnapshotCase.snapshot_id == started.snapshot_id)))
        assert db.get(DrawnCase, s.drawn_cases[0]) is not None
    return s


# --- the database snapshot ------------------------------------------------------------------

#: Columns of user_sessions that a request may change whatever it does: the visitor's
#: last-seen time (refreshed every 30 s by every request) and the queued flash messages
#: (kept in the session row, popped by every page). Everything else in that table (who is
#: logged in, tokens, CSRF secret) must stay as it was after a refusal.
SESSION_VOLATILE = {"last_seen_dt", "flashes"}


def _snapshot_queries() -> list[tuple[str, str, bool]]:
    """(table, SQL, anonymous-sessions-filtered) for every table; plain SQL, fast to run."""
    out = []
    for table in Base.metadata.sorted_tables:
        cols = [c.name for c in table.columns if not (table.name == "user_sessions" and c.name in SESSION_VOLATILE)]
        where = " WHERE user_id IS NOT NULL" if table.name == "user_sessions" else ""
        # a new anonymous visitor session (the stale-form page, the login page) is not a change
        order = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
        sql = f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} FROM "{table.name}"{where} ORDER BY {order}'
        out.append((table.name, sql, bool(where)))
    return out


#: column names per table as table_rows returns them
COLUMNS: dict[str, list[str]] = {
    t.name: [c.name for c in t.columns if not (t.name == "user_sessions" and c.name in SESSION_VOLATILE)]
    for t in Base.metadata.sorted_tables
}


def table_rows(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, ordered by primary key."""
    engine = get_database(app).engine.execution_options(kontroll_autocommit=True)
    queries = app.extensions.setdefault("fuzz_snapshot_queries", _snapshot_queries())
    with engine.connect() as conn:
        return {name: [tuple(r) for r in conn.exec_driver_sql(sql)] for name, sql, _ in queries}


def diff(before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]],
         allowed: Any = None) -> dict[str, dict[str, list[Any]]]:
    """{table: {"removed": [...], "added": [...]}} for tables that differ, after ``allowed``
    (a function (table, removed, added) -> (removed, added)) has taken away permitted changes."""
    changes: dict[str, dict[str, list[Any]]] = {}
    for name, rows in after.items():
        old = before.get(name, [])
        if old == rows:
            continue
        old_set, new_set = set(old), set(rows)
        removed = [r for r in old if r not in new_set]
        added = [r for r in rows if r not in old_set]
        if allowed is not None:
            removed, added = allowed(name, removed, added)
        if removed or added:
            changes[name] = {"removed": removed[:5], "added": added[:5]}
    return changes
