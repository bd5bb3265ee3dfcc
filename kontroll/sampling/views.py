"""Pages: the month's draw, a draw with its reviewers, verification, a case's history."""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.cases.parsing import FIELD_LABELS
from kontroll.cases.services import latest_snapshot
from kontroll.core import audit, swedish
from kontroll.core.actions import Confirm, back_to, form_action, page_again, unit_with
from kontroll.core.errors import ValidationError
from kontroll.core.models import Unit, User
from kontroll.core.periods import Period, period_label
from kontroll.core.permissions import Perm, can, may_draw, units_where
from kontroll.core.swedish import count
from kontroll.core.timezone import local_date
from kontroll.core.web import (
    acting_user,
    form_id,
    login_required,
    require_perm,
    unit_or_404,
)
from kontroll.db import get_session, utcnow
from kontroll.privacy.models import redaction_sentences
from kontroll.sampling import services as svc
from kontroll.sampling.models import Draw

bp = Blueprint("sampling", __name__, url_prefix="/enheter/<code>")


def _draw(unit: Unit, draw_id: int) -> Draw:
    draw = svc.load_draw(get_session(), draw_id)
    if draw is None or draw.unit_id != unit.id:
        abort(404)
    return draw


@bp.get("/stickprov")
@login_required
def draw_page(code: str) -> str:
    unit = unit_or_404(code)
    if not (can(acting_user(), Perm.VIEW_DRAWS, unit) or may_draw(acting_user(), unit)):
        require_perm(Perm.VIEW_DRAWS, unit)
    db = get_session()
    period = str(Period.of(utcnow()))
    state = svc.draw_page_state(db, unit, period)
    if state.diff is not None:  # the differences against last month's list name cases
        audit.record_view(db, acting_user(), "draw.page_view", object_type="unit", object_id=unit.id, unit=unit)
    return render_template(
        "sampling/draw_page.html", unit=unit, s=state, period_label=period_label(period),
        may_draw=may_draw(acting_user(), unit), draws=svc.draws_for_unit(db, unit), label=period_label,
    )


@bp.post("/stickprov")
@login_required
def draw_now(code: str) -> Response:
    unit = unit_or_404(code)
    period = str(Period.of(utcnow()))
    back = url_for("sampling.draw_page", code=unit.code)
    snapshot = latest_snapshot(get_session(), unit)
    source = (f"ärendelistan importerad {local_date(snapshot.imported_dt).isoformat()} ({count(snapshot.row_count, 'ärende', 'ärenden')})"
              if snapshot else "den senaste ärendelistan")
    return form_action(
        lambda db: svc.run_draw(db, acting_user(), unit, period),
        on_error=back_to(back),
        done=lambda draw: f"Stickprovet för {period_label(period)} är draget: {len(draw.cases)} ärenden.",
        then=lambda draw: url_for("sampling.draw_detail", code=unit.code, draw_id=draw.id),
        confirm=Confirm(
            title=f"Dra stickprovet för {period_label(period)} i {unit.code}?",
            consequences=(f"kontroll väljer slumpmässigt {count(unit.sample_size, 'ärende', 'ärenden')} ur {source}.",
                          "Stickprovet kan inte ändras efteråt. Ett nytt stickprov för månaden kräver en omdragning "
                          "med skriftlig motivering, och det första syns kvar.",
                          "Du som drar stickprovet kan inte granska något av ärendena i det."),
            button="Ja, dra stickprovet", back=back),
    )


def _render_draw(unit: Unit, draw: Draw, error: ValidationError | None = None, status: int = 200,
                 error_case: int | None = None) -> Response:
    db = get_session()
    me = acting_user()
    can_assign = can(me, Perm.ASSIGN_REVIEWER, unit) and not draw.is_voided
    options = {dc.id: svc.candidates(db, dc) for dc in draw.cases} if can_assign else {}
    replaced_by = db.scalar(select(Draw).where(Draw.replaces_id == draw.id)) if draw.is_voided else None
    html = render_template(
        "sampling/draw_detail.html", unit=unit, draw=draw, can_assign=can_assign, options=options,
        may_draw=may_draw(me, unit), can_verify=can(me, Perm.VERIFY_DRAW, unit), error=error,
        error_case=error_case, form=request.form if error else {}, label=period_label,
        allocation=json.loads(draw.allocation) if draw.allocation else None,
        excluded=json.loads(draw.excluded_refs), replaced_by=replaced_by,
        replaces=db.get(Draw, draw.replaces_id) if draw.replaces_id else None,
        redactions=redaction_sentences(db, draw.snapshot_id),
    )
    return Response(html, status=status)


@bp.get("/stickprov/<int:draw_id>")
@login_required
def draw_detail(code: str, draw_id: int) -> Response:
    unit = unit_with(code, Perm.VIEW_DRAWS)
    draw = _draw(unit, draw_id)
    audit.record_view(get_session(), acting_user(), "draw.view", object_type="draw", object_id=draw.id, unit=unit)
    return _render_draw(unit, draw)


@bp.post("/stickprov/<int:draw_id>/omdragning")
@login_required
def redraw(code: str, draw_id: int) -> Response:
    unit = unit_or_404(code)
    draw = _draw(unit, draw_id)

    def run(db: Session) -> Draw:
        if draw.is_voided:
            raise ValidationError("Det här stickprovet är redan makulerat.")
        return svc.run_draw(db, acting_user(), unit, draw.period, redraw_reason=request.form.get("reason", ""))

    back = url_for("sampling.draw_detail", code=unit.code, draw_id=draw_id)
    return form_action(
        run,
        on_error=page_again(lambda err, status: _render_draw(unit, _draw(unit, draw_id), err, status)),
        done="Stickprovet är draget om. Det tidigare är makulerat med din motivering.",
        then=lambda new: url_for("sampling.draw_detail", code=unit.code, draw_id=new.id),
        confirm=Confirm(
            title=f"Dra om stickprovet för {period_label(draw.period)}?",
            consequences=("Det nuvarande stickprovet makuleras med din motivering. Det syns kvar, med motiveringen, "
                          "för revisorn och i nämndens sammanfattning.",
                          "Granskare som utsetts i det nuvarande stickprovet gäller inte längre; nya ärenden dras.",
                          f"Motivering: {' '.join(request.form.get('reason', '').split())}"),
            button="Ja, dra om stickprovet", back=back),
    )


@bp.post("/stickprov/<int:draw_id>/arenden/<int:case_id>/granskare")
@login_required
def assign(code: str, draw_id: int, case_id: int) -> Response:
    unit = unit_with(code, Perm.ASSIGN_REVIEWER)
    draw = _draw(unit, draw_id)
    drawn_case = next((c for c in draw.cases if c.id == case_id), None)
    if drawn_case is None:
        abort(404)

    def run(db: Session) -> User:
        reviewer_id = form_id(request.form.get("reviewer", ""))
        reviewer = db.get(User, reviewer_id) if reviewer_id is not None else None
        if reviewer is None:
            raise ValidationError("Välj en granskare.", "reviewer")
        svc.assign_reviewer(db, acting_user(), drawn_case, reviewer, override_reason=request.form.get("override_reason"))
        return reviewer

    return form_action(
        run,
        on_error=page_again(lambda err, status: _render_draw(unit, _draw(unit, draw_id), err, status, error_case=case_id)),
        done=lambda reviewer: f"{reviewer.full_name} granskar {drawn_case.case_ref}.",
        then=url_for("sampling.draw_detail", code=unit.code, draw_id=draw.id),
    )


@bp.get("/stickprov/<int:draw_id>/verifiera")
@login_required
def verify(code: str, draw_id: int) -> str:
    unit = unit_with(code, Perm.VERIFY_DRAW)
    db = get_session()
    draw = _draw(unit, draw_id)
    result = svc.verify_draw(db, draw)
    audit.record(db, acting_user(), "draw.verify", object_type="draw", object_id=draw.id, unit=unit,
                 details={"ok": result.ok})
    db.commit()
    return render_template("sampling/verify.html", unit=unit, draw=draw, result=result, label=period_label,
                           excluded=json.loads(draw.excluded_refs), redactions=redaction_sentences(db, draw.snapshot_id))


@bp.get("/arende")
@login_required
def case_page(code: str) -> str | Response:
    """A case's page. The case reference travels in the query string (``?ref=…``, percent-
    encoded by url_for), never as a path segment: a reference such as ``../../admin`` cannot
    make a link that leads elsewhere."""
    unit = unit_with(code, Perm.VIEW_CASE)
    case_ref = request.args.get("ref", "")
    if not case_ref or len(case_ref) > 200:
        abort(404)
    db = get_session()
    case = svc.case_in_unit(db, unit, case_ref)
    history = svc.case_history(db, unit, case_ref)
    if case is None and not history:
        abort(404)
    audit.record_view(db, acting_user(), "case.view", object_type="case", object_id=case_ref, unit=unit)
    return render_template("sampling/case.html", unit=unit, case_ref=case_ref, case=case, history=history,
                           label=period_label, labels=FIELD_LABELS)


@bp.get("/arenden/<path:case_ref>")
@login_required
def case_page_by_path(code: str, case_ref: str) -> Response:
    """Old addresses of case pages (bookmarks) lead to the new one."""
    unit = unit_with(code, Perm.VIEW_CASE)
    return redirect(url_for("sampling.case_page", code=unit.code, ref=case_ref))


def unit_section(db: Session, user: User, unit: Unit) -> tuple[str, dict[str, Any]] | None:
    if not (can(user, Perm.VIEW_DRAWS, unit) or may_draw(user, unit)):
        return None
    period = str(Period.of(utcnow()))
    return "sampling/_unit_section.html", {
        "current": svc.valid_draw(db, unit, period),
        "period_label": period_label(period),
        "may_draw": may_draw(user, unit),
    }


def start_cards(db: Session, user: User) -> list[tuple[str, dict[str, Any]]]:
    """The card of those who draw a unit's stickprov or manage its åtgärder."""
    units = [(u, may_draw(user, u)) for u in units_where(db, user, Perm.VIEW_DRAWS)
             if may_draw(user, u) or can(user, Perm.MANAGE_ATGARDER, u)]
    if not units:
        return []
    draws = any(d for _u, d in units)
    tasks = [
        "drar månadens stickprov för din enhet" if draws else "",
        "utser granskare" if any(can(user, Perm.ASSIGN_REVIEWER, u) for u, _d in units) else "",
        "följer upp brister med åtgärder" if any(can(user, Perm.MANAGE_ATGARDER, u) for u, _d in units) else "",
    ]
    return [("sampling/_start_card.html", {"units": units, "draws": draws, "tasks": swedish.join(tasks)})]
