"""What the sektionschef wrote that reaches the nämnd (the bedömning, override justifications),
checked again for identifying data when the summary is made (kontroll.privacy.committee), and
the audit log's fingerprint."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.core.models import AuditEntry, Unit
from kontroll.core.periods import period_label
from kontroll.core.timezone import local_date
from kontroll.privacy.committee import CommitteeTextCheck
from kontroll.reports.models import Assessment
from kontroll.reports.summary.model import AssessmentView, Fingerprint, OverrideRow
from kontroll.sampling.models import Assignment, Draw, DrawnCase

RULE_LABELS = {"hemmablindhet": "Hemmablindhet (granskaren leder ärendets grupp)",
               "roll": "Roll (granskaren har inte en granskande roll)"}


def overrides(session: Session, unit: Unit, year: int, check: CommitteeTextCheck | None = None) -> list[OverrideRow]:
    check = check or CommitteeTextCheck(session)
    rows = session.execute(
        select(Draw.period, Assignment.override_rule, Assignment.override_reason)
        .join(DrawnCase, DrawnCase.id == Assignment.drawn_case_id).join(Draw, Draw.id == DrawnCase.draw_id)
        .where(Draw.unit_id == unit.id, Draw.period.like(f"{year:04d}-%"), Assignment.override_rule.is_not(None))
        .order_by(Draw.period, Assignment.id)
    ).all()
    return [OverrideRow(period_label(p), RULE_LABELS.get(rule or "", rule or ""), reason or "",
                        tuple(check.kinds(reason, [unit.id]))) for p, rule, reason in rows]


def current_assessment(session: Session, unit: Unit, year: int,
                       check: CommitteeTextCheck | None = None) -> AssessmentView | None:
    rows = list(session.scalars(select(Assessment).where(Assessment.unit_id == unit.id, Assessment.year == year)
                                .order_by(Assessment.signed_dt, Assessment.id)))
    if not rows:
        return None
    last = rows[-1]
    kinds = (check or CommitteeTextCheck(session)).kinds(last.text, [unit.id])
    return AssessmentView(last.id, last.text, local_date(last.signed_dt), len(rows), withheld=tuple(kinds))


def fingerprint(session: Session) -> Fingerprint:
    row = session.execute(select(AuditEntry.id, AuditEntry.occurred_dt, AuditEntry.entry_hash)
                          .order_by(AuditEntry.id.desc()).limit(1)).first()
    return Fingerprint(row[0], row[1], row[2]) if row else Fingerprint(None, None, None)
