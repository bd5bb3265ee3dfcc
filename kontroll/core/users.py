"""Services for users, roles, units and teams. Used by the admin pages, the CLI and the demo.

Each function takes the acting user (or a label such as ``"cli"``), checks its input before
changing anything, writes the audit log and flushes. The caller commits.
"""

from __future__ import annotations

import re

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from kontroll.core import audit, auth
from kontroll.core.errors import ValidationError
from kontroll.core.models import ORG_WIDE_ROLES, Role, RoleAssignment, Team, Unit, User, UserSession
from kontroll.core.permissions import DRAWER_ROLES, JOB_ROLE_TEXT, ORG_ONLY_ROLES, Job, may_hold
from kontroll.privacy.guard import check_text

Actor = User | str

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
UNIT_CODE_RE = re.compile(r"^[A-ZÅÄÖ0-9][A-ZÅÄÖ0-9-]{0,19}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def parse_role(value: str) -> Role:
    value = value.strip().lower()
    for role in Role:
        if value in (role.value, role.label.lower()):
            return role
    names = ", ".join(r.value for r in Role)
    raise ValidationError(f"Okänd roll ”{value}”. Möjliga roller: {names}.", "role")


def get_user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))


def get_unit_by_code(session: Session, code: str) -> Unit | None:
    return session.scalar(select(Unit).where(Unit.code == code.strip().upper()))


def unit_people(session: Session, unit: Unit) -> tuple[list[Team], list[tuple[User, list[Role]]]]:
    """The unit's teams (with their leads) and its active members with their roles in it,
    by name: what the unit page shows."""
    teams = list(session.scalars(
        select(Team).where(Team.unit_id == unit.id).options(selectinload(Team.lead)).order_by(Team.name)
    ))
    rows = session.execute(
        select(User, RoleAssignment.role)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.unit_id == unit.id, User.is_active.is_(True))
        .order_by(User.full_name)
    ).all()
    by_user: dict[int, tuple[User, list[Role]]] = {}
    for member, role in rows:
        by_user.setdefault(member.id, (member, []))[1].append(role)
    return teams, list(by_user.values())


def _check_case_system_id(session: Session, value: str | None, user: User | None = None) -> str | None:
    value = _clean(value)
    if value is None:
        return None
    if len(value) > 100:
        raise ValidationError("Signaturen i verksamhetssystemet får ha högst 100 tecken.", "case_system_id")
    check_text(value, "Signaturen i verksamhetssystemet", "case_system_id")
    other = session.scalar(select(User).where(User.case_system_id == value))
    if other is not None and other is not user:
        raise ValidationError(
            f"Signaturen ”{value}” används redan av {other.full_name} ({other.username}).", "case_system_id"
        )
    return value


def _check_name_email(full_name: str | None, email: str | None) -> tuple[str, str | None]:
    full_name = _clean(full_name)
    if not full_name:
        raise ValidationError("Ange användarens namn.", "full_name")
    if len(full_name) > 200:
        raise ValidationError("Namnet får ha högst 200 tecken.", "full_name")
    check_text(full_name, "Namnet", "full_name")
    email = _clean(email)
    if email is not None and (len(email) > 254 or not EMAIL_RE.match(email)):
        raise ValidationError("E-postadressen ser inte riktig ut.", "email")
    check_text(email, "E-postadressen", "email")
    return full_name, email


def create_user(
    session: Session,
    actor: Actor,
    *,
    username: str,
    full_name: str,
    password: str | None,
    email: str | None = None,
    case_system_id: str | None = None,
) -> User:
    username = (username or "").strip().lower()
    if not USERNAME_RE.match(username):
        raise ValidationError(
            "Användarnamnet ska vara 2–64 tecken: små bokstäver a–z, siffror, punkt, bindestreck "
            "eller understreck, och börja med en bokstav eller siffra.",
            "username",
        )
    check_text(username, "Användarnamnet", "username")
    if get_user_by_username(session, username) is not None:
        raise ValidationError(f"Användarnamnet ”{username}” finns redan.", "username")
    full_name, email = _check_name_email(full_name, email)
    case_system_id = _check_case_system_id(session, case_system_id)
    password_hash = None
    if password:
        problem = auth.password_problem(password, (username, full_name, email or "", case_system_id or ""))
        if problem:
            raise ValidationError(problem, "password")
        password_hash = auth.hash_password(password)
    user = User(
        username=username,
        full_name=full_name,
        email=email,
        case_system_id=case_system_id,
        password_hash=password_hash,
        is_active=True,
        failed_login_count=0,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.create",
        object_type="user",
        object_id=user.id,
        details={"username": username, "case_system_id": case_system_id},
    )
    return user


def update_user(
    session: Session, actor: Actor, user: User, *, full_name: str, email: str | None, case_system_id: str | None
) -> None:
    full_name, email = _check_name_email(full_name, email)
    case_system_id = _check_case_system_id(session, case_system_id, user)
    changes = {}
    for attr, value in (("full_name", full_name), ("email", email), ("case_system_id", case_system_id)):
        if getattr(user, attr) != value:
            changes[attr] = {"fore": getattr(user, attr), "efter": value}
            setattr(user, attr, value)
    if changes:
        session.flush()
        audit.record(session, actor, "user.update", object_type="user", object_id=user.id, details=changes)


def set_password(session: Session, actor: Actor, user: User, password: str) -> int:
    """Set ``user``'s password (an administrator or the CLI) and end every session the user
    has, so that whoever knew the old password is logged out. Returns the sessions ended."""
    problem = auth.password_problem(password or "", (user.username, user.full_name, user.email or "",
                                                     user.case_system_id or ""))
    if problem:
        raise ValidationError(problem, "password")
    user.password_hash = auth.hash_password(password)
    user.failed_login_count = 0
    user.locked_until_dt = None
    ended = auth.end_all_sessions(session, user)
    session.flush()
    audit.record(session, actor, "user.password", object_type="user", object_id=user.id,
                 details={"sessions_ended": ended})
    return ended


def change_own_password(session: Session, user: User, current: str, new: str, repeated: str,
                        keep: UserSession | None) -> int:
    """A local user changes their own password: the current one is required, the new one is
    typed twice and meets the password rules, and every other session of the user ends (the
    one in ``keep`` stays). Returns the sessions ended."""
    if user.password_hash is None:
        raise ValidationError("Du loggar in med organisationens konto. Lösenordet byter du där.")
    if not auth.password_matches(user.password_hash, current or ""):
        raise ValidationError("Det nuvarande lösenordet stämmer inte.", "current_password")
    if (new or "") != (repeated or ""):
        raise ValidationError("Det nya lösenordet och upprepningen är inte lika. Skriv samma lösenord två gånger.",
                              "repeat_password")
    if new == current:
        raise ValidationError("Välj ett nytt lösenord, inte det du har nu.", "new_password")
    problem = auth.password_problem(new or "", (user.username, user.full_name, user.email or "",
                                                user.case_system_id or ""))
    if problem:
        raise ValidationError(problem, "new_password")
    user.password_hash = auth.hash_password(new)
    others = delete(UserSession).where(UserSession.user_id == user.id)
    if keep is not None:
        others = others.where(UserSession.id != keep.id)
    ended = session.execute(others).rowcount or 0
    session.flush()
    audit.record(session, user, "user.password_own", object_type="user", object_id=user.id,
                 details={"sessions_ended": ended})
    return ended


def unlock_user(session: Session, actor: Actor, user: User) -> None:
    user.failed_login_count = 0
    user.locked_until_dt = None
    session.flush()
    audit.record(session, actor, "user.unlock", object_type="user", object_id=user.id)


def deactivate_user(session: Session, actor: Actor, user: User) -> int:
    """Deactivate ``user`` and end all their sessions at once. Returns the sessions ended."""
    if isinstance(actor, User) and actor.id == user.id:
        raise ValidationError("Du kan inte stänga av ditt eget konto.")
    if not user.is_active:
        raise ValidationError(f"{user.full_name} är redan avstängd.")
    user.is_active = False
    ended = auth.end_all_sessions(session, user)
    session.flush()
    audit.record(
        session, actor, "user.deactivate", object_type="user", object_id=user.id, details={"sessions_ended": ended}
    )
    return ended


def activate_user(session: Session, actor: Actor, user: User) -> None:
    if user.is_active:
        raise ValidationError(f"{user.full_name} är redan aktiv.")
    user.is_active = True
    user.failed_login_count = 0
    user.locked_until_dt = None
    session.flush()
    audit.record(session, actor, "user.activate", object_type="user", object_id=user.id)


def add_role(session: Session, actor: Actor, user: User, role: Role, unit: Unit | None) -> RoleAssignment:
    if unit is None and role not in ORG_WIDE_ROLES:
        raise ValidationError(
            f"Rollen {role.label} måste höra till en enhet. Välj enhet.", "unit"
        )
    if unit is not None and role in ORG_ONLY_ROLES:
        raise ValidationError(f"Rollen {role.label} gäller hela organisationen. Välj ”Hela organisationen”.", "unit")
    exists = session.scalar(
        select(RoleAssignment).where(
            RoleAssignment.user_id == user.id,
            RoleAssignment.role == role,
            RoleAssignment.unit_id.is_(None) if unit is None else RoleAssignment.unit_id == unit.id,
        )
    )
    if exists is not None:
        where = unit.code if unit else "hela organisationen"
        raise ValidationError(f"{user.full_name} har redan rollen {role.label} för {where}.", "role")
    assignment = RoleAssignment(user=user, role=role, unit=unit)
    session.add(assignment)
    session.flush()
    audit.record(
        session,
        actor,
        "role.add",
        object_type="user",
        object_id=user.id,
        unit=unit,
        details={"role": role.value, "unit": unit.code if unit else None},
    )
    return assignment


def remove_role(session: Session, actor: Actor, assignment: RoleAssignment) -> None:
    user = assignment.user
    if (
        isinstance(actor, User)
        and actor.id == user.id
        and assignment.role == Role.SYSTEMADMINISTRATOR
    ):
        raise ValidationError("Du kan inte ta bort din egen roll som systemadministratör.")
    details = {"role": assignment.role.value, "unit": assignment.unit.code if assignment.unit else None}
    unit_id = assignment.unit_id
    user.role_assignments.remove(assignment)
    session.flush()
    audit.record(session, actor, "role.remove", object_type="user", object_id=user.id, unit=unit_id, details=details)


def _check_unit_settings(
    name: str, drawer_role: Role, sample_size: int, genomgang_min: int, genomgang_max: int
) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError("Ange enhetens namn.", "name")
    if len(name) > 200:
        raise ValidationError("Enhetens namn får ha högst 200 tecken.", "name")
    check_text(name, "Enhetens namn", "name")
    if drawer_role not in DRAWER_ROLES:
        raise ValidationError("Stickprovet dras av sektionschef eller administratör.", "drawer_role")
    if not 1 <= sample_size <= 1000:
        raise ValidationError("Stickprovets storlek ska vara mellan 1 och 1000 ärenden i månaden.", "sample_size")
    if not 0 <= genomgang_min <= genomgang_max <= 52:
        raise ValidationError(
            "Målet för genomgångar ska vara ett minsta och ett högsta antal per år, minst ≤ högst.",
            "genomgang_min",
        )
    return name


def create_unit(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    drawer_role: Role = Role.SEKTIONSCHEF,
    sample_size: int = 2,
    genomgang_min: int = 4,
    genomgang_max: int = 6,
    hemmablindhet_protection: bool = True,
) -> Unit:
    code = (code or "").strip().upper()
    if not UNIT_CODE_RE.match(code):
        raise ValidationError(
            "Enhetskoden ska vara 1–20 tecken: versaler, siffror och bindestreck, t.ex. IFO-FS.", "code"
        )
    if get_unit_by_code(session, code) is not None:
        raise ValidationError(f"Enhetskoden {code} finns redan.", "code")
    name = _check_unit_settings(name, drawer_role, sample_size, genomgang_min, genomgang_max)
    unit = Unit(
        code=code,
        name=name,
        drawer_role=drawer_role,
        sample_size=sample_size,
        genomgang_min=genomgang_min,
        genomgang_max=genomgang_max,
        hemmablindhet_protection=hemmablindhet_protection,
        is_active=True,
    )
    session.add(unit)
    session.flush()
    audit.record(session, actor, "unit.create", object_type="unit", object_id=unit.id, unit=unit, details={"code": code})
    return unit


def update_unit(
    session: Session,
    actor: Actor,
    unit: Unit,
    *,
    name: str,
    drawer_role: Role,
    sample_size: int,
    genomgang_min: int,
    genomgang_max: int,
    hemmablindhet_protection: bool,
    stratify_by_team: bool | None = None,
    exclude_reviewed_months: int | None = None,
    snapshot_max_age_days: int | None = None,
) -> None:
    name = _check_unit_settings(name, drawer_role, sample_size, genomgang_min, genomgang_max)
    stratify_by_team = unit.stratify_by_team if stratify_by_team is None else stratify_by_team
    exclude_reviewed_months = unit.exclude_reviewed_months if exclude_reviewed_months is None else exclude_reviewed_months
    snapshot_max_age_days = unit.snapshot_max_age_days if snapshot_max_age_days is None else snapshot_max_age_days
    if not 0 <= exclude_reviewed_months <= 24:
        raise ValidationError("Antal månader att utesluta redan dragna ärenden ska vara 0–24.", "exclude_reviewed_months")
    if not 1 <= snapshot_max_age_days <= 366:
        raise ValidationError("Ärendelistans högsta ålder ska vara 1–366 dagar.", "snapshot_max_age_days")
    changes = {}
    for attr, value in (
        ("name", name),
        ("drawer_role", drawer_role),
        ("sample_size", sample_size),
        ("genomgang_min", genomgang_min),
        ("genomgang_max", genomgang_max),
        ("hemmablindhet_protection", hemmablindhet_protection),
        ("stratify_by_team", stratify_by_team),
        ("exclude_reviewed_months", exclude_reviewed_months),
        ("snapshot_max_age_days", snapshot_max_age_days),
    ):
        if getattr(unit, attr) != value:
            changes[attr] = {"fore": str(getattr(unit, attr)), "efter": str(value)}
            setattr(unit, attr, value)
    if changes:
        session.flush()
        audit.record(session, actor, "unit.update", object_type="unit", object_id=unit.id, unit=unit, details=changes)


def create_team(session: Session, actor: Actor, unit: Unit, name: str, lead: User | None = None) -> Team:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationError("Ange gruppens namn (högst 200 tecken).", "name")
    check_text(name, "Gruppens namn", "name")
    _check_lead(lead, unit)
    if session.scalar(select(Team).where(Team.unit_id == unit.id, Team.name == name)) is not None:
        raise ValidationError(f"Gruppen ”{name}” finns redan i {unit.code}.", "name")
    team = Team(unit=unit, name=name, lead=lead)
    session.add(team)
    session.flush()
    audit.record(
        session,
        actor,
        "team.create",
        object_type="team",
        object_id=team.id,
        unit=unit,
        details={"name": name, "lead": lead.username if lead else None},
    )
    return team


def _check_lead(lead: User | None, unit: Unit | int) -> None:
    if lead is not None and not may_hold(lead, Job.TEAM_LEAD, unit):
        raise ValidationError(f"{lead.full_name} kan inte leda en grupp här: gruppens ledare ska vara "
                              f"{JOB_ROLE_TEXT[Job.TEAM_LEAD]} i enheten.", "lead")


def set_team_lead(session: Session, actor: Actor, team: Team, lead: User | None) -> None:
    _check_lead(lead, team.unit_id)
    before = team.lead.username if team.lead else None
    team.lead = lead
    session.flush()
    audit.record(
        session,
        actor,
        "team.update",
        object_type="team",
        object_id=team.id,
        unit=team.unit_id,
        details={"lead": {"fore": before, "efter": lead.username if lead else None}},
    )
