"""Reading stored case lists for their pages: a unit's lists, one list's cases with filters
by handläggare and team, and the filters' choices."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kontroll.cases import handlaggare as handlaggare_rules
from kontroll.cases.models import CaseListSnapshot, SnapshotCase
from kontroll.core.models import Unit


def snapshots_of(session: Session, unit: Unit, offset: int, limit: int) -> list[CaseListSnapshot]:
    """The unit's case lists, newest first (one page)."""
    return list(session.scalars(
        select(CaseListSnapshot).where(CaseListSnapshot.unit_id == unit.id)
        .order_by(CaseListSnapshot.imported_dt.desc(), CaseListSnapshot.id.desc()).offset(offset).limit(limit)))


def _snapshot_case_query(snap: CaseListSnapshot, handlaggare: str, team: str) -> Any:
    """A list's cases, filtered by one handläggare (signature or name, as the filter shows them)
    and one team (``(ingen grupp)``: those without)."""
    query = select(SnapshotCase).where(SnapshotCase.snapshot_id == snap.id)
    if handlaggare:
        query = query.where(or_(SnapshotCase.handlaggare_signatur == handlaggare,
                                SnapshotCase.handlaggare_namn == handlaggare))
    if team == handlaggare_rules.NO_TEAM:
        query = query.where(SnapshotCase.team.is_(None))
    elif team:
        query = query.where(SnapshotCase.team == team)
    return query


def snapshot_case_count(session: Session, snap: CaseListSnapshot, handlaggare: str = "", team: str = "") -> int:
    return session.scalar(select(func.count()).select_from(_snapshot_case_query(snap, handlaggare, team).subquery())) or 0


def snapshot_cases(session: Session, snap: CaseListSnapshot, handlaggare: str, team: str, offset: int,
                   limit: int) -> list[SnapshotCase]:
    return list(session.scalars(_snapshot_case_query(snap, handlaggare, team).order_by(SnapshotCase.case_ref)
                                .offset(offset).limit(limit)))


def snapshot_filter_options(db: Session, snap: CaseListSnapshot) -> dict[str, list[tuple[str, str, int]]]:
    handlaggare = [
        (sig or namn or "", handlaggare_rules.label(namn, sig, none=""), n)
        for namn, sig, n in db.execute(
            select(SnapshotCase.handlaggare_namn, SnapshotCase.handlaggare_signatur, func.count())
            .where(SnapshotCase.snapshot_id == snap.id)
            .group_by(SnapshotCase.handlaggare_namn, SnapshotCase.handlaggare_signatur)
        )
    ]
    teams = [
        (handlaggare_rules.team_label(t), handlaggare_rules.team_label(t), n)
        for t, n in db.execute(
            select(SnapshotCase.team, func.count()).where(SnapshotCase.snapshot_id == snap.id).group_by(SnapshotCase.team)
        )
    ]
    return {"handlaggare": sorted(handlaggare, key=lambda t: t[1].casefold()), "grupp": sorted(teams)}


def snapshot_count(session: Session, unit: Unit) -> int:
    return session.scalar(select(func.count()).select_from(CaseListSnapshot).where(CaseListSnapshot.unit_id == unit.id)) or 0
