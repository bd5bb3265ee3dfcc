"""Systemadministratör's pages: users, roles, units and teams."""

from __future__ import annotations

from collections.abc import Callable

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    url_for,
)
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kontroll.core import sso, totp
from kontroll.core import users as user_svc
from kontroll.core.actions import Confirm, form_action, of_unit, page_again
from kontroll.core.errors import ValidationError
from kontroll.core.models import ORG_WIDE_ROLES, Role, RoleAssignment, Team, Unit, User
from kontroll.core.permissions import Job, Perm, job_holders_clause, role_conflict
from kontroll.core.web import (
    acting_user,
    form_id,
    login_required,
    require_perm,
    unit_or_404,
)
from kontroll.db import get_session

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def _only_admins() -> None:
    require_perm(Perm.MANAGE_USERS)


def _int(name: str, default: int | None = None) -> int:
    raw = request.form.get(name, "").strip()
    if not raw and default is not None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationError("Ange ett heltal.", name) from None


def _get_user(user_id: int) -> User:
    user = get_session().get(User, user_id)
    if user is None:
        abort(404)
    return user


def _units() -> list[Unit]:
    return list(get_session().scalars(select(Unit).order_by(Unit.code)))


# --- users -------------------------------------------------------------------------------


@bp.get("/anvandare")
def users() -> str:
    db = get_session()
    q = request.args.get("q", "").strip()
    query = select(User).order_by(User.full_name)
    if q:
        like = f"%{q.lower()}%"
        query = query.where(
            or_(func.lower(User.full_name).like(like), func.lower(User.username).like(like),
                func.lower(User.case_system_id).like(like))
        )
    return render_template("admin/users.html", users=list(db.scalars(query)), q=q)


@bp.route("/anvandare/ny", methods=["GET", "POST"])
def user_new() -> Response | str:
    form = request.form
    if request.method == "GET":
        return render_template("admin/user_new.html", form=form, error=None)
    return form_action(
        lambda db: user_svc.create_user(
            db, acting_user(), username=form.get("username", ""), full_name=form.get("full_name", ""),
            password=form.get("password", ""), email=form.get("email"), case_system_id=form.get("case_system_id"),
        ),
        on_error=page_again(lambda err, status: Response(render_template("admin/user_new.html", form=form, error=err),
                                                          status)),
        then=lambda user: url_for("admin.user_detail", user_id=user.id),
        done=lambda user: f"Användaren {user.full_name} är skapad. Ge den nu en eller flera roller.",
    )


def _render_user(user: User, error: ValidationError | None = None, status: int = 200) -> Response:
    html = render_template(
        "admin/user_detail.html",
        user=user,
        units=_units(),
        roles=list(Role),
        org_wide_roles=ORG_WIDE_ROLES,
        conflict=role_conflict({a.role for a in user.role_assignments}),
        error=error,
        form=request.form if error else {},
        sso_enabled=sso.is_enabled(current_app.config),
        default_tid=current_app.config.get("OIDC_TENANT_ID") or "",
    )
    return Response(html, status=status)


@bp.get("/anvandare/<int:user_id>")
def user_detail(user_id: int) -> Response:
    return _render_user(_get_user(user_id))


def _user_action(user_id: int, action, success: str,  # type: ignore[no-untyped-def]
                 confirm: Callable[[User, str], Confirm] | None = None) -> Response:
    user = _get_user(user_id)
    name = user.full_name
    back = url_for("admin.user_detail", user_id=user_id)
    return form_action(lambda db: action(db, user),
                       on_error=page_again(lambda err, status: _render_user(_get_user(user_id), err, status)),
                       then=back, done=success.format(name=name), confirm=confirm(user, back) if confirm else None)


@bp.post("/anvandare/<int:user_id>/uppgifter")
def user_update(user_id: int) -> Response:
    f = request.form
    return _user_action(
        user_id,
        lambda db, u: user_svc.update_user(
            db, acting_user(), u, full_name=f.get("full_name", ""), email=f.get("email"),
            case_system_id=f.get("case_system_id"),
        ),
        "Uppgifterna för {name} är sparade.",
    )


@bp.post("/anvandare/<int:user_id>/losenord")
def user_password(user_id: int) -> Response:
    return _user_action(
        user_id,
        lambda db, u: user_svc.set_password(db, acting_user(), u, request.form.get("password", "")),
        "Nytt lösenord är satt för {name}.",
    )


@bp.post("/anvandare/<int:user_id>/las-upp")
def user_unlock(user_id: int) -> Response:
    return _user_action(user_id, lambda db, u: user_svc.unlock_user(db, acting_user(), u), "Kontot för {name} är upplåst.")


@bp.post("/anvandare/<int:user_id>/stang-av")
def user_deactivate(user_id: int) -> Response:
    return _user_action(
        user_id,
        lambda db, u: user_svc.deactivate_user(db, acting_user(), u),  # type: ignore[arg-type]
        "{name} är avstängd och har loggats ut överallt.",
        lambda user, back: Confirm(
            title=f"Stäng av {user.full_name}?",
            consequences=(f"{user.full_name} loggas ut överallt och kan inte logga in förrän kontot aktiveras igen.",
                          "Rollerna finns kvar men ger ingen behörighet så länge kontot är avstängt.",
                          "Påminnelser och uppgifter går inte längre till personen."),
            button="Ja, stäng av kontot", back=back),
    )


@bp.post("/anvandare/<int:user_id>/aktivera")
def user_activate(user_id: int) -> Response:
    return _user_action(user_id, lambda db, u: user_svc.activate_user(db, acting_user(), u), "{name} är aktiv igen.")


@bp.post("/anvandare/<int:user_id>/sso")
def user_sso_link(user_id: int) -> Response:
    f = request.form
    return _user_action(
        user_id,
        lambda db, u: sso.link_user(db, acting_user(), u, f.get("oidc_tid"), f.get("oidc_oid")),  # type: ignore[arg-type]
        "{name} är kopplad till organisationskontot.",
    )


@bp.post("/anvandare/<int:user_id>/sso/ta-bort")
def user_sso_unlink(user_id: int) -> Response:
    return _user_action(
        user_id,
        lambda db, u: sso.unlink_user(db, acting_user(), u),  # type: ignore[arg-type]
        "Kopplingen till organisationskontot är borttagen för {name}.",
    )


@bp.post("/anvandare/<int:user_id>/tvastegsverifiering/aterstall")
def user_totp_reset(user_id: int) -> Response:
    return _user_action(
        user_id,
        lambda db, u: totp.reset(db, acting_user(), u),  # type: ignore[arg-type]
        "Tvåstegsverifieringen är avstängd för {name}. Hen loggar nu in med bara lösenord.",
    )


@bp.post("/anvandare/<int:user_id>/roller")
def user_add_role(user_id: int) -> Response:
    def add(db, user: User) -> None:  # type: ignore[no-untyped-def]
        role = user_svc.parse_role(request.form.get("role", ""))
        code = request.form.get("unit", "").strip()
        unit = None
        if code:
            unit = user_svc.get_unit_by_code(db, code)
            if unit is None:
                raise ValidationError(f"Enheten {code} finns inte.", "unit")
        user_svc.add_role(db, acting_user(), user, role, unit)  # type: ignore[arg-type]

    return _user_action(user_id, add, "Rollen är tilldelad {name}.")


@bp.post("/anvandare/<int:user_id>/roller/<int:assignment_id>/ta-bort")
def user_remove_role(user_id: int, assignment_id: int) -> Response:
    def remove(db, user: User) -> None:  # type: ignore[no-untyped-def]
        assignment = db.get(RoleAssignment, assignment_id)
        if assignment is None or assignment.user_id != user.id:
            abort(404)
        user_svc.remove_role(db, acting_user(), assignment)

    return _user_action(user_id, remove, "Rollen är borttagen för {name}.")


# --- units and teams ---------------------------------------------------------------------


@bp.get("/enheter")
def units() -> str:
    return render_template("admin/units.html", units=_units(), form={}, error=None, roles=Role)


@bp.post("/enheter")
def unit_create() -> Response:
    f = request.form
    return form_action(
        lambda db: user_svc.create_unit(db, acting_user(), code=f.get("code", ""), name=f.get("name", ""),
                                   drawer_role=user_svc.parse_role(f.get("drawer_role", "sektionschef")),
                                   sample_size=_int("sample_size", 2)),
        on_error=page_again(lambda err, status: Response(
            render_template("admin/units.html", units=_units(), form=f, error=err, roles=Role), status)),
        then=lambda unit: url_for("admin.unit_detail", code=unit.code),
        done=lambda unit: f"Enheten {unit.code} är skapad.",
    )


def _render_unit(unit: Unit, error: ValidationError | None = None, status: int = 200) -> Response:
    db = get_session()
    teams = list(db.scalars(select(Team).where(Team.unit_id == unit.id).order_by(Team.name)))
    leads = list(db.scalars(select(User).join(RoleAssignment, RoleAssignment.user_id == User.id)
                            .where(job_holders_clause(Job.TEAM_LEAD, unit)).distinct().order_by(User.full_name)))
    html = render_template(
        "admin/unit_detail.html", unit=unit, teams=teams, leads=leads, error=error,
        form=request.form if error else {}, roles=Role,
    )
    return Response(html, status=status)


@bp.get("/enheter/<code>")
def unit_detail(code: str) -> Response:
    return _render_unit(unit_or_404(code))


@bp.post("/enheter/<code>")
def unit_update(code: str) -> Response:
    unit = unit_or_404(code)
    f = request.form
    return _unit_action(code, lambda db: user_svc.update_unit(
        db, acting_user(), unit, name=f.get("name", ""), drawer_role=user_svc.parse_role(f.get("drawer_role", "")),
        sample_size=_int("sample_size"), genomgang_min=_int("genomgang_min"), genomgang_max=_int("genomgang_max"),
        hemmablindhet_protection=f.get("hemmablindhet_protection") == "ja",
        stratify_by_team=f.get("stratify_by_team") == "ja",
        exclude_reviewed_months=_int("exclude_reviewed_months", 0),
        snapshot_max_age_days=_int("snapshot_max_age_days", 35),
    ), f"Inställningarna för {unit.code} är sparade.")


def _unit_action(code: str, action, done: str) -> Response:  # type: ignore[no-untyped-def]
    return form_action(action, on_error=page_again(lambda err, status: _render_unit(unit_or_404(code), err, status)),
                       then=url_for("admin.unit_detail", code=code.upper()), done=done)


@bp.post("/enheter/<code>/grupper")
def team_create(code: str) -> Response:
    unit = unit_or_404(code)
    return _unit_action(code, lambda db: user_svc.create_team(db, acting_user(), unit, request.form.get("team_name", "")),
                        "Gruppen är skapad.")


@bp.post("/enheter/<code>/grupper/<int:team_id>/ledare")
def team_lead(code: str, team_id: int) -> Response:
    unit = unit_or_404(code)
    team = of_unit(Team, team_id, unit)
    lead_id = request.form.get("lead", "").strip()

    def set_lead(db: Session) -> None:
        lead = None
        if lead_id:
            lead = db.get(User, lead_pk) if (lead_pk := form_id(lead_id)) is not None else None
            if lead is None:
                raise ValidationError("Den valda personen finns inte.", "lead")
        user_svc.set_team_lead(db, acting_user(), team, lead)

    return _unit_action(code, set_lead, f"Ledare för {team.name} är sparad.")
