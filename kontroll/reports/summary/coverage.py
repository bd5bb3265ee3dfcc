"""How the year's samples spread over handläggare and teams: counts only, never names."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.cases import handlaggare as handlaggare_rules
from kontroll.cases.models import CaseListSnapshot, SnapshotCase
from kontroll.core.models import Unit
from kontroll.core.swedish import count
from kontroll.core.swedish import join as swedish_list
from kontroll.core.timezone import year_bounds
from kontroll.reports.summary.model import Coverage
from kontroll.sampling.models import Draw, DrawnCase

BUCKETS = ((1, 2, "1–2 ärenden"), (3, 5, "3–5 ärenden"), (6, None, "6 ärenden eller fler"))


@dataclass
class CoverageRaw:
    population: set[tuple[int, str]]  # (unit id, handläggare key)
    sampled: Counter[tuple[int, str]]
    teams: set[tuple[int, str]]
    team_sampled: Counter[tuple[int, str]]


def coverage_raw(session: Session, unit: Unit, year: int) -> CoverageRaw:
    start, end = year_bounds(year)
    population: set[tuple[int, str]] = set()
    teams: set[tuple[int, str]] = set()
    for uid, sig, namn, team in session.execute(
        select(SnapshotCase.handlaggare_user_id, SnapshotCase.handlaggare_signatur, SnapshotCase.handlaggare_namn,
               SnapshotCase.team).distinct()
        .join(CaseListSnapshot, CaseListSnapshot.id == SnapshotCase.snapshot_id)
        .where(CaseListSnapshot.unit_id == unit.id, CaseListSnapshot.imported_dt >= start,
               CaseListSnapshot.imported_dt < end)
    ):
        if uid is not None or sig or namn:
            population.add((unit.id, handlaggare_rules.identity(namn, sig, uid)))
        if team:
            teams.add((unit.id, team))
    sampled: Counter[tuple[int, str]] = Counter()
    team_sampled: Counter[tuple[int, str]] = Counter()
    for uid, sig, namn, team in session.execute(
        select(SnapshotCase.handlaggare_user_id, SnapshotCase.handlaggare_signatur, SnapshotCase.handlaggare_namn,
               SnapshotCase.team)
        .join(DrawnCase, DrawnCase.snapshot_case_id == SnapshotCase.id)
        .join(Draw, Draw.id == DrawnCase.draw_id)
        .where(Draw.unit_id == unit.id, Draw.period.like(f"{year:04d}-%"), Draw.voided_dt.is_(None))
    ):
        if uid is not None or sig or namn:
            key = (unit.id, handlaggare_rules.identity(namn, sig, uid))
            sampled[key] += 1
            population.add(key)
        if team:
            team_sampled[(unit.id, team)] += 1
            teams.add((unit.id, team))
    return CoverageRaw(population, sampled, teams, team_sampled)


def coverage(raw: CoverageRaw) -> Coverage:
    buckets = []
    for low, high, label in BUCKETS:
        n = sum(1 for v in raw.sampled.values() if v >= low and (high is None or v <= high))
        buckets.append((label, n))
    never = len(raw.population - set(raw.sampled))
    total = len(raw.population)
    parts = [f"{n} fick {label} granskade" for label, n in buckets if n]
    if total == 0:
        sentence = "Inga ärendelistor för året – spridningen kan inte beräknas."
    elif not parts:
        sentence = f"{count(total, 'handläggare', 'handläggare')} fanns i årets ärendelistor. Ingen fick något ärende granskat."
    else:
        sentence = (f"{count(total, 'handläggare', 'handläggare')} fanns i årets ärendelistor. "
                    + swedish_list(parts)
                    + (f"; {never} fick inget ärende granskat." if never else "."))
    team_counts = sorted(raw.team_sampled.values(), reverse=True)
    return Coverage(total, len(raw.sampled), never, buckets, len(raw.teams), len(raw.team_sampled), team_counts, sentence)


def merge_coverage(raws: list[CoverageRaw]) -> CoverageRaw:
    out = CoverageRaw(set(), Counter(), set(), Counter())
    for r in raws:
        out.population |= r.population
        out.sampled.update(r.sampled)
        out.teams |= r.teams
        out.team_sampled.update(r.team_sampled)
    return out
