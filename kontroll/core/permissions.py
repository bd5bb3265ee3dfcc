"""The one place that decides what a role may do in which unit.

Views, services and the CLI ask :func:`can` / :func:`require`; nothing else compares roles.
A role assignment with no unit (allowed for nämnd, revisor and systemadministratör) counts
for every unit.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.core.models import Role, Unit, User


class Perm(enum.StrEnum):
    VIEW_UNIT = "view_unit"  # the unit's overview: teams and staff
    MANAGE_USERS = "manage_users"
    MANAGE_UNITS = "manage_units"
    VIEW_AUDIT_LOG = "view_audit_log"
    IMPORT_CASELIST = "import_caselist"
    VIEW_CASELIST = "view_caselist"  # snapshots with case references
    MANAGE_CASELIST_SETTINGS = "manage_caselist_settings"  # column mapping, API tokens
    VIEW_DRAWS = "view_draws"  # the month's stickprov, its cases and reviewers
    VERIFY_DRAW = "verify_draw"
    ASSIGN_REVIEWER = "assign_reviewer"
    VIEW_CASE = "view_case"  # a case's page: its history in draws
    VIEW_REVIEWS = "view_reviews"  # reviews, brister and åtgärder of the unit, with case references
    MANAGE_ATGARDER = "manage_atgarder"  # open åtgärder for brister, mark any of them genomförd
    VERIFY_ATGARD = "verify_atgard"  # verify a genomförd åtgärd (never one's own)
    RECEIVE_FEEDBACK = "receive_feedback"  # återkoppling and brister on one's own cases
    VIEW_GENOMGANGAR = "view_genomgangar"  # the unit's year plan and genomgångar, with case references
    PLAN_GENOMGANGAR = "plan_genomgangar"  # plan and remove planned dates
    PERFORM_GENOMGANG = "perform_genomgang"  # start, record results and återkoppling, close
    VIEW_SUMMARY = "view_summary"  # the yearly summary: aggregates only, never a case reference or name
    SIGN_ASSESSMENT = "sign_assessment"  # write and sign the unit's bedömning in the yearly summary
    REDACT = "redact"  # replace a stored personnummer with a marker (kontroll privacy redact)
    REVISE_TEMPLATES = "revise_templates"  # is told when a checklist template is due for revision


R = Role


class Job(enum.StrEnum):
    """A job a person is *chosen* for in a unit (docs/architecture.md, invariant 10). Only someone who
    holds one of the job's roles in that very unit may be chosen; an org-wide role (nämnd,
    revisor, systemadministratör) never counts, and an override of a separation rule never
    widens who may be chosen."""

    REVIEWER = "reviewer"  # reviews a drawn case in the monthly stickprov
    ATGARD_OWNER = "atgard_owner"  # is responsible for carrying out an åtgärd
    ATGARD_VERIFIER = "atgard_verifier"  # verifies that a genomförd åtgärd worked
    GENOMGANG_PARTICIPANT = "genomgang_participant"  # goes through the cases in a genomgång
    TEAM_LEAD = "team_lead"  # leads a handläggargrupp (the hemmablindhet rule reads it)


JOB_ROLES: dict[Job, frozenset[Role]] = {
    Job.REVIEWER: frozenset({R.FORSTE_SOCIALSEKRETERARE, R.ENHETSCHEF}),
    Job.ATGARD_OWNER: frozenset({R.SEKTIONSCHEF, R.ADMINISTRATOR, R.FORSTE_SOCIALSEKRETERARE, R.ENHETSCHEF}),
    Job.ATGARD_VERIFIER: frozenset({R.SEKTIONSCHEF, R.ENHETSCHEF}),
    Job.GENOMGANG_PARTICIPANT: frozenset({R.FORSTE_SOCIALSEKRETERARE}),
    Job.TEAM_LEAD: frozenset({R.FORSTE_SOCIALSEKRETERARE}),
}

#: how a refusal names the roles a job needs
JOB_ROLE_TEXT: dict[Job, str] = {
    Job.REVIEWER: "1:e socialsekreterare eller enhetschef",
    Job.ATGARD_OWNER: "sektionschef, administratör, 1:e socialsekreterare eller enhetschef",
    Job.ATGARD_VERIFIER: "sektionschef eller enhetschef",
    Job.GENOMGANG_PARTICIPANT: "1:e socialsekreterare",
    Job.TEAM_LEAD: "1:e socialsekreterare",
}

#: the roles a unit may be configured to have its stickprov drawn by (Unit.drawer_role)
DRAWER_ROLES: tuple[Role, ...] = (R.SEKTIONSCHEF, R.ADMINISTRATOR)


PERMISSIONS: dict[Perm, frozenset[Role]] = {
    Perm.VIEW_UNIT: frozenset(
        {R.SEKTIONSCHEF, R.ADMINISTRATOR, R.FORSTE_SOCIALSEKRETERARE, R.ENHETSCHEF, R.REVISOR,
         R.SYSTEMADMINISTRATOR}
    ),
    Perm.MANAGE_USERS: frozenset({R.SYSTEMADMINISTRATOR}),
    Perm.MANAGE_UNITS: frozenset({R.SYSTEMADMINISTRATOR}),
    Perm.VIEW_AUDIT_LOG: frozenset({R.REVISOR}),
    Perm.IMPORT_CASELIST: frozenset({R.SEKTIONSCHEF, R.ADMINISTRATOR, R.FORSTE_SOCIALSEKRETERARE}),
    Perm.VIEW_CASELIST: frozenset(
        {R.SEKTIONSCHEF, R.ADMINISTRATOR, R.FORSTE_SOCIALSEKRETERARE, R.ENHETSCHEF, R.REVISOR}
    ),
    Perm.MANAGE_CASELIST_SETTINGS: frozenset({R.SEKTIONSCHEF, R.ADMINISTRATOR}),
    Perm.VIEW_DRAWS: frozenset(
        {R.SEKTIONSCHEF, R.ADMINISTRATOR, R.FORSTE_SOCIALSEKRETERARE, R.ENHETSCHEF, R.REVISOR}
    ),
    Perm.VERIFY_DRAW: frozenset({R.REVISOR, R.SEKTIONSCHEF, R.SYSTEMADMINISTRATOR}),
    Perm.ASSIGN_REVIEWER: frozenset({R.SEKTIONSCHEF}),
    Perm.VIEW_CASE: frozenset(
        {R.SEKTIONSCHEF, R.ADMINISTRATOR, R.FORSTE_SOCIALSEKRETERARE, R.ENHETSCHEF, R.REVISOR}
    ),
    Perm.VIEW_REVIEWS: frozenset({R.SEKTIONSCHEF, R.FORSTE_SOCIALSEKRETERARE, R.ENHETSCHEF, R.REVISOR}),
    Perm.MANAGE_ATGARDER: frozenset({R.SEKTIONSCHEF}),
    Perm.VERIFY_ATGARD: JOB_ROLES[Job.ATGARD_VERIFIER],
    Perm.RECEIVE_FEEDBACK: frozenset({R.SOCIALSEKRETERARE}),
    Perm.VIEW_GENOMGANGAR: frozenset({R.SEKTIONSCHEF, R.FORSTE_SOCIALSEKRETERARE, R.ENHETSCHEF, R.REVISOR}),
    Perm.PLAN_GENOMGANGAR: frozenset({R.SEKTIONSCHEF, R.FORSTE_SOCIALSEKRETERARE}),
    Perm.PERFORM_GENOMGANG: frozenset({R.FORSTE_SOCIALSEKRETERARE}),
    Perm.VIEW_SUMMARY: frozenset({R.NAMND, R.REVISOR, R.SEKTIONSCHEF, R.ENHETSCHEF, R.SYSTEMADMINISTRATOR}),
    Perm.SIGN_ASSESSMENT: frozenset({R.SEKTIONSCHEF}),
    Perm.REDACT: frozenset({R.SYSTEMADMINISTRATOR}),
    Perm.REVISE_TEMPLATES: frozenset({R.SEKTIONSCHEF, R.SYSTEMADMINISTRATOR}),
}


#: roles that only work for the whole organisation: a systemadministratör manages users and units
#: everywhere, so the role in one unit would give nothing
ORG_ONLY_ROLES = frozenset({R.SYSTEMADMINISTRATOR})

#: the roles whose holders do the work a revisor examines (they may review or go through cases)
EXAMINED_ROLES = JOB_ROLES[Job.REVIEWER] | JOB_ROLES[Job.GENOMGANG_PARTICIPANT]


def role_conflict(roles: set[Role]) -> str | None:
    """A warning when one person holds both a role whose work is examined and the revisor's
    role: the revisor would examine their own work (självgranskning)."""
    if R.REVISOR in roles and roles & EXAMINED_ROLES:
        names = ", ".join(sorted(r.label.lower() for r in roles & EXAMINED_ROLES))
        return (f"Personen är både revisor och {names}. En revisor ska inte granska sitt eget arbete "
                "(självgranskning); ge revisorsrollen till någon annan om det går.")
    return None


def may_draw(user: User | None, unit: Unit) -> bool:
    """Only the role the unit is configured with draws: sektionschef, or administratör."""
    return unit.drawer_role in roles_in(user, unit)


class PermissionDenied(Exception):
    """The acting user may not do this. Views turn it into a 403 page."""

    def __init__(self, message: str = "Du har inte behörighet till det här.") -> None:
        super().__init__(message)
        self.message = message


def roles_in(user: User | None, unit: Unit | int | None) -> set[Role]:
    """The roles ``user`` holds that count for ``unit`` (org-wide ones included).

    With ``unit=None``: only the org-wide roles.
    """
    if user is None or not user.is_active:
        return set()
    unit_id = unit.id if isinstance(unit, Unit) else unit
    return {
        a.role for a in user.role_assignments if a.unit_id is None or (unit_id is not None and a.unit_id == unit_id)
    }


def unit_roles(user: User | None, unit: Unit | int) -> set[Role]:
    """The roles ``user`` holds in ``unit`` itself: org-wide assignments do not count."""
    if user is None or not user.is_active:
        return set()
    unit_id = unit.id if isinstance(unit, Unit) else unit
    return {a.role for a in user.role_assignments if a.unit_id is not None and a.unit_id == unit_id}


def may_hold(user: User | None, job: Job, unit: Unit | int) -> bool:
    """Whether ``user`` may be chosen for ``job`` in ``unit`` (active, with a role for it there)."""
    return bool(unit_roles(user, unit) & JOB_ROLES[job])


def job_holders_clause(job: Job, unit: Unit | int):  # type: ignore[no-untyped-def]
    """A WHERE clause for the users who may be chosen for ``job`` in ``unit`` (join
    RoleAssignment on the user): the query form of :func:`may_hold`."""
    from kontroll.core.models import RoleAssignment

    unit_id = unit.id if isinstance(unit, Unit) else unit
    return (RoleAssignment.unit_id == unit_id) & RoleAssignment.role.in_(sorted(JOB_ROLES[job])) & User.is_active.is_(True)


def job_holders(session: Session, job: Job, unit: Unit | int) -> list[User]:
    """The active users who may be chosen for ``job`` in ``unit`` (:func:`may_hold`)."""
    from kontroll.core.models import RoleAssignment

    return list(session.scalars(select(User).join(RoleAssignment, RoleAssignment.user_id == User.id)
                                .where(job_holders_clause(job, unit)).distinct().order_by(User.id)))


def all_roles(user: User | None) -> set[Role]:
    if user is None or not user.is_active:
        return set()
    return {a.role for a in user.role_assignments}


def can(user: User | None, perm: Perm, unit: Unit | int | None = None) -> bool:
    return bool(roles_in(user, unit) & PERMISSIONS[perm])


def can_anywhere(user: User | None, perm: Perm) -> bool:
    return bool(all_roles(user) & PERMISSIONS[perm])


def require(user: User | None, perm: Perm, unit: Unit | int | None = None) -> None:
    if not can(user, perm, unit):
        raise PermissionDenied()


def drawers(session: Session, unit: Unit) -> list[User]:
    """Who draws the unit's stickprov (:func:`may_draw`): the active holders of its drawer role."""
    from kontroll.core.models import RoleAssignment

    return list(session.scalars(
        select(User).join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.unit_id == unit.id, RoleAssignment.role == unit.drawer_role, User.is_active.is_(True))
        .distinct().order_by(User.id)))


def holders_anywhere(session: Session, perm: Perm) -> list[User]:
    """Every active user who holds ``perm`` in some unit or for the whole organisation."""
    from kontroll.core.models import RoleAssignment

    return list(session.scalars(
        select(User).join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.role.in_(sorted(PERMISSIONS[perm])), User.is_active.is_(True))
        .distinct().order_by(User.id)))


def holders_in(session: Session, perm: Perm, unit: Unit) -> list[User]:
    """Every active user who holds ``perm`` in ``unit`` itself (the people told about it)."""
    from kontroll.core.models import RoleAssignment

    return list(session.scalars(
        select(User).join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.role.in_(sorted(PERMISSIONS[perm])), RoleAssignment.unit_id == unit.id,
               User.is_active.is_(True))
        .distinct().order_by(User.id)))


def units_where(session: Session, user: User | None, perm: Perm) -> list[Unit]:
    """Every active unit in which ``user`` holds ``perm``, by code."""
    if user is None or not user.is_active:
        return []
    allowed = PERMISSIONS[perm]
    assignments = [a for a in user.role_assignments if a.role in allowed]
    if not assignments:
        return []
    query = select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.code)
    if not any(a.unit_id is None for a in assignments):
        query = query.where(Unit.id.in_({a.unit_id for a in assignments}))
    return list(session.scalars(query))


def role_summary(user: User) -> list[tuple[str, str | None]]:
    """(role label, unit code or None) for display, sorted."""
    rows: Iterable[tuple[str, str | None]] = (
        (a.role.label, a.unit.code if a.unit else None) for a in user.role_assignments
    )
    return sorted(rows, key=lambda r: (r[1] or "", r[0]))
