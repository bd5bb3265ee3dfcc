"""The start page, a unit's page, the audit log page and the health check. Signing in and out
is in :mod:`kontroll.core.account_views`."""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, g, render_template, request
from sqlalchemy import select, text

from kontroll.core import audit, users
from kontroll.core.actions import Page, unit_with
from kontroll.core.error_pages import discard_db_session
from kontroll.core.hooks import hooks_of
from kontroll.core.inputs import date_or_none
from kontroll.core.models import Unit
from kontroll.core.permissions import Perm, can, units_where
from kontroll.core.timezone import local_today, local_zone
from kontroll.core.todos import for_the_page, todos_for
from kontroll.core.web import current_user, login_required, require_perm
from kontroll.db import get_session

bp = Blueprint("core", __name__)


@bp.get("/halsa")
def health() -> Response:
    """For monitoring, without login: 200 ``{"status": "ok", ...}`` when the database answers
    a query and its schema is the one this code expects (``kontroll db upgrade`` has run);
    503 with ``"status": "fel"`` otherwise. The body never carries error details: the
    reason goes to the log."""

    def answer(status: int, **parts: str) -> Response:
        body = {"status": "ok" if status == 200 else "fel", **parts}
        return Response(json.dumps(body, ensure_ascii=False), status, mimetype="application/json")

    db = get_session()
    try:
        db.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "does not answer"
        current_app.logger.error("health check: the database does not answer (%s)", type(exc).__name__)
        discard_db_session()
        return answer(503, databas="svarar inte")
    try:
        stored = set(db.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except Exception as exc:  # noqa: BLE001 - no version table: never migrated
        current_app.logger.error("health check: no schema version in the database (%s); "
                                 "run kontroll db upgrade", type(exc).__name__)
        discard_db_session()
        return answer(503, databas="ok", schema="inte migrerad")
    expected = _schema_head()
    if stored != {expected}:
        current_app.logger.error("health check: database schema %s, this code expects %s; "
                                 "run kontroll db upgrade", ",".join(sorted(stored)) or "none", expected)
        return answer(503, databas="ok", schema="inte migrerad")
    return answer(200, databas="ok", schema="ok")


_schema_heads: list[str | None] = []


def _schema_head() -> str | None:
    """The Alembic head revision of this code (read once per process)."""
    if not _schema_heads:
        from alembic.script import ScriptDirectory

        from kontroll.migrate import MIGRATIONS_DIR

        _schema_heads.append(ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head())
    return _schema_heads[0]


@bp.get("/")
@login_required
def start() -> str:
    """What the user has to do (kontroll.core.todos), then a card per part of the routine they
    take part in: each feature decides its own from permissions (kontroll.core.hooks)."""
    user = current_user()
    assert user is not None
    db = get_session()
    hooks = hooks_of(db)
    today = local_today()
    todos = todos_for(db, user, today, current_app.config)
    return render_template(
        "core/start.html",
        todos=for_the_page(todos, db),
        total=len(todos),
        today=today,
        cards=[part for provider in hooks.start_cards for part in provider(db, user)],
        may_audit=can(user, Perm.VIEW_AUDIT_LOG),
        may_administer=can(user, Perm.MANAGE_USERS),
        assignments=sorted(user.role_assignments, key=lambda a: (a.unit.code if a.unit else "", a.role.label)),
    )


@bp.get("/enheter/<code>")
@login_required
def unit_overview(code: str) -> str:
    unit = unit_with(code, Perm.VIEW_UNIT)
    db = get_session()
    user = current_user()
    assert user is not None
    teams, members = users.unit_people(db, unit)
    sections = [s for s in (provider(db, user, unit) for provider in hooks_of(db).unit_sections) if s is not None]
    return render_template("core/unit.html", unit=unit, teams=teams, members=members, sections=sections)


PAGE_SIZE = 50


@bp.get("/revision/logg")
@login_required
def audit_log() -> str:
    db = get_session()
    me = current_user()
    # a revisor for the whole organisation reads the whole log; one for some units, their entries
    everywhere = can(me, Perm.VIEW_AUDIT_LOG)
    units = (list(db.scalars(select(Unit).order_by(Unit.name))) if everywhere
             else sorted(units_where(db, me, Perm.VIEW_AUDIT_LOG), key=lambda u: u.name))
    if not units and not everywhere:
        require_perm(Perm.VIEW_AUDIT_LOG)
    args = {name: request.args.get(name, "").strip() for name in ("handelse", "anvandare", "enhet", "objekt",
                                                                    "fran", "till")}
    date_from, date_to = date_or_none(args["fran"]), date_or_none(args["till"])
    unit = next((u for u in units if u.code == args["enhet"]), None)
    search = audit.LogSearch(
        action=args["handelse"], actor=args["anvandare"], obj=args["objekt"], date_from=date_from, date_to=date_to,
        unit_id=(unit.id if unit else -1) if args["enhet"] else None,
        within_units=None if everywhere else [u.id for u in units],
    )
    tz = local_zone()
    page = Page.of(audit.search_count(db, search, tz), PAGE_SIZE)
    chain = None
    if request.args.get("kontrollera") == "1":
        chain = audit.verify_chain(db, current_app.config["AUDIT_KEY_BYTES"])
    return render_template(
        "core/audit_log.html",
        entries=audit.search_entries(db, search, tz, offset=page.offset, limit=PAGE_SIZE),
        total=page.total,
        page=page.number,
        pages=page.pages,
        action_labels=audit.ACTION_LABELS,
        units=units,
        unit_codes={u.id: u.code for u in units},
        filters=args,
        chain=chain,
        bad_dates=(args["fran"] and not date_from) or (args["till"] and not date_to),
        object_words=lambda e: audit.object_words(e, json.loads(e.details or "{}")),
        detail_words=lambda e: audit.detail_words(json.loads(e.details or "{}"), hooks_of(db).audit_values),
    )


@bp.app_context_processor
def _layout_context() -> dict[str, object]:
    user = g.get("user")
    try:
        db = get_session()
        nav_units = units_where(db, user, Perm.VIEW_UNIT) if user else []
        nav_items = [item for source in hooks_of(db).nav_items for item in source(db, user)] if user else []
    except Exception:  # the database may be the reason we render an error page
        nav_units, nav_items = [], []
    return {"organisation": current_app.config["ORGANISATION_NAME"], "nav_units": nav_units, "nav_items": nav_items}

