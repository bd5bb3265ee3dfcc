"""Genomgångar as services: planning, the target and spacing assessment, performing and closing.

- The year's target and spacing are judged by the pure :func:`kontroll.genomgang.year.assess_year`;
  :func:`assess_unit_year` feeds it a unit's genomgångar.
- Starting freezes the genomgång template version (as reviews do) and the unit's latest
  snapshot; the participants are at least GENOMGANG_MIN_PARTICIPANTS (default 2) förste
  socialsekreterare of the unit.
- Results are recorded per case of the snapshot; a brist needs at least one area and a comment
  per area, and becomes :class:`Brist` rows in the unit's brist/åtgärd handling.
- Closing needs a result for every case; a closed genomgång never changes.

Services take the acting user, check before they change anything, audit and flush. Work list
and progress queries aggregate in SQL and never load the snapshot's cases as ORM objects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, literal, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.orm import object_session as session_of

from kontroll.cases import handlaggare as handlaggare_rules
from kontroll.cases.models import CaseListSnapshot, SnapshotCase
from kontroll.cases.services import Diff, diff_against, latest_snapshot
from kontroll.checklists import services as checklists
from kontroll.checklists.model import Template
from kontroll.core import audit
from kontroll.core.errors import ValidationError
from kontroll.core.inputs import form_date
from kontroll.core.models import RoleAssignment, Unit, User
from kontroll.core.notifications import notify_each, page_path
from kontroll.core.periods import Period
from kontroll.core.permissions import (
    Job,
    Perm,
    PermissionDenied,
    can,
    job_holders_clause,
)
from kontroll.core.swedish import count
from kontroll.db import UTCDateTime, utcnow
from kontroll.genomgang.models import (
    Genomgang,
    GenomgangFeedback,
    GenomgangResult,
    GenomgangState,
    ResultValue,
)
from kontroll.genomgang.year import YearAssessment, assess_year
from kontroll.privacy.guard import check_text
from kontroll.reviews import services as reviews
from kontroll.reviews.models import MAX_COMMENT, Brist, atgard_brister

STATE_LABELS = {"planerad": "Planerad", "pågående": "Pågående", "stängd": "Stängd"}
RESULT_LABELS = {"utan_anmarkning": "Utan anmärkning", "brist": "Brist"}
DEFAULT_MIN_PARTICIPANTS = 2
PAGE_SIZE = 100


def event_date(genomgang: Genomgang) -> dt.date:
    """The date a genomgång counts on: its planned date (the date it was held for)."""
    return genomgang.planned_on


def genomgangar_in_year(session: Session, unit: Unit, year: int) -> list[Genomgang]:
    return list(session.scalars(select(Genomgang).where(Genomgang.unit_id == unit.id, Genomgang.year == year)
                                .order_by(Genomgang.planned_on, Genomgang.id)))


def assess_unit_year(session: Session, unit: Unit, year: int) -> YearAssessment:
    return assess_units_year(session, [unit], year)[unit.id]


def assess_units_year(session: Session, units: list[Unit], year: int) -> dict[int, YearAssessment]:
    """Each unit's year against its target (one query): closed genomgångar are done, planned
    and ongoing ones pending, each counted on its :func:`event_date`."""
    rows: dict[int, list[Genomgang]] = {u.id: [] for u in units}
    for genomgang in session.scalars(select(Genomgang).where(Genomgang.unit_id.in_(rows), Genomgang.year == year)
                                     .order_by(Genomgang.planned_on, Genomgang.id)):
        rows[genomgang.unit_id].append(genomgang)
    return {u.id: assess_year(year, u.genomgang_min, u.genomgang_max,
                              [event_date(held) for held in rows[u.id] if held.is_closed],
                              [event_date(held) for held in rows[u.id] if not held.is_closed]) for u in units}


# --- planning --------------------------------------------------------------------------------


def _require(actor: User, perm: Perm, unit: Unit | int, message: str) -> None:
    if not can(actor, perm, unit):
        raise PermissionDenied(message)


def plan(session: Session, actor: User, unit: Unit, planned_on: str | dt.date) -> Genomgang:
    _require(actor, Perm.PLAN_GENOMGANGAR, unit,
             "Bara förste socialsekreterare och sektionschef i enheten planerar genomgångar.")
    day = form_date(planned_on, "planned_on", "Datum")
    if not 2000 <= day.year <= 2100:
        raise ValidationError("Datumet ligger utanför de år kontroll hanterar.", "planned_on")
    taken = session.scalar(select(Genomgang.id).where(Genomgang.unit_id == unit.id, Genomgang.planned_on == day))
    if taken is not None:
        raise ValidationError(f"Det finns redan en genomgång den {day.isoformat()}.", "planned_on")
    genomgang = Genomgang(unit_id=unit.id, year=day.year, planned_on=day, state=GenomgangState.PLANERAD.value,
                  created_by_id=actor.id, created_dt=utcnow())
    session.add(genomgang)
    session.flush()
    audit.record(session, actor, "genomgang.plan", object_type="genomgang", object_id=genomgang.id, unit=unit,
                 details={"planned_on": day})
    return genomgang


def unplan(session: Session, actor: User, genomgang: Genomgang) -> None:
    _require(actor, Perm.PLAN_GENOMGANGAR, genomgang.unit_id,
             "Bara förste socialsekreterare och sektionschef i enheten planerar genomgångar.")
    if genomgang.is_started:
        raise ValidationError("En påbörjad genomgång kan inte tas bort ur planen.")
    audit.record(session, actor, "genomgang.unplan", object_type="genomgang", object_id=genomgang.id, unit=genomgang.unit_id,
                 details={"planned_on": genomgang.planned_on})
    session.delete(genomgang)
    session.flush()


# --- starting --------------------------------------------------------------------------------


def forste_in_unit(session: Session, unit: Unit) -> list[User]:
    """Who may take part in a genomgång of ``unit`` (``permissions.Job.GENOMGANG_PARTICIPANT``)."""
    return list(session.scalars(
        select(User).join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(job_holders_clause(Job.GENOMGANG_PARTICIPANT, unit))
        .distinct().order_by(User.full_name)
    ))


def start(session: Session, actor: User, genomgang: Genomgang, participants: list[User], template: Template,
          *, min_participants: int = DEFAULT_MIN_PARTICIPANTS) -> Genomgang:
    """Start a planned genomgång from the unit's latest snapshot."""
    unit = genomgang.unit
    _require(actor, Perm.PERFORM_GENOMGANG, unit, "Bara förste socialsekreterare i enheten genomför genomgångar.")
    if genomgang.is_started:
        raise ValidationError("Genomgången är redan påbörjad.")
    people = {u.id: u for u in participants}
    eligible = {u.id for u in forste_in_unit(session, unit)}
    if any(uid not in eligible for uid in people):
        raise ValidationError("Deltagarna ska vara förste socialsekreterare i enheten.", "participants")
    if len(people) < min_participants:
        raise ValidationError(f"Genomgången görs gemensamt: välj minst {min_participants} förste socialsekreterare "
                              "som deltar.", "participants")
    snapshot = latest_snapshot(session, unit)
    if snapshot is None:
        raise ValidationError("Enheten har ingen ärendelista ännu. Importera ärendelistan först.")
    version = checklists.freeze_version(session, template)
    genomgang.state = GenomgangState.PAGAENDE.value
    genomgang.snapshot_id = snapshot.id
    genomgang.template_version_id = version.id
    genomgang.case_count = snapshot.row_count
    genomgang.started_dt = utcnow()
    genomgang.started_by_id = actor.id
    genomgang.participants = list(people.values())
    session.flush()
    audit.record(session, actor, "genomgang.start", object_type="genomgang", object_id=genomgang.id, unit=unit,
                 details={"snapshot": snapshot.id, "cases": snapshot.row_count, "template_version": version.id,
                          "participants": sorted(u.username for u in people.values())})
    notify_each(session, [u for u in people.values() if u.id != actor.id], key=f"genomgang_started:{genomgang.id}",
                kind="genomgang_started",
                title=f"Du deltar i genomgången i {unit.code} från {genomgang.planned_on.isoformat()}",
                body=(f"{actor.full_name} har startat genomgången av {count(snapshot.row_count, 'ärende', 'ärenden')}. "
                      "Registrera ett resultat för varje ärende i arbetslistan."),
                link=page_path("genomgang.work", session=session, code=unit.code, genomgang_id=genomgang.id))
    return genomgang


# --- the work list and progress ---------------------------------------------------------------


def handlaggare_key_expr() -> Any:
    return handlaggare_rules.key_expr(SnapshotCase)


@dataclass
class WorkRow:
    snapshot_case_id: int
    case_ref: str
    handlaggare: str
    team: str | None
    result: str | None


@dataclass
class Progress:
    done: int
    total: int
    brist: int
    #: (key, label, done, total, brist)
    per_handlaggare: list[tuple[str, str, int, int, int]] = field(default_factory=list)
    #: (team or None, label, done, total, brist)
    per_team: list[tuple[str | None, str, int, int, int]] = field(default_factory=list)


def _filters(genomgang: Genomgang, handlaggare: str | None, team: str | None, status: str | None) -> list[Any]:
    where: list[Any] = [SnapshotCase.snapshot_id == genomgang.snapshot_id]
    if handlaggare:
        where.append(handlaggare_key_expr() == handlaggare)
    if team:
        where.append(SnapshotCase.team == team)
    if status == "kvar":
        where.append(GenomgangResult.id.is_(None))
    elif status in RESULT_LABELS:
        where.append(GenomgangResult.result == status)
    return where


def _joined(genomgang: Genomgang, *columns: Any) -> Any:
    return select(*columns).select_from(SnapshotCase).outerjoin(
        GenomgangResult, and_(GenomgangResult.snapshot_case_id == SnapshotCase.id,
                              GenomgangResult.genomgang_id == genomgang.id))


def work_count(session: Session, genomgang: Genomgang, *, handlaggare: str | None = None, team: str | None = None,
               status: str | None = None) -> int:
    return session.scalar(_joined(genomgang, func.count()).where(*_filters(genomgang, handlaggare, team, status))) or 0


def work_list(session: Session, genomgang: Genomgang, *, handlaggare: str | None = None, team: str | None = None,
              status: str | None = None, page: int = 1, page_size: int = PAGE_SIZE) -> list[WorkRow]:
    """One page of the work list, by case reference."""
    where = _filters(genomgang, handlaggare, team, status)
    rows = session.execute(
        _joined(genomgang, SnapshotCase.id, SnapshotCase.case_ref, SnapshotCase.handlaggare_namn,
                SnapshotCase.handlaggare_signatur, SnapshotCase.team, GenomgangResult.result)
        .where(*where).order_by(SnapshotCase.case_ref).limit(page_size).offset((page - 1) * page_size)
    ).all()
    return [WorkRow(r[0], r[1], handlaggare_rules.label(r[2], r[3]), r[4], r[5]) for r in rows]


def progress(session: Session, genomgang: Genomgang) -> Progress:
    key = handlaggare_key_expr()
    rows = session.execute(
        _joined(genomgang, key, func.max(SnapshotCase.handlaggare_namn), func.max(SnapshotCase.handlaggare_signatur),
                func.count(GenomgangResult.id), func.count(SnapshotCase.id),
                func.sum(case((GenomgangResult.result == ResultValue.BRIST.value, 1), else_=0)))
        .where(SnapshotCase.snapshot_id == genomgang.snapshot_id).group_by(key).order_by(key)
    ).all()
    per = [(r[0], handlaggare_rules.label(r[1], r[2]), int(r[3]), int(r[4]), int(r[5] or 0)) for r in rows]
    teams = session.execute(
        _joined(genomgang, SnapshotCase.team, func.count(GenomgangResult.id), func.count(SnapshotCase.id),
                func.sum(case((GenomgangResult.result == ResultValue.BRIST.value, 1), else_=0)))
        .where(SnapshotCase.snapshot_id == genomgang.snapshot_id).group_by(SnapshotCase.team).order_by(SnapshotCase.team)
    ).all()
    per_team = [(r[0], handlaggare_rules.team_label(r[0]), int(r[1]), int(r[2]), int(r[3] or 0)) for r in teams]
    return Progress(sum(p[2] for p in per), sum(p[3] for p in per), sum(p[4] for p in per), per, per_team)


def handlaggare_label(session: Session, genomgang: Genomgang, key: str) -> str:
    """How the work list names the handläggare ``key`` (its own words when not in the list)."""
    row = session.execute(select(func.max(SnapshotCase.handlaggare_namn), func.max(SnapshotCase.handlaggare_signatur))
                          .where(SnapshotCase.snapshot_id == genomgang.snapshot_id, handlaggare_key_expr() == key)).one()
    return handlaggare_rules.label(row[0], row[1]) if row[0] or row[1] else key


def teams_in(session: Session, genomgang: Genomgang) -> list[str]:
    return [t for t in session.scalars(select(SnapshotCase.team).where(SnapshotCase.snapshot_id == genomgang.snapshot_id)
                                       .distinct().order_by(SnapshotCase.team)) if t]


def snapshot_case(session: Session, genomgang: Genomgang, snapshot_case_id: int) -> SnapshotCase | None:
    sc = session.get(SnapshotCase, snapshot_case_id)
    return sc if sc is not None and sc.snapshot_id == genomgang.snapshot_id else None


def result_for(session: Session, genomgang: Genomgang, snapshot_case_id: int) -> GenomgangResult | None:
    return session.scalar(select(GenomgangResult).where(GenomgangResult.genomgang_id == genomgang.id,
                                                        GenomgangResult.snapshot_case_id == snapshot_case_id))


def brister_of(session: Session, result: GenomgangResult | None) -> list[Brist]:
    if result is None:
        return []
    return list(session.scalars(select(Brist).where(Brist.genomgang_result_id == result.id).order_by(Brist.id)))


def next_open_case(session: Session, genomgang: Genomgang, after_ref: str, handlaggare: str | None = None) -> int | None:
    """The next case (by reference) without a result, after ``after_ref``, wrapping around."""
    where = _filters(genomgang, handlaggare, None, "kvar")
    base = _joined(genomgang, SnapshotCase.id).where(*where).order_by(SnapshotCase.case_ref).limit(1)
    found = session.scalar(base.where(SnapshotCase.case_ref > after_ref))
    return found if found is not None else session.scalar(base)


# --- recording a result -------------------------------------------------------------------------


def _check_open_participant(actor: User, genomgang: Genomgang) -> None:
    """The actor takes part in the open genomgång. The genomgång's row is locked first (on
    PostgreSQL; SQLite serialises every write anyway), so that results, återkoppling and the
    closing of one genomgång happen one after the other: a result is never recorded in a
    genomgång closed meanwhile, and two participants never insert the same case's result."""
    _require(actor, Perm.PERFORM_GENOMGANG, genomgang.unit_id, "Bara förste socialsekreterare i enheten genomför genomgångar.")
    db = session_of(genomgang)
    assert db is not None, "a genomgång of a session"
    state = db.scalar(select(Genomgang.state).where(Genomgang.id == genomgang.id).with_for_update())
    if state != genomgang.state:
        db.refresh(genomgang)
    if genomgang.is_closed:
        raise ValidationError("Genomgången är stängd och kan inte ändras.")
    if not genomgang.is_started:
        raise ValidationError("Genomgången är inte påbörjad.")
    if actor.id not in {u.id for u in genomgang.participants}:
        raise PermissionDenied("Bara genomgångens deltagare registrerar resultat och återkoppling.")


def areas_from_form(template: Template, form: Mapping[str, Any]) -> dict[str, str]:
    """{area_key: comment} for every area marked as brist in the form."""
    return {area.key: (form.get(f"kommentar-{area.key}") or "").strip()
            for area in template.areas if form.get(f"brist-{area.key}")}


def record_result(session: Session, actor: User, genomgang: Genomgang, snapshot_case_id: int, result: str,
                  areas: Mapping[str, str]) -> GenomgangResult:
    """Record (or, while the genomgång is open, change) the result for one case."""
    _check_open_participant(actor, genomgang)
    sc_ref = session.scalar(select(SnapshotCase.case_ref).where(SnapshotCase.id == snapshot_case_id,
                                                                SnapshotCase.snapshot_id == genomgang.snapshot_id))
    if sc_ref is None:
        raise ValidationError("Ärendet finns inte i genomgångens ärendelista.")
    template = checklists.template_of(genomgang.template_version)
    known = {a.key: a for a in template.areas}
    if result not in RESULT_LABELS:
        raise ValidationError("Välj ”Utan anmärkning” eller ”Brist”.", "result")
    if any(key not in known for key in areas):
        raise ValidationError("Ett område finns inte i mallen.", "areas")
    if result == ResultValue.UTAN_ANMARKNING and areas:
        raise ValidationError("Du har markerat brister men valt ”Utan anmärkning”. Välj ”Brist”, eller ta bort "
                              "markeringarna.", "result")
    if result == ResultValue.BRIST:
        if not areas:
            raise ValidationError("Markera minst ett område med brist.", "areas")
        for key, comment in areas.items():
            if not comment:
                raise ValidationError(f"Beskriv bristen i ”{known[key].title}” i kommentaren, så att handläggaren "
                                      "får återkoppling och en åtgärd kan följas upp.", f"kommentar-{key}")
            if len(comment) > MAX_COMMENT:
                raise ValidationError(f"Kommentaren i ”{known[key].title}” är för lång (högst {MAX_COMMENT} tecken).",
                                      f"kommentar-{key}")
            check_text(comment, f"Kommentaren i ”{known[key].title}” för ärende {sc_ref}", f"kommentar-{key}")
    row = result_for(session, genomgang, snapshot_case_id)
    changed = row is not None
    if row is not None:
        old = [b.id for b in brister_of(session, row)]
        if old and session.scalar(select(func.count()).select_from(atgard_brister)
                                  .where(atgard_brister.c.brist_id.in_(old))):
            raise ValidationError("Resultatet kan inte ändras: en åtgärd är redan öppnad för ärendets brister.")
        if old:
            session.execute(delete(Brist).where(Brist.id.in_(old)))
        row.result = result
        row.recorded_by_id = actor.id
        row.recorded_dt = utcnow()
    else:
        row = GenomgangResult(genomgang_id=genomgang.id, snapshot_case_id=snapshot_case_id, result=result,
                              recorded_by_id=actor.id, recorded_dt=utcnow())
        session.add(row)
    session.flush()
    now = utcnow()
    for area in template.areas:
        if area.key in areas:
            item = area.items[0]
            session.add(Brist(genomgang_result_id=row.id, unit_id=genomgang.unit_id, area_key=area.key,
                              area_title=area.title, item_key=item.key, question=item.question,
                              answer=item.deviation, comment=areas[area.key], created_dt=now))
    session.flush()
    audit.record(session, actor, "genomgang.result", object_type="genomgang", object_id=genomgang.id, unit=genomgang.unit_id,
                 details={"case": sc_ref, "result": result, "areas": sorted(areas), "changed": changed})
    return row


def record_remaining(session: Session, actor: User, genomgang: Genomgang, *, handlaggare: str | None = None,
                     team: str | None = None, expected: int | None = None) -> int:
    """Record ”Utan anmärkning” for every case of the work list's selection (a handläggare,
    a team, or the whole list) that has no result yet: one statement, one audit entry naming
    the cases. ``expected`` is the number the participant saw and confirmed; when another
    participant has recorded results meanwhile the numbers differ, and nothing is recorded."""
    _check_open_participant(actor, genomgang)
    where = _filters(genomgang, handlaggare, team, "kvar")
    refs = list(session.scalars(_joined(genomgang, SnapshotCase.case_ref).where(*where).order_by(SnapshotCase.case_ref)))
    if not refs:
        raise ValidationError("Alla ärenden i urvalet har redan ett resultat.")
    if expected is not None and expected != len(refs):
        raise ValidationError(f"Antalet ärenden utan resultat i urvalet har ändrats sedan du valde (nu {len(refs)}, "
                              f"inte {expected}). Se över listan och försök igen.")
    now = utcnow()
    source = _joined(genomgang, literal(genomgang.id), SnapshotCase.id, literal(ResultValue.UTAN_ANMARKNING.value),
                     literal(actor.id), literal(now, UTCDateTime)).where(*where)
    session.execute(insert(GenomgangResult).from_select(
        ["genomgang_id", "snapshot_case_id", "result", "recorded_by_id", "recorded_dt"], source))
    session.flush()
    details: dict[str, Any] = {"result": ResultValue.UTAN_ANMARKNING.value, "count": len(refs), "cases": refs}
    if handlaggare:
        details["handlaggare"] = handlaggare
    if team:
        details["team"] = team
    audit.record(session, actor, "genomgang.results", object_type="genomgang", object_id=genomgang.id,
                 unit=genomgang.unit_id, details=details)
    return len(refs)


# --- återkoppling ---------------------------------------------------------------------------------


def record_feedback(session: Session, actor: User, genomgang: Genomgang, handlaggare_key: str, given_on: str | dt.date,
                    note: str = "", today: dt.date | None = None) -> GenomgangFeedback:
    _check_open_participant(actor, genomgang)
    exists = session.scalar(select(func.count()).select_from(SnapshotCase).where(
        SnapshotCase.snapshot_id == genomgang.snapshot_id, handlaggare_key_expr() == handlaggare_key))
    if not handlaggare_key or not exists:
        raise ValidationError("Välj en handläggare som har ärenden i genomgången.", "handlaggare")
    day = form_date(given_on, "given_on", "Datum för mötet")
    if day > (today or dt.date.today()):
        raise ValidationError("Mötet kan inte ligga i framtiden.", "given_on")
    note = note.strip()
    if len(note) > MAX_COMMENT:
        raise ValidationError(f"Anteckningen får vara högst {MAX_COMMENT} tecken.", "note")
    check_text(note, "Anteckningen från mötet", "note")
    fb = GenomgangFeedback(genomgang_id=genomgang.id, handlaggare_key=handlaggare_key, given_on=day,
                           note=note or None, recorded_by_id=actor.id, recorded_dt=utcnow())
    session.add(fb)
    session.flush()
    audit.record(session, actor, "genomgang.feedback", object_type="genomgang", object_id=genomgang.id, unit=genomgang.unit_id,
                 details={"handlaggare": handlaggare_key, "given_on": day})
    handlaggare = list(session.scalars(
        select(User).where(User.id.in_(
            select(SnapshotCase.handlaggare_user_id).where(SnapshotCase.snapshot_id == genomgang.snapshot_id,
                                                           handlaggare_key_expr() == handlaggare_key)))))
    notify_each(session, [u for u in handlaggare if u.id != actor.id], key=f"genomgang_feedback:{fb.id}",
                kind="feedback_given", title=f"Återkoppling från genomgången {genomgang.planned_on.isoformat()}",
                body=f"{actor.full_name} har registrerat återkopplingen till dig från genomgången av alla ärenden "
                     f"({day.isoformat()}). Du ser resultatet för dina ärenden på sidan.",
                link=page_path("reviews.my_feedback", session=session))
    return fb


def feedback_by_handlaggare(session: Session, genomgang: Genomgang) -> dict[str, list[GenomgangFeedback]]:
    out: dict[str, list[GenomgangFeedback]] = {}
    for fb in session.scalars(select(GenomgangFeedback).where(GenomgangFeedback.genomgang_id == genomgang.id)
                              .order_by(GenomgangFeedback.given_on, GenomgangFeedback.id)):
        out.setdefault(fb.handlaggare_key, []).append(fb)
    return out


# --- the handläggare's view ---------------------------------------------------------------------


@dataclass
class HandlaggareBrist:
    case_ref: str
    area_title: str
    comment: str | None


@dataclass
class MyGenomgang:
    """One genomgång as a handläggare sees it: their cases in it, the brister found in them and
    the återkoppling given to them."""

    genomgang: Genomgang
    unit_code: str
    cases: int
    done: int
    brister: list[HandlaggareBrist] = field(default_factory=list)
    feedback: list[GenomgangFeedback] = field(default_factory=list)

    @property
    def cases_with_brist(self) -> int:
        return len({b.case_ref for b in self.brister})


def for_handlaggare(session: Session, user: User) -> list[MyGenomgang]:
    """The started and closed genomgångar with cases that ``user`` handles (as linked in the
    genomgång's snapshot), in the units where they receive återkoppling, newest first. Four
    queries, whatever the number of genomgångar."""
    units = [a.unit_id for a in user.role_assignments
             if a.unit_id is not None and can(user, Perm.RECEIVE_FEEDBACK, a.unit_id)]
    if not units:
        return []
    mine = and_(SnapshotCase.snapshot_id == Genomgang.snapshot_id, SnapshotCase.handlaggare_user_id == user.id)
    counted = session.execute(
        select(Genomgang, Unit.code, func.count(SnapshotCase.id), func.count(GenomgangResult.id))
        .join(Unit, Unit.id == Genomgang.unit_id).join(SnapshotCase, mine)
        .outerjoin(GenomgangResult, and_(GenomgangResult.genomgang_id == Genomgang.id,
                                         GenomgangResult.snapshot_case_id == SnapshotCase.id))
        .where(Genomgang.unit_id.in_(units), Genomgang.state != GenomgangState.PLANERAD.value)
        .group_by(Genomgang.id, Unit.code).order_by(Genomgang.planned_on.desc(), Genomgang.id.desc())
    ).all()
    rows = {g.id: MyGenomgang(g, code, int(n), int(done)) for g, code, n, done in counted}
    if not rows:
        return []
    for gid, ref, title, comment in session.execute(
        select(GenomgangResult.genomgang_id, SnapshotCase.case_ref, Brist.area_title, Brist.comment)
        .join(GenomgangResult, GenomgangResult.id == Brist.genomgang_result_id)
        .join(SnapshotCase, SnapshotCase.id == GenomgangResult.snapshot_case_id)
        .where(GenomgangResult.genomgang_id.in_(rows), SnapshotCase.handlaggare_user_id == user.id)
        .order_by(SnapshotCase.case_ref, Brist.id)
    ):
        rows[gid].brister.append(HandlaggareBrist(ref, title, comment))
    keys = session.execute(
        select(Genomgang.id, handlaggare_key_expr()).join(SnapshotCase, mine)
        .where(Genomgang.id.in_(rows)).distinct()
    ).all()
    if keys:
        for fb in session.scalars(
            select(GenomgangFeedback)
            .where(tuple_(GenomgangFeedback.genomgang_id, GenomgangFeedback.handlaggare_key).in_(keys))
            .order_by(GenomgangFeedback.given_on, GenomgangFeedback.id)
        ):
            rows[fb.genomgang_id].feedback.append(fb)
    return list(rows.values())


# --- closing ------------------------------------------------------------------------------------


def close(session: Session, actor: User, genomgang: Genomgang) -> Genomgang:
    _check_open_participant(actor, genomgang)
    total = session.scalar(select(func.count()).select_from(SnapshotCase)
                           .where(SnapshotCase.snapshot_id == genomgang.snapshot_id)) or 0
    done = session.scalar(select(func.count()).select_from(GenomgangResult)
                          .where(GenomgangResult.genomgang_id == genomgang.id)) or 0
    if done < total:
        left = total - done
        raise ValidationError(f"Genomgången kan inte stängas: {count(left, 'ärende saknar', 'ärenden saknar')} resultat "
                              f"({done} av {total} klara).")
    genomgang.state = GenomgangState.STANGD.value
    genomgang.closed_dt = utcnow()
    genomgang.closed_by_id = actor.id
    session.flush()
    audit.record(session, actor, "genomgang.close", object_type="genomgang", object_id=genomgang.id, unit=genomgang.unit_id,
                 details={"cases": total})
    return genomgang


# --- the live list ------------------------------------------------------------------------------


@dataclass
class _Row:
    case_ref: str
    handlaggare_namn: str | None
    handlaggare_signatur: str | None


def live_diff(session: Session, genomgang: Genomgang) -> tuple[CaseListSnapshot | None, Diff | None]:
    """How the unit's latest snapshot differs from the genomgång's (None when it is the same)."""
    latest = latest_snapshot(session, genomgang.unit)
    if latest is None or genomgang.snapshot_id is None or latest.id == genomgang.snapshot_id:
        return latest, None
    rows = [_Row(*r) for r in session.execute(
        select(SnapshotCase.case_ref, SnapshotCase.handlaggare_namn, SnapshotCase.handlaggare_signatur)
        .where(SnapshotCase.snapshot_id == latest.id))]
    return latest, diff_against(session, genomgang.snapshot, rows)  # type: ignore[arg-type]


# --- the year view ------------------------------------------------------------------------------


@dataclass
class MonthRow:
    period: str
    has_draw: bool
    reviews_done: int
    reviews_total: int


def stickprov_months(session: Session, unit: Unit, year: int, today: dt.date, late_months: int) -> list[MonthRow]:
    out = []
    periods = [str(month) for month in Period.months_of(year)]
    overviews = reviews.month_overviews(session, [unit.id], periods, today, late_months)
    for period in periods:
        ov = overviews[(unit.id, period)]
        out.append(MonthRow(period, ov.draw is not None, sum(1 for r in ov.rows if r.state == "klar"), len(ov.rows)))
    return out


def progress_counts(session: Session, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    return dict(session.execute(select(GenomgangResult.genomgang_id, func.count())
                                .where(GenomgangResult.genomgang_id.in_(ids))
                                .group_by(GenomgangResult.genomgang_id)).all())
