"""Pages: Mina granskningar, the checklist form, återkoppling, the month's overview, brister
and åtgärder."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.checklists import services as checklists
from kontroll.checklists.model import ANSWER_LABELS
from kontroll.core import audit, hooks
from kontroll.core.errors import ValidationError
from kontroll.core.models import Role, RoleAssignment, Unit, User
from kontroll.core.permissions import (
    Job,
    Perm,
    PermissionDenied,
    all_roles,
    can,
    can_anywhere,
    job_holders_clause,
    may_hold,
    units_where,
)
from kontroll.core.web import (
    acting_user,
    current_user,
    flash,
    form_id,
    local_today,
    login_required,
    require_perm,
    unit_or_404,
)
from kontroll.db import get_session
from kontroll.reviews import services as svc
from kontroll.reviews.models import Atgard, Review
from kontroll.sampling.models import DrawnCase
from kontroll.core.periods import Period, late_after_months, period_label

bp = Blueprint("reviews", __name__)


def _template():
    return checklists.stickprov_template(checklists.checklists_directory(current_app.config),
                                          current_app.config.get("STICKPROV_TEMPLATE"))








@bp.app_template_global()
def open_review_count() -> int:
    user = current_user()
    return svc.open_count(get_session(), user) if user else 0


@bp.app_template_global()
def feedback_count() -> int:
    user = current_user()
    if user is None or not can_anywhere(user, Perm.RECEIVE_FEEDBACK):
        return 0
    return len(svc.feedback_for_handlaggare(get_session(), user))


@bp.app_template_global()
def start_page_flags() -> dict[str, Any]:
    """What the start page must say loudly: overdue åtgärder (for the sektionschef of the
    unit and for their owner) and templates past revideras_senast (for sektionschef and
    systemadministratör)."""
    user = current_user()
    if user is None:
        return {"atgarder": [], "templates": []}
    db = get_session()
    today = local_today()
    atgarder = []
    for unit in units_where(db, user, Perm.MANAGE_ATGARDER):
        atgarder += [(unit, a) for a in svc.overdue_atgarder(db, unit, today)]
    seen = {a.id for _, a in atgarder}
    for unit in db.scalars(select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.code)):
        atgarder += [(unit, a) for a in svc.overdue_atgarder(db, unit, today) if a.owner_id == user.id and a.id not in seen]
    templates = []
    if {Role.SEKTIONSCHEF, Role.SYSTEMADMINISTRATOR} & all_roles(user):
        templates = checklists.overdue_templates(current_app.config, today)
    return {"atgarder": atgarder, "templates": templates}


# --- the reviewer ---------------------------------------------------------------------------


@bp.get("/granskningar")
@login_required
def mine() -> str:
    db = get_session()
    cases = svc.my_cases(db, acting_user())
    if cases:
        audit.record_view(db, acting_user(), "review.list_view", object_type="user", object_id=acting_user().id,
                          unit=None)
    problem = None
    if any(c.review is None for c in cases):
        try:
            checklists.check_unchanged(db, _template())
        except ValidationError as err:
            problem = err.message
    return render_template("reviews/mine.html", cases=cases, labels=svc.STATE_LABELS, label=period_label,
                           problem=problem)


@bp.route("/granskningar/arende/<int:drawn_case_id>", methods=["GET", "POST"])
@login_required
def start(drawn_case_id: int) -> Response:
    """Open the review of a drawn case; the first POST creates it and freezes the template."""
    db = get_session()
    drawn_case = db.get(DrawnCase, drawn_case_id)
    if drawn_case is None:
        abort(404)
    me = acting_user()
    current = drawn_case.current_assignment
    if current is not None:
        review = svc.review_for_assignment(db, current)
        if review is not None and svc.may_view_review(me, review):
            return redirect(url_for("reviews.review", review_id=review.id))
    if not svc.is_current_reviewer(me, drawn_case):
        if can(me, Perm.VIEW_REVIEWS, drawn_case.draw.unit_id):
            raise PermissionDenied("Bara den utsedda granskaren kan granska ärendet.")
        abort(404)
    if request.method == "GET":
        # no state change on GET: the review (and the frozen template version) is created
        # when the reviewer presses the button; only the view itself is logged
        audit.record_view(db, me, "case.view", object_type="case", object_id=drawn_case.case_ref,
                          unit=drawn_case.draw.unit_id)
        return Response(render_template("reviews/start.html", drawn_case=drawn_case, label=period_label))
    try:
        review = svc.open_review(db, me, drawn_case, _template())
    except ValidationError as err:
        db.rollback()
        flash(err.message, "error")
        return redirect(url_for("reviews.mine"))
    db.commit()
    return redirect(url_for("reviews.review", review_id=review.id))


def _load_review(review_id: int) -> Review:
    review = get_session().get(Review, review_id)
    if review is None:
        abort(404)
    if not svc.may_view_review(acting_user(), review):
        abort(404)
    return review


def _render_review(review: Review, answers: svc.Answers | None = None, error: ValidationError | None = None,
                   status: int = 200) -> Response:
    me = acting_user()
    template = checklists.template_of(review.template_version)
    editable = not review.is_signed and svc.is_current_reviewer(me, review.drawn_case) and \
        review.drawn_case.current_assignment.id == review.assignment_id
    html = render_template(
        "reviews/review.html", review=review, t=template, answers=answers if answers is not None else svc.answers_of(review),
        editable=editable, error=error, item_errors=getattr(error, "item_errors", {}), ANSWER_LABELS=ANSWER_LABELS,
        labels=svc.STATE_LABELS, label=period_label, methods=svc.FEEDBACK_METHODS,
        can_feedback=review.is_signed and review.reviewer_id == me.id, form=request.form if error else {},
        today=local_today(),
    )
    return Response(html, status=status)


@bp.get("/granskningar/<int:review_id>")
@login_required
def review(review_id: int) -> Response:
    loaded = _load_review(review_id)
    audit.record_view(get_session(), acting_user(), "review.view", object_type="review", object_id=loaded.id,
                      unit=loaded.drawn_case.draw.unit_id)
    return _render_review(loaded)


@bp.post("/granskningar/<int:review_id>")
@login_required
def answer(review_id: int) -> Response:
    db = get_session()
    review = _load_review(review_id)
    template = checklists.template_of(review.template_version)
    answers = svc.answers_from_form(template, request.form)
    signing = request.form.get("action") == "klarmarkera"
    try:
        if signing:
            svc.sign(db, acting_user(), review, answers)
        else:
            svc.save_draft(db, acting_user(), review, answers)
    except ValidationError as err:
        db.rollback()
        return _render_review(_load_review(review_id), answers, err, 422)
    db.commit()
    if signing:
        n = len(review.brister)
        flash(f"Granskningen av {review.drawn_case.case_ref} är klarmarkerad. "
              + (f"{n} {'brist' if n == 1 else 'brister'} registrerades." if n else "Inga brister."), "success")
    else:
        flash("Utkastet är sparat. Du kan fortsätta senare.", "success")
    return redirect(url_for("reviews.review", review_id=review.id))


@bp.post("/granskningar/<int:review_id>/aterkoppling")
@login_required
def feedback(review_id: int) -> Response:
    db = get_session()
    review = _load_review(review_id)
    try:
        svc.record_feedback(db, acting_user(), review, request.form.get("given_on", ""), request.form.get("method", ""),
                            request.form.get("note", ""), today=local_today())
    except ValidationError as err:
        db.rollback()
        return _render_review(_load_review(review_id), error=err, status=422)
    db.commit()
    flash("Återkopplingen är registrerad.", "success")
    return redirect(url_for("reviews.review", review_id=review.id) + "#aterkoppling")


# --- the handläggare ----------------------------------------------------------------------


@bp.get("/aterkoppling")
@login_required
def my_feedback() -> str:
    if not can_anywhere(acting_user(), Perm.RECEIVE_FEEDBACK):
        raise PermissionDenied("Sidan är för handläggare: den visar återkoppling på dina egna ärenden.")
    reviews = svc.feedback_for_handlaggare(get_session(), acting_user())
    if reviews:
        audit.record_view(get_session(), acting_user(), "feedback.view", object_type="user",
                          object_id=acting_user().id, unit=None)
    return render_template("reviews/my_feedback.html", reviews=reviews, methods=svc.FEEDBACK_METHODS,
                           label=period_label)


# --- the unit -----------------------------------------------------------------------------


@bp.get("/enheter/<code>/granskningar")
@login_required
def overview(code: str) -> str:
    unit = unit_or_404(code)
    require_perm(Perm.VIEW_REVIEWS, unit)
    today = local_today()
    try:
        shown = Period.parse(request.args.get("period") or Period.of(today))
    except ValidationError:
        shown = Period.of(today)
    period = str(shown)
    ov = svc.month_overview(get_session(), unit, period, today, late_after_months(current_app.config))
    if ov.draw is not None:
        audit.record_view(get_session(), acting_user(), "review.overview_view", object_type="period",
                          object_id=period, unit=unit)
    return render_template("reviews/overview.html", unit=unit, ov=ov, period=period, label=period_label,
                           labels=svc.STATE_LABELS, prev=str(shown.previous()),
                           nxt=str(shown.next()) if shown.next() <= Period.of(today) else None)


@bp.get("/enheter/<code>/brister")
@login_required
def brister(code: str) -> Response:
    return _render_brister(unit_or_404(code))


def _render_brister(unit: Unit, error: ValidationError | None = None, status: int = 200) -> Response:
    require_perm(Perm.VIEW_REVIEWS, unit)
    db = get_session()
    area = request.args.get("omrade") or None
    without = request.args.get("utan_atgard") == "1"
    rows = svc.brister_for_unit(db, unit, area, without)
    if rows and request.method == "GET":
        audit.record_view(db, acting_user(), "brist.list_view", object_type="unit", object_id=unit.id, unit=unit)
    can_manage = can(acting_user(), Perm.MANAGE_ATGARDER, unit)
    owners = []
    if can_manage:
        owners = list(db.scalars(
            select(User).join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(job_holders_clause(Job.ATGARD_OWNER, unit)).distinct().order_by(User.full_name)
        ))
    html = render_template("reviews/brister.html", unit=unit, rows=rows, areas=svc.areas_in_unit(db, unit), area=area,
                           without=without, can_manage=can_manage, owners=owners, error=error,
                           form=request.form if error else {}, ANSWER_LABELS=ANSWER_LABELS,
                           selected=request.form.getlist("brister") if error else [])
    return Response(html, status=status)


@bp.post("/enheter/<code>/atgarder")
@login_required
def atgard_create(code: str) -> Response:
    unit = unit_or_404(code)
    require_perm(Perm.MANAGE_ATGARDER, unit)
    db = get_session()
    try:
        ids = [i for i in map(form_id, request.form.getlist("brister")) if i is not None]
        raw_owner = request.form.get("owner", "")
        owner = db.get(User, owner_id) if (owner_id := form_id(raw_owner)) is not None else None
        atgard = svc.open_atgard(db, acting_user(), unit, ids, request.form.get("description", ""), owner,
                                 request.form.get("due_date", ""), today=local_today())
    except ValidationError as err:
        db.rollback()
        return _render_brister(unit_or_404(code), err, 422)
    db.commit()
    flash("Åtgärden är öppnad.", "success")
    return redirect(url_for("reviews.atgard_detail", code=unit.code, atgard_id=atgard.id))


@bp.get("/enheter/<code>/atgarder")
@login_required
def atgarder(code: str) -> str:
    unit = unit_or_404(code)
    require_perm(Perm.VIEW_REVIEWS, unit)
    db = get_session()
    state = request.args.get("status") or None
    area = request.args.get("omrade") or None
    overdue = request.args.get("forsenade") == "1"
    today = local_today()
    rows = svc.atgarder_for_unit(db, unit, state=state, area=area, overdue=overdue, today=today)
    return render_template("reviews/atgarder.html", unit=unit, rows=rows, areas=svc.areas_in_unit(db, unit),
                           state=state, area=area, overdue=overdue, today=today, labels=svc.ATGARD_LABELS)


def _atgard(unit: Unit, atgard_id: int) -> Atgard:
    atgard = get_session().get(Atgard, atgard_id)
    if atgard is None or atgard.unit_id != unit.id:
        abort(404)
    return atgard


def _may_see_atgard(user: User, atgard: Atgard) -> bool:
    return can(user, Perm.VIEW_REVIEWS, atgard.unit_id) or atgard.owner_id == user.id


def _render_atgard(unit: Unit, atgard: Atgard, error: ValidationError | None = None, status: int = 200) -> Response:
    me = acting_user()
    if not _may_see_atgard(me, atgard):
        abort(404)
    db = get_session()
    confirmable = []
    if can(me, Perm.VERIFY_ATGARD, unit) and atgard.state == "genomförd":
        confirmable = [r for r in db.scalars(
            select(Review).where(Review.unit_id == unit.id, Review.state == "klar", Review.signed_dt >= atgard.created_dt)
            .order_by(Review.signed_dt.desc())
        )]
    html = render_template(
        "reviews/atgard.html", unit=unit, a=atgard, labels=svc.ATGARD_LABELS, error=error, today=local_today(),
        form=request.form if error else {}, confirmable=confirmable,
        can_complete=atgard.state == "öppen" and (me.id == atgard.owner_id or can(me, Perm.MANAGE_ATGARDER, unit)),
        can_verify=atgard.state == "genomförd" and may_hold(me, Job.ATGARD_VERIFIER, unit) and me.id != atgard.owner_id,
    )
    return Response(html, status=status)


@bp.get("/enheter/<code>/atgarder/<int:atgard_id>")
@login_required
def atgard_detail(code: str, atgard_id: int) -> Response:
    unit = unit_or_404(code)
    atgard = _atgard(unit, atgard_id)
    if not _may_see_atgard(acting_user(), atgard):
        abort(404)
    audit.record_view(get_session(), acting_user(), "atgard.view", object_type="atgard", object_id=atgard.id,
                      unit=unit)
    return _render_atgard(unit, _atgard(unit, atgard_id))


@bp.post("/enheter/<code>/atgarder/<int:atgard_id>/genomford")
@login_required
def atgard_done(code: str, atgard_id: int) -> Response:
    unit = unit_or_404(code)
    db = get_session()
    atgard = _atgard(unit, atgard_id)
    if not _may_see_atgard(acting_user(), atgard):
        abort(404)
    try:
        svc.complete_atgard(db, acting_user(), atgard, request.form.get("done_note", ""))
    except ValidationError as err:
        db.rollback()
        return _render_atgard(unit, _atgard(unit, atgard_id), err, 422)
    db.commit()
    flash("Åtgärden är markerad som genomförd.", "success")
    return redirect(url_for("reviews.atgard_detail", code=unit.code, atgard_id=atgard.id))


@bp.post("/enheter/<code>/atgarder/<int:atgard_id>/verifiera")
@login_required
def atgard_verify(code: str, atgard_id: int) -> Response:
    unit = unit_or_404(code)
    db = get_session()
    atgard = _atgard(unit, atgard_id)
    if not _may_see_atgard(acting_user(), atgard):
        abort(404)
    try:
        raw = request.form.get("confirming_review", "")
        confirming = db.get(Review, review_id) if (review_id := form_id(raw)) is not None else None
        if raw and confirming is None:
            raise ValidationError("Den valda granskningen finns inte.", "confirming_review")
        svc.verify_atgard(db, acting_user(), atgard, request.form.get("verified_note", ""), confirming)
    except ValidationError as err:
        db.rollback()
        return _render_atgard(unit, _atgard(unit, atgard_id), err, 422)
    db.commit()
    flash("Åtgärden är verifierad.", "success")
    return redirect(url_for("reviews.atgard_detail", code=unit.code, atgard_id=atgard.id))


def _unit_section(db: Session, user: User, unit: Unit) -> tuple[str, dict[str, Any]] | None:
    if not can(user, Perm.VIEW_REVIEWS, unit):
        return None
    today = local_today()
    period = str(Period.of(today))
    ov = svc.month_overview(db, unit, period, today, late_after_months(current_app.config))
    previous = svc.month_overview(db, unit, str(Period.of(today).previous()), today,
                                  late_after_months(current_app.config))
    return "reviews/_unit_section.html", {
        "period_label": period_label(period),
        "done": sum(1 for r in ov.rows if r.state == "klar"),
        "total": len(ov.rows),
        "late": sum(1 for r in ov.rows + previous.rows if r.state == "försenad"),
        "overdue": svc.overdue_atgarder(db, unit, today),
    }


hooks.unit_sections.append(_unit_section)
