"""Login, logout, the start page, unit overview, the audit log page and the health check."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, url_for
from sqlalchemy import func, select, text
from sqlalchemy.orm import selectinload

from kontroll.core import auth, hooks
from kontroll.core.audit import ACTION_LABELS
from kontroll.core.models import AuditEntry, Role, RoleAssignment, Team, Unit, User
from kontroll.core.permissions import Perm, all_roles, units_where
from kontroll.core.web import (
    _local_next,
    current_user,
    end_login_session,
    login_required,
    page_arg,
    require_perm,
    start_login_session,
)
from kontroll.db import get_session

bp = Blueprint("core", __name__)


@bp.get("/halsa")
def health() -> Response:
    """For monitoring: 200 when the database answers, 503 otherwise."""
    try:
        get_session().execute(text("SELECT 1"))
    except Exception:
        return Response(json.dumps({"status": "fel", "databas": "svarar inte"}), 503, mimetype="application/json")
    return Response(json.dumps({"status": "ok", "databas": "ok"}), 200, mimetype="application/json")


@bp.route("/logga-in", methods=["GET", "POST"])
def login() -> Response | str:
    next_url = _local_next(request.values.get("next"))
    if request.method == "GET":
        if current_user() is not None:
            return redirect(next_url or url_for("core.start"))
        return render_template("core/login.html", next_url=next_url, username="", error=None,
                               expired=request.args.get("utgangen") == "1")

    username = request.form.get("username", "")[:200]
    password = request.form.get("password", "")[:512]
    resume_url = _local_next(request.form.get("resume_url"))
    resume_data = request.form.get("resume_data", "")
    db = get_session()
    cfg = current_app.config
    result = auth.authenticate(
        db,
        username,
        password,
        max_failures=cfg["LOGIN_MAX_FAILURES"],
        lock_seconds=cfg["LOGIN_LOCK_SECONDS"],
    )
    if not result.ok:
        db.commit()  # the failure count and the audit entry are kept
        return Response(
            render_template(
                "core/login.html",
                next_url=next_url,
                username=username,
                error=result.message,
                resume_url=resume_url,
                resume_data=resume_data,
            ),
            status=401,
        )
    assert result.user is not None
    start_login_session(result.user)
    db.commit()
    if resume_url and resume_data:
        try:
            kept = [(str(k), str(v)) for k, v in json.loads(resume_data)][:2000]
        except (ValueError, TypeError):
            kept = []
        if kept:
            return render_template("core/resume.html", resume_url=resume_url, kept=kept)
    return redirect(next_url or url_for("core.start"))


@bp.post("/logga-ut")
def logout() -> Response:
    user = current_user()
    if user is not None:
        from kontroll.core import audit

        db = get_session()
        audit.record(db, user, "logout", object_type="user", object_id=user.id)
        end_login_session()
        db.commit()
    return redirect(url_for("core.login", utloggad=1))


@bp.get("/")
@login_required
def start() -> str:
    user = current_user()
    assert user is not None
    db = get_session()
    roles = all_roles(user)
    view_units = units_where(db, user, Perm.VIEW_UNIT)
    return render_template(
        "core/start.html",
        roles=roles,
        Role=Role,
        view_units=view_units,
        assignments=sorted(
            user.role_assignments, key=lambda a: (a.unit.code if a.unit else "", a.role.label)
        ),
    )


@bp.get("/enheter/<code>")
@login_required
def unit_overview(code: str) -> str:
    db = get_session()
    unit = db.scalar(select(Unit).where(Unit.code == code.upper()))
    if unit is None:
        abort(404)
    require_perm(Perm.VIEW_UNIT, unit)
    teams = list(
        db.scalars(select(Team).where(Team.unit_id == unit.id).options(selectinload(Team.lead)).order_by(Team.name))
    )
    members = db.execute(
        select(User, RoleAssignment.role)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.unit_id == unit.id, User.is_active.is_(True))
        .order_by(User.full_name)
    ).all()
    by_user: dict[int, tuple[User, list[Role]]] = {}
    for member, role in members:
        by_user.setdefault(member.id, (member, []))[1].append(role)
    user = current_user()
    assert user is not None
    sections = [s for s in (provider(db, user, unit) for provider in hooks.unit_sections) if s is not None]
    return render_template(
        "core/unit.html", unit=unit, teams=teams, members=list(by_user.values()), sections=sections
    )


PAGE_SIZE = 50


@bp.get("/revision/logg")
@login_required
def audit_log() -> str:
    require_perm(Perm.VIEW_AUDIT_LOG)
    db = get_session()
    query = select(AuditEntry)
    action = request.args.get("handelse", "").strip()
    actor = request.args.get("anvandare", "").strip()
    date_from = _parse_date(request.args.get("fran"))
    date_to = _parse_date(request.args.get("till"))
    tz = ZoneInfo(current_app.config["TIMEZONE"])
    if action:
        query = query.where(AuditEntry.action == action)
    if actor:
        query = query.where(func.lower(AuditEntry.actor_label) == actor.lower())
    if date_from:
        query = query.where(AuditEntry.occurred_dt >= dt.datetime.combine(date_from, dt.time(), tz))
    if date_to:
        query = query.where(
            AuditEntry.occurred_dt < dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tz)
        )
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = page_arg(total, PAGE_SIZE)
    entries = list(
        db.scalars(query.order_by(AuditEntry.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    )
    return render_template(
        "core/audit_log.html",
        entries=entries,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        action_labels=ACTION_LABELS,
        filters={"handelse": action, "anvandare": actor, "fran": request.args.get("fran", ""),
                 "till": request.args.get("till", "")},
        bad_dates=(request.args.get("fran") and not date_from) or (request.args.get("till") and not date_to),
        details=lambda e: json.loads(e.details or "{}"),
    )


def _parse_date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        return None


@bp.app_context_processor
def _layout_context() -> dict[str, object]:
    user = g.get("user")
    try:
        nav_units = units_where(get_session(), user, Perm.VIEW_UNIT) if user else []
    except Exception:  # the database may be the reason we render an error page
        nav_units = []
    return {"organisation": current_app.config["ORGANISATION_NAME"], "nav_units": nav_units}

