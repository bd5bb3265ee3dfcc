"""Verifying a draw: what it was drawn from (the population and its digest), and redoing the
draw from its record to show that the same cases come out (docs/draw-method.md).

Anyone with the right to verify can do this years later: the population is re-read from the
stored snapshot, its digest compared with the one recorded at the draw, and the method run
again with the recorded seed and parameters. A sealed redaction of a personnummer in the
snapshot after the draw is explained, not hidden.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from kontroll.cases.models import CaseListSnapshot
from kontroll.cases.services import stored_snapshot_digest
from kontroll.sampling import method
from kontroll.sampling.models import Draw

POPULATION_FORMAT = "kontroll-urvalsunderlag-v1"


def population_of(session: Session, snapshot_id: int) -> list[tuple[str, str]]:
    """(case_ref, team or "") of every case in a snapshot, by case_ref in code-point order: all
    that the draw depends on. Read through the driver's cursor: this is the hot path of
    drawing and verifying on large lists."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        sql = ("SELECT case_ref, coalesce(team, '') FROM snapshot_cases WHERE snapshot_id = %s "
               'ORDER BY case_ref COLLATE "C"')
    else:
        sql = "SELECT case_ref, coalesce(team, '') FROM snapshot_cases WHERE snapshot_id = ? ORDER BY case_ref"
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, (snapshot_id,))
        return cursor.fetchall()
    finally:
        cursor.close()


def population_digest(population: list[tuple[str, str]]) -> str:
    """SHA-256 over the header line and one ``case_ref TAB team`` line per case, in
    code-point order of case_ref (no team: empty), each ending in a line feed."""
    body = "\n".join(map("\t".join, population))
    text = POPULATION_FORMAT + "\n" + body + ("\n" if population else "")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Verification:
    ok: bool
    lines: list[str]
    #: sealed redactions of the snapshot's rows that this verification accounted for
    redactions: list[Any] = field(default_factory=list)


def _redaction_window(session: Session, draw: Draw) -> tuple[list[Any], bool]:
    """The sealed redactions of the draw's snapshot made after the draw, and whether they
    explain a changed snapshot: the draw verified just before the first of them, and each
    found the snapshot as the one before had left it. An unsealed record explains nothing."""
    from kontroll.privacy.models import sealed_snapshot_redactions, snapshot_redactions

    key = session.info.get("kontroll_audit_key")
    if len(snapshot_redactions(session, draw.snapshot_id)) != len(sealed := sealed_snapshot_redactions(
            session, draw.snapshot_id, key)):
        return [], False
    after = [r for r in sealed if r.redacted_dt > draw.drawn_dt]
    if not after:
        return [], False
    explained = draw.id in json.loads(after[0].draws_verified_before or "[]") and all(r.verified_before for r in after)
    return after, explained


def verify_draw(session: Session, draw: Draw, *, full: bool = True) -> Verification:
    """Re-read what the draw was made from, check it against the digests recorded at the
    draw, redo the draw from the stored seed and compare.

    ``full`` also recomputes the whole snapshot's SHA-256 (every stored field, not only
    those the draw depends on): slower on large lists, and what the page and CLI do.

    A personnummer removed from the snapshot after the draw (``kontroll privacy redact``)
    changes its hashes; a sealed redaction explains that change when the draw verified just
    before it and the snapshot now is what the redaction left. Then the verification says so,
    and a draw that can no longer be redone exactly (a case reference was redacted) is
    reported as verified at the time of the redaction.
    """
    lines: list[str] = []
    ok = True
    snapshot = session.get(CaseListSnapshot, draw.snapshot_id)
    assert snapshot is not None
    redactions, explained = _redaction_window(session, draw)
    latest = redactions[-1] if explained else None
    population = population_of(session, snapshot.id)
    population_now = population_digest(population)
    population_redacted = False
    if population_now == draw.population_sha256:
        lines.append(f"Urvalsunderlaget stämmer: {len(population)} ärenden med samma nummer och grupper som vid dragningen.")
    elif latest is not None and population_now == latest.population_sha256_after:
        population_redacted = True
        lines.append("Urvalsunderlaget har ändrats efter dragningen, men bara genom förseglad maskering av personnummer "
                     "(se nedan); det stämmer med läget efter maskeringen.")
    else:
        ok = False
        lines.append(
            "Ärendenumren eller grupperna i ärendelistan har ändrats sedan dragningen "
            "(urvalsunderlagets kontrollsumma stämmer inte)."
        )
    if full:
        digest, count = stored_snapshot_digest(session, snapshot.id)
        if digest == draw.snapshot_sha256 and digest == snapshot.sha256:
            lines.append(f"Ärendelistans kontrollsumma stämmer ({digest}).")
        elif latest is not None and digest == latest.snapshot_sha256_after and draw.snapshot_sha256 == snapshot.sha256:
            lines.append(f"Ärendelistans kontrollsumma före maskeringen stämde ({snapshot.sha256}); efter maskeringen är "
                         f"den {digest}, och det stämmer nu.")
        else:
            ok = False
            lines.append(
                "Ärendelistan stämmer inte med kontrollsumman som sparades vid dragningen: "
                f"sparad {draw.snapshot_sha256}, omräknad {digest}. Listan har ändrats efter dragningen."
            )
        if count != snapshot.row_count:
            ok = False
            lines.append(f"Ärendelistan har {count} rader men {snapshot.row_count} sparades vid importen.")
    result = _redo(draw, population, lines, ok)
    if population_redacted and not result.ok and ok:
        result = Verification(True, lines[:-1] + [
            "Dragningen kan inte göras om exakt, eftersom ett ärendenummer eller en grupp i underlaget maskerades efter "
            "dragningen. Den gjordes om och stämde när maskeringen gjordes."])
    if explained:
        from kontroll.privacy.models import describe

        result.lines.extend(describe(r) for r in redactions)
        result.redactions = list(redactions)
    return result


def _redo(draw: Draw, population: list[tuple[str, str]], lines: list[str], ok: bool) -> Verification:
    params = method.DrawParams(
        sample_size=draw.sample_size,
        stratify_by_team=draw.stratify_by_team,
        exclude_refs=frozenset(json.loads(draw.excluded_refs)),
    )
    selected = [c.case_ref for c in sorted(draw.cases, key=lambda c: c.position)]
    same, explanation = method.verify(
        population, draw.seed, params, selected, method_name=draw.method_name, method_version=draw.method_version
    )
    lines.append(explanation)
    return Verification(ok and same, lines)
