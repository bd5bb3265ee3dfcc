"""Imports every model module, so that ``Base.metadata`` holds the whole schema."""

from kontroll.core.models import AuditEntry, Role, RoleAssignment, Team, Unit, User, UserSession  # noqa: F401
from kontroll.cases.models import (  # noqa: F401, E402
    CaseListApiToken,
    CaseListSettings,
    CaseListSnapshot,
    PendingImport,
    SnapshotCase,
)
