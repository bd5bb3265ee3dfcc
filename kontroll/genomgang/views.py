"""Pages: the unit's year plan, a genomgång, its work list, the form for one case."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.checklists.services import (
    checklists_directory,
    genomgang_template,
    template_of,
)
from kontroll.core import audit
from kontroll.core.actions import (
    Confirm,
    Page,
    back_to,
    form_action,
    of_unit,
    page_again,
    unit_with,
)
from kontroll.core.errors import ValidationError
from kontroll.core.models import Unit, User
from kontroll.core.periods import late_after_months, period_label
from kontroll.core.permissions import Perm, can
from kontroll.core.swedish import count
from kontroll.core.timezone import local_today
from kontroll.core.web import (
    acting_user,
    form_id,
    login_required,
    require_perm,
    unit_or_404,
    year_arg,
)
from kontroll.db import get_session
from kontroll.genomgang import services as svc
from kontroll.genomgang.models import Genomgang

bp = Blueprint("genomgang", __name__)






def _require_view(unit: Unit) -> None:
    if not (can(acting_user(), Perm.VIEW_GENOMGANGAR, unit) or can(acting_user(), Perm.PLAN_GENOMGANGAR, unit)):
        require_perm(Perm.VIEW_GENOMGANGAR, unit)


def _genomgang(unit: Unit, genomgang_id: int) -> Genomgang:
    _require_view(unit)
    return of_unit(Genomgang, genomgang_id, unit)


# --- the year plan --------------------------------------------------------------------------


def _render_year(unit: Unit, year: int, error: ValidationError | None = None, status: int = 200) -> Response:
    db = get_session()
    today = local_today()
    rows = svc.genomgangar_in_year(db, unit, year)
    html = render_template(
        "genomgang/year.html", unit=unit, year=year, rows=rows, a=svc.assess_unit_year(db, unit, year),
        counts=svc.progress_counts(db, [genomgang.id for genomgang in rows if genomgang.is_started]), labels=svc.STATE_LABELS,
        months=svc.stickprov_months(db, unit, year, today, late_after_months(current_app.config)), label=period_label, today=today,
        can_plan=can(acting_user(), Perm.PLAN_GENOMGANGAR, unit), error=error,
        form=request.form if error else {},
    )
    return Response(html, status=status)


@bp.get("/enheter/<code>/genomgangar")
@login_required
def year(code: str) -> Response:
    unit = unit_or_404(code)
    _require_view(unit)
    return _render_year(unit, year_arg(local_today()))


@bp.post("/enheter/<code>/genomgangar")
@login_required
def plan(code: str) -> Response:
    unit = unit_with(code, Perm.PLAN_GENOMGANGAR)
    return form_action(
        lambda db: svc.plan(db, acting_user(), unit, request.form.get("planned_on", "")),
        on_error=page_again(lambda err, status: _render_year(unit_or_404(code), year_arg(local_today()), err, status)),
        then=lambda genomgang: url_for("genomgang.year", code=unit.code, ar=genomgang.year),
        done=lambda genomgang: f"Genomgången den {genomgang.planned_on.isoformat()} är planerad.",
    )


@bp.post("/enheter/<code>/genomgangar/<int:genomgang_id>/ta-bort")
@login_required
def unplan(code: str, genomgang_id: int) -> Response:
    unit = unit_with(code, Perm.PLAN_GENOMGANGAR)
    genomgang = _genomgang(unit, genomgang_id)
    back = url_for("genomgang.year", code=unit.code, ar=genomgang.year)
    day = genomgang.planned_on.isoformat()
    return form_action(lambda db: svc.unplan(db, acting_user(), genomgang), on_error=back_to(back), then=back,
                       done=f"Den planerade genomgången den {day} är borttagen ur planen.",
                       confirm=Confirm(title=f"Ta bort den planerade genomgången den {day}?",
                                       consequences=("Genomgången tas bort ur årets plan. Borttagningen syns i händelseloggen.",
                                                     "Årets mål för genomgångar räknas om utan den."),
                                       button="Ja, ta bort den ur planen", back=back))


# --- one genomgång ------------------------------------------------------------------------------


def _render_genomgang(unit: Unit, genomgang: Genomgang, error: ValidationError | None = None, status: int = 200) -> Response:
    db = get_session()
    me = acting_user()
    prog = svc.progress(db, genomgang) if genomgang.is_started else None
    latest, diff = svc.live_diff(db, genomgang) if genomgang.is_started else (None, None)
    may_perform = can(me, Perm.PERFORM_GENOMGANG, unit)
    is_participant = genomgang.is_started and me.id in {u.id for u in genomgang.participants}
    html = render_template(
        "genomgang/genomgang.html", unit=unit, genomgang=genomgang, prog=prog, latest=latest, diff=diff, labels=svc.STATE_LABELS,
        candidates=svc.forste_in_unit(db, unit) if not genomgang.is_started and may_perform else [],
        min_participants=int(current_app.config["GENOMGANG_MIN_PARTICIPANTS"]),
        may_start=not genomgang.is_started and may_perform, may_edit=is_participant and not genomgang.is_closed,
        feedback=svc.feedback_by_handlaggare(db, genomgang) if genomgang.is_started else {}, today=local_today(),
        t=template_of(genomgang.template_version) if genomgang.template_version else None, error=error,
        form=request.form if error else {}, selected=request.form.getlist("participants") if error else None,
    )
    return Response(html, status=status)


@bp.get("/enheter/<code>/genomgangar/<int:genomgang_id>")
@login_required
def detail(code: str, genomgang_id: int) -> Response:
    unit = unit_or_404(code)
    genomgang = _genomgang(unit, genomgang_id)
    require_perm(Perm.VIEW_GENOMGANGAR, unit)
    if genomgang.is_started:  # from then on the page names cases (brister, återkoppling)
        audit.record_view(get_session(), acting_user(), "genomgang.view", object_type="genomgang", object_id=genomgang.id,
                          unit=unit)
    return _render_genomgang(unit, _genomgang(unit, genomgang_id))


@bp.post("/enheter/<code>/genomgangar/<int:genomgang_id>/starta")
@login_required
def start(code: str, genomgang_id: int) -> Response:
    unit = unit_with(code, Perm.PERFORM_GENOMGANG)
    genomgang = _genomgang(unit, genomgang_id)
    ids = [i for i in map(form_id, request.form.getlist("participants")) if i is not None]
    config = current_app.config

    def begin(db: Session) -> Genomgang:
        people = list(db.scalars(select(User).where(User.id.in_(ids)))) if ids else []
        template = genomgang_template(checklists_directory(config), config["GENOMGANG_TEMPLATE"])
        return svc.start(db, acting_user(), genomgang, people, template, min_participants=int(config["GENOMGANG_MIN_PARTICIPANTS"]))

    return form_action(begin, on_error=_again(code, genomgang_id),
                       then=url_for("genomgang.work", code=unit.code, genomgang_id=genomgang.id),
                       done=lambda started: f"Genomgången är påbörjad med {started.case_count} ärenden.")


def _again(code: str, genomgang_id: int):  # type: ignore[no-untyped-def]
    """``on_error`` for the genomgång's own page: shown again with the message."""
    return page_again(lambda err, status: _render_genomgang(unit_or_404(code),
                                                            _genomgang(unit_or_404(code), genomgang_id), err, status))


@bp.post("/enheter/<code>/genomgangar/<int:genomgang_id>/aterkoppling")
@login_required
def feedback(code: str, genomgang_id: int) -> Response:
    unit = unit_with(code, Perm.PERFORM_GENOMGANG)
    genomgang = _genomgang(unit, genomgang_id)
    f = request.form
    return form_action(
        lambda db: svc.record_feedback(db, acting_user(), genomgang, f.get("handlaggare", ""), f.get("given_on", ""),
                                       f.get("note", ""), today=local_today()),
        on_error=_again(code, genomgang_id), done="Återkopplingen är registrerad.",
        then=url_for("genomgang.detail", code=unit.code, genomgang_id=genomgang.id) + "#handlaggare")


@bp.post("/enheter/<code>/genomgangar/<int:genomgang_id>/stang")
@login_required
def close(code: str, genomgang_id: int) -> Response:
    unit = unit_with(code, Perm.PERFORM_GENOMGANG)
    genomgang = _genomgang(unit, genomgang_id)
    back = url_for("genomgang.detail", code=unit.code, genomgang_id=genomgang.id)
    return form_action(lambda db: svc.close(db, acting_user(), genomgang), on_error=_again(code, genomgang_id),
                       then=back, done="Genomgången är stängd. Den kan inte längre ändras.",
                       confirm=Confirm(title=f"Stäng genomgången från {genomgang.planned_on.isoformat()}?",
                                       consequences=("En stängd genomgång kan inte ändras: inga fler resultat eller "
                                                     "återkopplingar kan registreras i den.",
                                                     "Genomgången räknas som genomförd i årets plan och i nämndens sammanfattning."),
                                       button="Ja, stäng genomgången", back=back))


# --- the work list and one case -------------------------------------------------------------------


@bp.get("/enheter/<code>/genomgangar/<int:genomgang_id>/arenden")
@login_required
def work(code: str, genomgang_id: int) -> Response:
    unit = unit_or_404(code)
    genomgang = _genomgang(unit, genomgang_id)
    if not genomgang.is_started:
        abort(404)
    db = get_session()
    handlaggare = request.args.get("handlaggare") or None
    team = request.args.get("grupp") or None
    status = request.args.get("status") or None
    page = Page.of(svc.work_count(db, genomgang, handlaggare=handlaggare, team=team, status=status), svc.PAGE_SIZE)
    rows = svc.work_list(db, genomgang, handlaggare=handlaggare, team=team, status=status, page=page.number)
    prog = svc.progress(db, genomgang)
    me = acting_user()
    may_record = genomgang.is_started and not genomgang.is_closed and me.id in {u.id for u in genomgang.participants}
    remaining = svc.work_count(db, genomgang, handlaggare=handlaggare, team=team, status="kvar") if may_record else 0
    audit.record_view(db, me, "genomgang.cases_view", object_type="genomgang", object_id=genomgang.id, unit=unit)
    html = render_template(
        "genomgang/work.html", unit=unit, genomgang=genomgang, rows=rows, total=page.total, page=page.number,
        pages=page.pages, prog=prog, teams=svc.teams_in(db, genomgang), handlaggare=handlaggare,
        team=team, status=status, results=svc.RESULT_LABELS, labels=svc.STATE_LABELS, remaining=remaining,
        selection=_selection_label({key: label for key, label, *_ in prog.per_handlaggare}, handlaggare, team),
    )
    return Response(html)


def _selection_label(names: dict[str, str], handlaggare: str | None, team: str | None) -> str:
    """The work list's selection in words: "Anna Andersson (ANAN) i Grupp 1", "Grupp 1", "hela listan"."""
    parts = [names.get(handlaggare, handlaggare) if handlaggare else None, team]
    return " i ".join(p for p in parts if p) or "hela listan"


@bp.post("/enheter/<code>/genomgangar/<int:genomgang_id>/arenden/utan-anmarkning")
@login_required
def record_remaining(code: str, genomgang_id: int) -> Response:
    """”Utan anmärkning” for every case left in the work list's selection, after a confirmation
    that names how many and which selection."""
    unit = unit_with(code, Perm.PERFORM_GENOMGANG)
    genomgang = _genomgang(unit, genomgang_id)
    if not genomgang.is_started:
        abort(404)
    handlaggare = request.form.get("handlaggare") or None
    team = request.form.get("grupp") or None
    raw = request.form.get("antal", "")
    expected = int(raw) if raw.isdigit() and len(raw) < 10 else None
    back = url_for("genomgang.work", code=unit.code, genomgang_id=genomgang.id, handlaggare=handlaggare, grupp=team)
    names = {handlaggare: svc.handlaggare_label(get_session(), genomgang, handlaggare)} if handlaggare else {}
    selection = _selection_label(names, handlaggare, team)
    n = expected or 0

    def record(db: Session) -> int:
        if expected is None:
            raise ValidationError("Antalet ärenden saknas i formuläret. Öppna arbetslistan igen och försök på nytt.")
        return svc.record_remaining(db, acting_user(), genomgang, handlaggare=handlaggare, team=team, expected=expected)

    return form_action(
        record,
        on_error=back_to(back), then=back,
        done=lambda done: f"{count(done, 'ärende', 'ärenden')} i {selection} har fått resultatet ”Utan anmärkning”.",
        confirm=Confirm(
            title=f"Registrera ”Utan anmärkning” för {count(n, 'ärende', 'ärenden')}?",
            consequences=(f"{count(n, 'ärende', 'ärenden')} utan resultat i {selection} får resultatet "
                          "”Utan anmärkning”, registrerat av dig.",
                          "Gör det bara för ärenden som ni har gått igenom. Ärenden med brist registrerar du ett i taget.",
                          "Ett enskilt resultat kan ändras så länge genomgången är öppen."),
            button=f"Ja, registrera {count(n, 'ärende', 'ärenden')} utan anmärkning", back=back),
    )


def _render_case(unit: Unit, genomgang: Genomgang, case_id: int, error: ValidationError | None = None,
                 status: int = 200, audit_view: bool = False) -> Response:
    db = get_session()
    sc = svc.snapshot_case(db, genomgang, case_id)
    if sc is None:
        abort(404)
    if audit_view:
        audit.record_view(db, acting_user(), "genomgang.case_view", object_type="case", object_id=sc.case_ref,
                          unit=unit)
    result = svc.result_for(db, genomgang, case_id)
    brister = {b.area_key: b for b in svc.brister_of(db, result)}
    me = acting_user()
    html = render_template(
        "genomgang/case.html", unit=unit, genomgang=genomgang, sc=sc, result=result, brister=brister, t=template_of(genomgang.template_version),
        may_edit=not genomgang.is_closed and me.id in {u.id for u in genomgang.participants}, results=svc.RESULT_LABELS,
        error=error, form=request.form if error else None, handlaggare=request.values.get("handlaggare") or "",
    )
    return Response(html, status=status)


@bp.get("/enheter/<code>/genomgangar/<int:genomgang_id>/arenden/<int:case_id>")
@login_required
def case_form(code: str, genomgang_id: int, case_id: int) -> Response:
    unit = unit_or_404(code)
    genomgang = _genomgang(unit, genomgang_id)
    if not genomgang.is_started:
        abort(404)
    return _render_case(unit, genomgang, case_id, audit_view=True)


@bp.post("/enheter/<code>/genomgangar/<int:genomgang_id>/arenden/<int:case_id>")
@login_required
def record(code: str, genomgang_id: int, case_id: int) -> Response:
    unit = unit_with(code, Perm.PERFORM_GENOMGANG)
    genomgang = _genomgang(unit, genomgang_id)
    if not genomgang.is_started:
        abort(404)
    handlaggare = request.form.get("handlaggare") or None

    def save(db: Session) -> tuple[str, int | None]:
        """Record the result; then the case reference and the next case without one."""
        svc.record_result(db, acting_user(), genomgang, case_id, request.form.get("result", ""),
                          svc.areas_from_form(template_of(genomgang.template_version), request.form))
        sc = svc.snapshot_case(db, genomgang, case_id)
        ref = sc.case_ref if sc else ""
        return ref, svc.next_open_case(db, genomgang, ref, handlaggare)

    def then(saved: tuple[str, int | None]) -> str:
        if saved[1] is not None:
            return url_for("genomgang.case_form", code=unit.code, genomgang_id=genomgang.id, case_id=saved[1],
                           handlaggare=handlaggare)
        return url_for("genomgang.work", code=unit.code, genomgang_id=genomgang.id, handlaggare=handlaggare)

    return form_action(save, then=then, done=lambda saved: f"Resultatet för {saved[0]} är sparat.",
                       on_error=page_again(lambda err, status: _render_case(
                           unit_or_404(code), _genomgang(unit_or_404(code), genomgang_id), case_id, err, status)))


# --- the handläggare's page -----------------------------------------------------------------------


def feedback_section(db: Session, user: User) -> tuple[str, dict[str, Any]] | None:
    """The genomgångar on the handläggare's page of återkoppling: their own cases only."""
    rows = svc.for_handlaggare(db, user)
    return ("genomgang/_my_feedback.html", {"rows": rows}) if rows else None


# --- the unit page --------------------------------------------------------------------------------


def unit_section(db: Session, user: User, unit: Unit) -> tuple[str, dict[str, Any]] | None:
    if not can(user, Perm.VIEW_GENOMGANGAR, unit):
        return None
    today = local_today()
    rows = svc.genomgangar_in_year(db, unit, today.year)
    return "genomgang/_unit_section.html", {
        "year": today.year, "rows": rows, "a": svc.assess_unit_year(db, unit, today.year),
        "months": svc.stickprov_months(db, unit, today.year, today, late_after_months(current_app.config)), "labels": svc.STATE_LABELS,
        "label": period_label, "counts": svc.progress_counts(db, [genomgang.id for genomgang in rows if genomgang.is_started]),
    }

