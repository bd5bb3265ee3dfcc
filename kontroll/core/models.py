"""Core objects: units, teams, users, role assignments, server-side sessions, audit log."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kontroll.db import JSON_TEXT, MACHINE, Base, UTCDateTime, utcnow


class Role(enum.StrEnum):
    SEKTIONSCHEF = "sektionschef"
    ADMINISTRATOR = "administrator"
    FORSTE_SOCIALSEKRETERARE = "forste_socialsekreterare"
    ENHETSCHEF = "enhetschef"
    SOCIALSEKRETERARE = "socialsekreterare"
    NAMND = "namnd"
    REVISOR = "revisor"
    SYSTEMADMINISTRATOR = "systemadministrator"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS: dict[Role, str] = {
    Role.SEKTIONSCHEF: "Sektionschef",
    Role.ADMINISTRATOR: "Administratör",
    Role.FORSTE_SOCIALSEKRETERARE: "1:e socialsekreterare",
    Role.ENHETSCHEF: "Enhetschef",
    Role.SOCIALSEKRETERARE: "Socialsekreterare",
    Role.NAMND: "Nämndledamot",
    Role.REVISOR: "Revisor",
    Role.SYSTEMADMINISTRATOR: "Systemadministratör",
}

#: Roles that may be held for the whole organisation (no unit) as well as per unit.
ORG_WIDE_ROLES = frozenset({Role.NAMND, Role.REVISOR, Role.SYSTEMADMINISTRATOR})

role_enum = Enum(
    Role,
    name="role",
    native_enum=False,
    length=32,
    values_callable=lambda e: [m.value for m in e],
    validate_strings=True,
)


class Unit(Base):
    """An enhet/sektion whose case handling is controlled."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: which role draws the monthly sample (sektionschef, or administratör in the integration unit)
    drawer_role: Mapped[Role] = mapped_column(role_enum, default=Role.SEKTIONSCHEF)
    sample_size: Mapped[int] = mapped_column(Integer, default=2)
    #: hemmablindhet protection: a team's lead does not review the team's cases in stickprov
    hemmablindhet_protection: Mapped[bool] = mapped_column(Boolean, default=True)
    genomgang_min: Mapped[int] = mapped_column(Integer, default=4)
    genomgang_max: Mapped[int] = mapped_column(Integer, default=6)
    #: draw options, recorded with every draw
    stratify_by_team: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    exclude_reviewed_months: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: warn on the draw page when the latest case list is older than this
    snapshot_max_age_days: Mapped[int] = mapped_column(Integer, default=35, server_default="35")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    teams: Mapped[list[Team]] = relationship(back_populates="unit", order_by="Team.name")

    __table_args__ = (
        CheckConstraint("sample_size >= 1 AND sample_size <= 1000", name="sample_size_range"),
        CheckConstraint(
            "genomgang_min >= 0 AND genomgang_max >= genomgang_min", name="genomgang_target"
        ),
        CheckConstraint("drawer_role IN ('sektionschef', 'administrator')", name="drawer_role"),
    )

    def __repr__(self) -> str:
        return f"<Unit {self.code}>"


class Team(Base):
    """A handläggargrupp, led by a 1:e socialsekreterare."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    lead_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )

    unit: Mapped[Unit] = relationship(back_populates="teams")
    lead: Mapped[User | None] = relationship(foreign_keys=[lead_user_id])

    __table_args__ = (UniqueConstraint("unit_id", "name"),)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    #: the user's signature / user id in the case system, used to link cases to handläggare
    case_system_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), info=MACHINE)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0)
    locked_until_dt: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_login_dt: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: single sign-on link: the organisation's tenant id (Entra ``tid``) and the person's
    #: immutable object id in it (``oid``). Never matched by e-mail or username.
    oidc_tid: Mapped[str | None] = mapped_column(String(64), info=MACHINE)
    oidc_oid: Mapped[str | None] = mapped_column(String(64), info=MACHINE)
    #: TOTP second factor: the secret, Fernet-encrypted with a key derived from SECRET_KEY.
    #: Set but not enabled (``totp_enabled_dt`` NULL) while the user is enrolling.
    totp_secret: Mapped[str | None] = mapped_column(String(255), info=MACHINE)
    totp_enabled_dt: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: the last TOTP time step accepted: a code is never accepted twice
    totp_last_timestep: Mapped[int | None] = mapped_column(Integer)

    role_assignments: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    __table_args__ = (
        UniqueConstraint("oidc_tid", "oidc_oid"),
        CheckConstraint(
            "(oidc_tid IS NULL AND oidc_oid IS NULL) OR (oidc_tid IS NOT NULL AND oidc_oid IS NOT NULL)",
            name="oidc_link_pair",
        ),
    )

    @property
    def is_sso_linked(self) -> bool:
        return self.oidc_oid is not None

    @property
    def is_totp_enabled(self) -> bool:
        return self.totp_enabled_dt is not None and self.totp_secret is not None

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class RoleAssignment(Base):
    """A role a user holds in a unit (or, for a few roles, in the whole organisation)."""

    __tablename__ = "role_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: NULL means the whole organisation (only for nämnd, revisor, systemadministratör)
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(role_enum)
    created_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: where the assignment came from: "manual" (an administrator, the CLI, the demo) or
    #: "sso" (the roles claim at single sign-on). SSO only ever adds and removes its own.
    source: Mapped[str] = mapped_column(String(16), default="manual", server_default="manual")

    user: Mapped[User] = relationship(back_populates="role_assignments")
    unit: Mapped[Unit | None] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("user_id", "unit_id", "role"),
        CheckConstraint(
            "unit_id IS NOT NULL OR role IN ('namnd', 'revisor', 'systemadministrator')",
            name="org_wide_roles",
        ),
        CheckConstraint("source IN ('manual', 'sso')", name="source"),
    )


class UserSession(Base):
    """A server-side login session. The cookie carries a random id; we store its SHA-256."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, info=MACHINE)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64), info=MACHINE)
    created_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: flash messages waiting to be shown (JSON list)
    flashes: Mapped[str | None] = mapped_column(Text, info=JSON_TEXT)
    #: a login in progress on this (anonymous) session, JSON: the TOTP step after a correct
    #: password, or the state/nonce/PKCE verifier of a single sign-on round trip
    pending_login: Mapped[str | None] = mapped_column(Text, info=JSON_TEXT)
    #: a form that arrived after its login session had expired, kept for the same user only
    #: (JSON: user id, the form's address, its fields; see kontroll.core.web.stale_form_response and
    #: kontroll.core.web.take_kept_form)
    kept_form: Mapped[str | None] = mapped_column(Text, info=JSON_TEXT)

    user: Mapped[User | None] = relationship()


class LoginAttempts(Base):
    """Failed logins counted where no user row can hold them: per typed name that matches no
    account (its keyed hash, never the name) and per client address (the throttle). The
    database is the only shared state between workers, so the count is the same for all."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "namn" (an unknown username) or "adress" (a client address)
    kind: Mapped[str] = mapped_column(String(10), info=MACHINE)
    #: HMAC-SHA256 (keyed with SECRET_KEY) of the lower-cased name or of the address
    key_hash: Mapped[str] = mapped_column(String(64), info=MACHINE)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until_dt: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("kind", "key_hash"),)


class AuditEntry(Base):
    """Append-only, hash-chained record of who did what to which object when.

    Written only through :func:`kontroll.core.audit.record`, which chains entries at commit.
    The user and unit ids carry no foreign keys on purpose: the log must never block, or be
    blocked by, locks on the rows it mentions, and it outlives them.
    """

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(index=True)
    #: the actor as text (username, "system", "cli:<user>"), kept even if the user is renamed
    actor_label: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64), index=True, info=MACHINE)
    object_type: Mapped[str | None] = mapped_column(String(64), info=MACHINE)
    object_id: Mapped[str | None] = mapped_column(String(64))
    unit_id: Mapped[int | None] = mapped_column(index=True)
    #: JSON with sorted keys
    details: Mapped[str] = mapped_column(Text, default="{}", info=JSON_TEXT)
    ip_address: Mapped[str | None] = mapped_column(String(64), info=MACHINE)
    #: the previous entry's entry_hash (64 zeros for the first); unique: the chain cannot fork
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True, info=MACHINE)
    #: HMAC-SHA256 over prev_hash and the entry's canonical text (kontroll.core.audit.entry_text)
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True, info=MACHINE)

    __table_args__ = (Index(None, "object_type", "object_id"),)


class Notification(Base):
    """A message to one user, shown in the app (and e-mailed when SMTP is configured).

    ``dedupe_key`` is unique: a job that runs twice (or two schedulers at once) cannot
    create the same reminder twice.
    """

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(40), info=MACHINE)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    read_dt: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    emailed_dt: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class JobRun(Base):
    """One run of a scheduled job for one period. The unique key makes every job idempotent
    across restarts, catch-up and a second scheduler process started by mistake."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64), info=MACHINE)
    period: Mapped[str] = mapped_column(String(32), info=MACHINE)
    started_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_dt: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("job", "period"),)
