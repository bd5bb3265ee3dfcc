"""Imports every model module, so that ``Base.metadata`` holds the whole schema."""
# ruff: noqa: I001 - the order is deliberate: core first, then each feature, then the guard

from kontroll.core.models import (  # noqa: F401
    AuditEntry,
    JobRun,
    LoginAttempts,
    Notification,
    Role,
    RoleAssignment,
    Team,
    Unit,
    User,
    UserSession,
)
from kontroll.cases.models import (  # noqa: F401, E402
    CaseListApiToken,
    CaseListSettings,
    CaseListSnapshot,
    PendingImport,
    SnapshotCase,
)
from kontroll.sampling.models import Assignment, Draw, DrawnCase  # noqa: F401, E402
from kontroll.reviews.models import (  # noqa: F401, E402
    Atgard,
    Brist,
    Feedback,
    Review,
    ReviewAnswer,
    TemplateVersion,
)
from kontroll.genomgang.models import (  # noqa: F401, E402
    Genomgang,
    GenomgangFeedback,
    GenomgangResult,
)
from kontroll.reports.models import Assessment  # noqa: F401, E402
from kontroll.privacy.models import Redaction  # noqa: F401, E402

# the flush-time backstop: no free-text column stores a personnummer (docs/architecture.md, invariant 8)
import kontroll.privacy.guard  # noqa: F401, E402
